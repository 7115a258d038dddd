"""bench/run.py drives its playbooks through ansible-runner: the totals of a tiny local playbook come from
the runner's stats and a task's time from its events, and a failing playbook stops the bench naming it."""

import importlib.util
import signal
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

OK_PLAYBOOK = """\
- name: A changed task and an ok one
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Change something
      ansible.builtin.command: "true"
      changed_when: true
    - name: Use a filter of the collection, found through ansible.cfg's relative collections_path
      ansible.builtin.assert:
        that: (passwords | gardenos.cluster.patroni_environment | length) == 4
        quiet: true
      vars:
        passwords: {superuser: a, replication: b, rewind: c, restapi: d}
      loop: [1, 2, 3]
"""

# The lab's servers without its group_vars (SSH settings): the servers plugin of the collection reads it.
SERVERS = """\
cluster:
  name: bench-test
  domain: bench.invalid
servers:
  node-1: {ip: 10.99.0.11, region: a, role: primary, services: [etcd, haproxy, patroni]}
  node-2: {ip: 10.99.0.12, region: b, role: worker, services: [etcd, patroni]}
  node-3: {ip: 10.99.0.13, region: b, role: worker, services: [etcd, patroni]}
"""

FAILING_PLAYBOOK = """\
- name: A failing task
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Fail
      ansible.builtin.fail:
        msg: failed on purpose
"""


def load_bench():
    spec = importlib.util.spec_from_file_location("gardenos_bench_run", REPO / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load_bench()


@pytest.fixture
def run_playbook(tmp_path, monkeypatch):
    """Runs a playbook text with bench's ansible_playbook on localhost; ansible-runner's directory in tmp_path."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    def run(name, text):
        playbook = tmp_path / name
        playbook.write_text(text)
        return bench.ansible_playbook(
            "localhost,", playbook, "--connection=local", f"--extra-vars=ansible_python_interpreter={sys.executable}"
        )

    run.scratch = scratch
    return run


def test_totals_and_task_time_come_from_the_runner(run_playbook, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the bench does not depend on the working directory it is started in
    handlers = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    run = run_playbook("ok.yml", OK_PLAYBOOK)
    assert bench.totals(run.stats) == {"ok": 2, "changed": 1, "failures": 0, "unreachable": 0, "skipped": 0}
    assert len(run.stats["processed"]) == 1
    assert [(result["task"], result["res"]["changed"]) for result in run.results] == [
        ("Change something", True),
        ("Use a filter of the collection, found through ansible.cfg's relative collections_path", False),
    ]
    timing = bench.task_timing(run, run.results[1]["task"])
    assert timing["calls"] == 3
    assert 0 < timing["seconds"] < run.seconds
    assert run.seconds > 0
    # ansible-runner's private data directory is gone, and Ctrl-C stops the bench again after the run
    assert list(run_playbook.scratch.iterdir()) == []
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers


def test_converge_figures_with_a_servers_yaml(tmp_path, monkeypatch):
    """converge() as the bench calls it for the lab, its site.yml here the tiny playbook on every server.

    ansible-playbook runs in tmp_path (REPO is the project_dir): ansible.cfg's relative collections_path still
    finds the collection, for the servers inventory plugin and the filter."""
    (tmp_path / "site.yml").write_text(OK_PLAYBOOK.replace("hosts: localhost", "hosts: all"))
    (tmp_path / "servers.yaml").write_text(SERVERS)
    monkeypatch.setattr(bench, "REPO", tmp_path)
    monkeypatch.setenv("ANSIBLE_PYTHON_INTERPRETER", sys.executable)
    figures = bench.converge(tmp_path / "servers.yaml")
    assert figures.pop("seconds") > 0
    assert figures == {"hosts": 3, "ok": 6, "changed": 3, "failures": 0, "unreachable": 0, "skipped": 0}


def test_a_failing_playbook_stops_the_bench_naming_it(run_playbook, capsys):
    with pytest.raises(SystemExit, match=r"^bench: failing\.yml failed \(rc 2, failed\)$"):
        run_playbook("failing.yml", FAILING_PLAYBOOK)
    assert "failed on purpose" in capsys.readouterr().err  # the tail of the runner's stdout
    assert list(run_playbook.scratch.iterdir()) == []


def test_totals_count_unreachable_hosts_from_dark():
    stats = {"ok": {"a": 3, "b": 2}, "changed": {"a": 1}, "dark": {"c": 1}, "failures": {}, "skipped": {"b": 4}}
    assert bench.totals(stats) == {"ok": 5, "changed": 1, "failures": 0, "unreachable": 1, "skipped": 4}
