"""`make bench`: measure the lab and the modules on this machine, in one run.

Figures: a fresh converge of the 3-node lab (hosts recreated first), the idempotent re-run and
its changed count, the converge that adds lab-4 (inventory/lab/servers-grown.yaml), and the
module times of gardenos.cluster.etcd_deleterange (10k and 100k keys, a 3-member etcd 3.5 on
loopback, as in the integration tests) and gardenos.cluster.patroni_check (the lab's 3 members).
Changed counts come from the stats of Ansible's JSON callback, never from the text output.
Writes bench/results.json and prints a table. Leaves the lab up with its 3 servers.
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from etcdlab import EtcdCluster, ModuleRunner, collections_root, etcd_35_bin_dir  # noqa: E402

LAB = REPO / "inventory" / "lab" / "servers.yaml"
LAB_GROWN = REPO / "inventory" / "lab" / "servers-grown.yaml"
ADDED = "lab-4"
RESULTS = REPO / "bench" / "results.json"


def log(message):
    print(f"[bench] {message}", flush=True)


def ansible_playbook(inventory, playbook, *extra):
    """Run a playbook with the JSON callback: (seconds, the callback's document). Fails loudly."""
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
    # ansible.cfg's timer callback prints after the JSON document: raw_decode below stops before it.
    command = ["ansible-playbook", "-i", str(inventory), *extra, str(playbook)]
    log(" ".join(command[1:]))
    start = time.monotonic()
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    try:
        document, _end = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{") :])
    except ValueError:
        document = None
    if proc.returncode != 0 or document is None:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"bench: {playbook.name} failed (rc {proc.returncode})")
    return seconds, document


def totals(document):
    """Sum the per-host stats of a JSON callback document."""
    keys = ("ok", "changed", "failures", "unreachable", "skipped")
    return {key: sum(host.get(key, 0) for host in document["stats"].values()) for key in keys}


def converge(inventory):
    seconds, document = ansible_playbook(inventory, REPO / "site.yml")
    return {"seconds": round(seconds, 1), "hosts": len(document["stats"]), **totals(document)}


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
    _seconds, document = ansible_playbook(
        "localhost,",
        REPO / "bench" / "patroni_check.yml",
        "--connection=local",
        f"--extra-vars=ansible_python_interpreter={sys.executable}",
    )
    task = document["plays"][0]["tasks"][0]
    duration = task["task"]["duration"]
    seconds = (parse_time(duration["end"]) - parse_time(duration["start"])).total_seconds()
    calls = len(task["hosts"]["localhost"]["results"])
    return {"seconds": round(seconds / calls, 3), "calls": calls}


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


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
