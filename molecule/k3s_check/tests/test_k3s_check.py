"""The K3s plays of site.yml in check mode (--check --diff) on fresh hosts with etcd up.

k3s-io/k3s-ansible issue 546: check mode crashing on a clean install. Here the K3s, local-path
and Spilo plays must finish without a failed or unreachable host, show the files they would
write (config.yaml with every etcd member, the systemd units, the manifests), never show the
join token, and leave the hosts as they were.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import scenario_servers

SERVERS = scenario_servers()
SCENARIO = Path(os.environ.get("MOLECULE_SCENARIO_DIRECTORY", "."))
PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", "."))
STATE = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
K3S_SERVERS = sorted(name for name, server in SERVERS.items() if "k3s_server" in server["services"])
K3S_AGENTS = sorted(name for name, server in SERVERS.items() if "k3s_agent" in server["services"])
ETCD_IPS = [server["ip"] for server in SERVERS.values() if "etcd" in server["services"]]


@pytest.fixture(scope="module")
def check_run():
    """Run the K3s plays in check mode once; the JSON callback's report and the elapsed time."""
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(STATE / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
    )
    command = [
        "ansible-playbook",
        f"--inventory={SCENARIO / 'servers.yaml'}",
        f"--extra-vars=@{SCENARIO / 'vars.yml'}",
        "--tags=k3s",
        "--check",
        "--diff",
        str(PROJECT / "site.yml"),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=PROJECT)
    # The JSON report is the first document on stdout (the timer callbacks print after it).
    start = result.stdout.find("{")
    assert start >= 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.JSONDecoder().raw_decode(result.stdout[start:])[0]
    return result, report


def task_results(report):
    """(task name, host, result) of every task of every play."""
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                yield task["task"]["name"], host, result


def shown_files(report):
    """{(host, name): after-text} of every file diff the run showed. In check mode a new file's
    diff names only its source: the template (name.j2 -> name), or the path for other files."""
    shown = {}
    for _task, host, result in task_results(report):
        entries = result.get("diff") or []
        entries = list(entries) if isinstance(entries, list) else [entries]
        for loop_result in result.get("results", []):
            more = loop_result.get("diff") or []
            entries += more if isinstance(more, list) else [more]
        for entry in entries:
            header = entry.get("before_header") or entry.get("after_header") or ""
            name = os.path.basename(header).removesuffix(".j2")
            if name:
                shown[(host, name)] = entry.get("after", "")
    return shown


def test_check_mode_finishes_without_error(check_run):
    result, report = check_run
    stats = report["stats"]
    assert result.returncode == 0, json.dumps(stats) + result.stderr[-2000:]
    assert sorted(stats) == sorted(SERVERS)
    for host, counts in stats.items():
        assert counts["failures"] == 0 and counts["unreachable"] == 0, (host, counts)
    failed = [(task, host, res.get("msg")) for task, host, res in task_results(report) if res.get("failed")]
    assert failed == []


def test_servers_show_their_config_with_every_etcd_member(check_run):
    shown = shown_files(check_run[1])
    for host in K3S_SERVERS:
        config = shown.get((host, "config.yaml"))
        assert config is not None, sorted(name for h, name in shown if h == host)
        assert "datastore-endpoint: " + ",".join(f"https://{ip}:2379" for ip in ETCD_IPS) in config
        assert "node-taint" not in config
        assert f"node-ip: {SERVERS[host]['ip']}" in config
        assert "token-file: " in config
        assert "secrets-encryption: true" in config


def test_units_would_be_written(check_run):
    shown = shown_files(check_run[1])
    for host in K3S_SERVERS:
        assert "ExecStart=/usr/local/bin/k3s server" in shown.get((host, "k3s.service"), "")
    for host in K3S_AGENTS:
        assert "ExecStart=/usr/local/bin/k3s agent" in shown.get((host, "k3s.service"), "")
        agent_config = shown.get((host, "config.yaml"), "")
        assert "server: https://" + SERVERS[K3S_SERVERS[0]]["ip"] + ":6443" in agent_config


def test_spilo_manifests_are_shown(check_run):
    shown = shown_files(check_run[1])
    statefulset = shown.get((K3S_SERVERS[0], "statefulset.yaml"), "")
    assert "kind: StatefulSet" in statefulset
    assert "local-path" in statefulset
    assert "kind: Service" in shown.get((K3S_SERVERS[0], "services.yaml"), "")


def test_no_secret_in_the_output(check_run):
    result = check_run[0]
    secrets = STATE / "secrets"
    assert secrets.is_dir()
    for secret in secrets.iterdir():
        value = secret.read_text().split()[0] if secret.read_text().strip() else ""
        if len(value) >= 8:
            assert value not in result.stdout, f"the value of {secret.name} is in the output"
            assert value not in result.stderr, f"the value of {secret.name} is in the output"


@pytest.mark.parametrize(
    "path", ["/usr/local/bin/k3s", "/etc/rancher/k3s/config.yaml", "/etc/systemd/system/k3s.service"]
)
def test_nothing_was_written(host, path, check_run):
    assert not host.file(path).exists


def test_etcd_still_serves(host):
    """The hosts' etcd (converged for real) is what the K3s servers would use."""
    if "etcd" not in SERVERS[host.backend.get_hostname()]["services"]:
        pytest.skip("not an etcd member")
    assert host.service("etcd").is_running
