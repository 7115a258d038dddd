"""`make bench`: measure the lab and the modules on this machine, in one run.

Figures: a fresh converge of the 3-node lab (hosts recreated first), the idempotent re-run and
its changed count, the converge that adds lab-4 (inventory/lab/servers-grown.yaml), and the
module times of gardenos.cluster.etcd_deleterange (10k and 100k keys, a 3-member etcd 3.5 on
loopback, as in the integration tests) and gardenos.cluster.patroni_check (the lab's 3 members).
Playbooks run through ansible-runner's Python API: the counts come from its stats and the task
times from its events, never from the text output.
Writes bench/results.json and prints a table. Leaves the lab up with its 3 servers.
"""

import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import ansible_runner
from ansible_runner.exceptions import AnsibleRunnerException

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from etcdlab import EtcdCluster, ModuleRunner, collections_root, etcd_35_bin_dir  # noqa: E402

LAB = REPO / "inventory" / "lab" / "servers.yaml"
LAB_GROWN = REPO / "inventory" / "lab" / "servers-grown.yaml"
ADDED = "lab-4"
RESULTS = REPO / "bench" / "results.json"
ANSIBLE_CFG = REPO / "ansible.cfg"
PATRONI_CHECK_TASK = "Check the lab's Patroni cluster"  # the task of bench/patroni_check.yml
# The events of a host's task result, and the totals taken from ansible-runner's stats, which
# call the unreachable count "dark".
RESULT_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable")
TOTALS = {"ok": "ok", "changed": "changed", "failures": "failures", "unreachable": "dark", "skipped": "skipped"}


def log(message):
    print(f"[bench] {message}", flush=True)


class PlaybookRun(NamedTuple):
    seconds: float
    stats: dict  # ansible-runner's: {"ok": {host: count}, "changed": ..., "dark": ..., "processed": ...}
    results: list  # the event_data of every host's task result (RESULT_EVENTS), in order


def runner_env():
    """The environment ansible-runner adds to ours for ansible-playbook."""
    return {
        # Its relative paths (collections_path = ./.collections ...) are relative to the file,
        # whatever ansible-playbook's working directory.
        "ANSIBLE_CONFIG": str(ANSIBLE_CFG),
        "ANSIBLE_NOCOLOR": "1",
        # ansible-playbook from this interpreter's venv, the one ansible_runner is imported from.
        "PATH": os.pathsep.join(filter(None, (str(Path(sys.executable).parent), os.environ.get("PATH")))),
    }


def ansible_playbook(inventory, playbook, *extra):
    """Run a playbook through ansible-runner: a PlaybookRun. Fails loudly, naming the playbook and rc.

    inventory: a Path, or a host list such as "localhost,".
    """
    log(" ".join(["-i", str(inventory), *extra, str(playbook)]))
    if isinstance(inventory, Path):
        inventory_file, args = str(inventory), list(extra)
    else:
        # ansible-runner writes an inventory string that is no file into a file of its own, which
        # none of ansible.cfg's enabled inventory plugins parses: a host list goes on the command line.
        inventory_file, args = None, ["-i", inventory, *extra]
    # ansible-runner sets SIGINT and SIGTERM to cancel its run, and leaves them so: they are put back after.
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    with tempfile.TemporaryDirectory(prefix="gardenos-bench-runner-") as private_data_dir:
        start = time.monotonic()
        try:
            runner = ansible_runner.run(
                private_data_dir=private_data_dir,  # its artifacts (events, stdout), removed with the directory
                project_dir=str(REPO),  # ansible-playbook's working directory, as before ansible-runner
                playbook=str(playbook),
                inventory=inventory_file,
                cmdline=shlex.join(args) or None,
                envvars=runner_env(),
                suppress_env_files=True,
                # Ansible's own fact cache (memory, one run), not ansible-runner's jsonfile default.
                fact_cache_type="memory",
                quiet=True,
            )
        finally:
            for number, handler in handlers.items():
                if handler is not None:
                    signal.signal(number, handler)
        seconds = time.monotonic() - start
        stats = runner.stats
        if runner.rc != 0 or stats is None:
            sys.stderr.write(output_tail(runner))
            raise SystemExit(f"bench: {playbook.name} failed (rc {runner.rc}, {runner.status})")
        results = [event["event_data"] for event in runner.events if event.get("event") in RESULT_EVENTS]
    return PlaybookRun(seconds, stats, results)


def output_tail(runner, size=4000):
    """The end of a run's stdout and stderr (pexpect mode writes both to stdout)."""
    tail = ""
    for stream in ("stdout", "stderr"):
        try:
            with getattr(runner, stream) as handle:
                tail += handle.read()[-size:]
        except AnsibleRunnerException:
            pass
    return tail if tail.endswith("\n") or not tail else tail + "\n"


def totals(stats):
    """Sum ansible-runner's per-host stats."""
    return {key: sum(stats.get(name, {}).values()) for key, name in TOTALS.items()}


def converge(inventory):
    run = ansible_playbook(inventory, REPO / "site.yml")
    return {"seconds": round(run.seconds, 1), "hosts": len(run.stats["processed"]), **totals(run.stats)}


def task_timing(run, task, host="localhost"):
    """Seconds per call of a task on a host, from its result event: the mean over a loop's items."""
    for result in run.results:
        if result.get("task") == task and result.get("host") == host:
            calls = len(result.get("res", {}).get("results") or ()) or 1
            return {"seconds": round(result["duration"] / calls, 3), "calls": calls}
    raise SystemExit(f"bench: no result of the task {task!r} on {host}")


def lab_figures():
    log("recreating the lab hosts")
    ansible_playbook(LAB, REPO / "lab" / "down.yml")
    ansible_playbook(LAB, REPO / "lab" / "up.yml")
    figures = {"fresh_converge": converge(LAB), "rerun": converge(LAB)}
    figures["patroni_check_3_members"] = patroni_check_time()
    ansible_playbook(LAB_GROWN, REPO / "lab" / "up.yml", "--limit", ADDED)
    figures["add_node_converge"] = converge(LAB_GROWN)
    log(f"removing {ADDED} again")
    ansible_playbook(
        LAB_GROWN,
        REPO / "playbooks" / "remove_server.yml",
        "-e",
        f"server={ADDED}",
        "-e",
        f"confirm_remove={ADDED}",
    )
    subprocess.run(["podman", "rm", "--force", "--time", "5", ADDED], check=True, capture_output=True)
    return figures


def patroni_check_time():
    """Seconds a patroni_check task takes on the lab's 3 members: the mean of 5 calls in one task."""
    # The module runs on the controller; the lab inventory's connection vars (the SSH key path
    # built from inventory_dir) do not apply to localhost, so it gets an inventory of its own.
    run = ansible_playbook(
        "localhost,",
        REPO / "bench" / "patroni_check.yml",
        "--connection=local",
        f"--extra-vars=ansible_python_interpreter={sys.executable}",
    )
    return task_timing(run, PATRONI_CHECK_TASK)


def deleterange_figures():
    figures = {}
    with tempfile.TemporaryDirectory(prefix="gardenos-bench-") as workdir:
        cluster = EtcdCluster(Path(workdir) / "etcd", etcd_35_bin_dir(), size=3, label="bench")
        runner = ModuleRunner(collections_root(), workdir)
        try:
            cluster.start()
            for count in (10_000, 100_000):
                base = f"/bench-{count}/service/pg/"
                cluster.put_many(f"{base}key-{i:06d}" for i in range(count))
                result = runner("etcd_deleterange", dict(cluster.module_args(), key=base, prefix=True))
                if result["failed"] or result["deleted"] != count:
                    raise SystemExit(f"bench: etcd_deleterange of {count} keys: {result}")
                figures[f"etcd_deleterange_{count // 1000}k"] = {
                    "seconds": round(result["elapsed"], 3),
                    "keys": count,
                    "etcd": cluster.version,
                }
        finally:
            cluster.destroy()
    return figures


def ratio(numerator, denominator):
    return round(numerator / denominator, 3) if denominator else None


def main():
    started = datetime.now(UTC)
    figures = deleterange_figures()
    figures.update(lab_figures())
    fresh = figures["fresh_converge"]["seconds"]
    ratios = {
        "rerun_over_fresh": ratio(figures["rerun"]["seconds"], fresh),
        "add_node_over_fresh": ratio(figures["add_node_converge"]["seconds"], fresh),
        "deleterange_100k_over_10k": ratio(
            figures["etcd_deleterange_100k"]["seconds"], figures["etcd_deleterange_10k"]["seconds"]
        ),
    }
    results = {
        "measured_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()},
        "figures": figures,
        "ratios": ratios,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    rows = [
        ("fresh converge, 3-node lab", fresh, f"changed {figures['fresh_converge']['changed']}", ""),
        (
            "idempotent re-run",
            figures["rerun"]["seconds"],
            f"changed {figures['rerun']['changed']}",
            f"{ratios['rerun_over_fresh']}x fresh",
        ),
        (
            f"add-node converge ({ADDED})",
            figures["add_node_converge"]["seconds"],
            f"changed {figures['add_node_converge']['changed']}",
            f"{ratios['add_node_over_fresh']}x fresh",
        ),
        ("etcd_deleterange 10k keys", figures["etcd_deleterange_10k"]["seconds"], "module time", ""),
        (
            "etcd_deleterange 100k keys",
            figures["etcd_deleterange_100k"]["seconds"],
            "module time",
            f"{ratios['deleterange_100k_over_10k']}x 10k",
        ),
        ("patroni_check, 3 members", figures["patroni_check_3_members"]["seconds"], "a task, mean of 5", ""),
    ]
    print(f"\n{'measure':<32} {'seconds':>9}  {'':<24} ratio")
    for name, seconds, note, relative in rows:
        print(f"{name:<32} {seconds:>9.3f}  {note:<24} {relative}")
    print(f"\nwritten: {RESULTS.relative_to(REPO)}")
    if figures["rerun"]["changed"]:
        raise SystemExit(f"bench: the re-run changed {figures['rerun']['changed']} things; it must change none")


if __name__ == "__main__":
    main()
