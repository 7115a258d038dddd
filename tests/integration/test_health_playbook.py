"""playbooks/health.yml for real, without a cluster: two hosts reached on this machine (local connection)
where nothing runs, one of them a K3s server whose API does not answer, and one host that cannot be
reached. The report must still be written (text and JSON, 0640), every check about what is down must
fail (never pass), Patroni is skipped, the run exits non-zero, and neither the output nor the reports
hold the HAProxy stats password, even with colours forced on.
"""

import datetime
import json
import os
import re
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from certificates import self_signed_pem
from etcdlab import free_ports

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "health.yml"
ANSI = re.compile(r"\x1b\[")
NOT_AFTER = datetime.datetime(2031, 5, 17, 8, 30, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def health(tmp_path_factory):
    work = tmp_path_factory.mktemp("health")
    etcd_port, stats_port, api_port = free_ports(3)
    password = secrets.token_hex(16)
    (work / "secrets").mkdir(mode=0o700)
    (work / "secrets" / "haproxy-stats-password").write_text(password + "\n")
    # here's etcd certificates (its etcd_config_dir): a real one, one that is not a certificate, the others missing.
    (work / "etcd" / "pki").mkdir(parents=True)
    (work / "etcd" / "pki" / "server.crt").write_bytes(self_signed_pem(NOT_AFTER, "here"))
    (work / "etcd" / "pki" / "peer.crt").write_text("not a certificate\n")
    # The kubeconfig the k3s_server role would have fetched, for an API that does not answer.
    (work / "secrets" / "kubeconfig.yaml").write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: k3s
  cluster: {{server: "https://127.0.0.1:{api_port}", insecure-skip-tls-verify: true}}
users:
- name: admin
  user: {{token: not-a-real-token}}
contexts:
- name: k3s
  context: {{cluster: k3s, user: admin}}
current-context: k3s
"""
    )
    # The cluster's etcd client port, as every role reads it (the wiring's, in group_vars/all).
    (work / "group_vars").mkdir()
    (work / "group_vars" / "all.yml").write_text(f"wiring_etcd_client_port: {etcd_port}\n")
    (work / "servers.yaml").write_text(
        f"""plugin: gardenos.cluster.servers
# Every server runs here, on the controller, but 'gone', which is unreachable over SSH.
compose:
  ansible_connection: "'ssh' if inventory_hostname == 'gone' else 'local'"
cluster:
  name: health-it
servers:
  here:
    ip: 127.0.0.11
    region: it
    role: primary
    services: [etcd, haproxy]
    vars:
      ansible_become: false
      ansible_python_interpreter: {sys.executable}
      etcd_config_dir: {work / "etcd"}
      haproxy_stats_port: {stats_port}
  kube:
    ip: 127.0.0.13
    region: it
    services: [k3s_server]
    vars:
      ansible_become: false
      ansible_python_interpreter: {sys.executable}
  gone:
    ip: 127.0.0.12
    region: it
    services: [etcd]
    vars:
      ansible_port: 1
      ansible_user: nobody
"""
    )
    reports = work / "reports"
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="1",
        ANSIBLE_LOCAL_TEMP=str(work / "ansible-local"),
    )
    env.pop("ANSIBLE_NOCOLOR", None)
    command = [
        "ansible-playbook",
        "-i",
        str(work / "servers.yaml"),
        "-e",
        f"health_reports_dir={reports}",
        "-e",
        f"wiring_haproxy_stats_socket={work / 'no-haproxy.sock'}",
        str(PLAYBOOK),
    ]
    result = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    texts = sorted(reports.glob("health-*.txt"))
    jsons = sorted(reports.glob("health-*.json"))
    return {
        "result": result,
        "password": password,
        "texts": texts,
        "jsons": jsons,
        "kubeconfig": work / "secrets" / "kubeconfig.yaml",
        "work": work,
        "etcd_port": etcd_port,
    }


def output(health):
    return health["result"].stdout + health["result"].stderr


def report(health):
    assert len(health["jsons"]) == 1, output(health)[-3000:]
    return json.loads(health["jsons"][0].read_text())


def checks(health):
    return {(check["group"], check["name"]): check for check in report(health)["checks"]}


def test_the_run_fails_but_writes_both_reports(health):
    assert health["result"].returncode != 0, output(health)[-3000:]
    assert len(health["texts"]) == 1, output(health)[-3000:]
    assert len(health["jsons"]) == 1
    assert re.fullmatch(r"health-[0-9]{8}T[0-9]{6}Z\.txt", health["texts"][0].name)
    assert health["jsons"][0].stem == health["texts"][0].stem
    for path in (*health["texts"], *health["jsons"]):
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert "checks failed" in output(health)


def test_the_text_report_is_plain_and_ends_with_the_score(health):
    text = health["texts"][0].read_text()
    assert not ANSI.search(text)
    lines = text.splitlines()
    assert lines[0].startswith("health-it health report, ")
    assert lines[0].endswith(" UTC")
    score = report(health)["score"]
    assert lines[-1] == (
        f"score: {score['passed']} passed, {score['warnings']} warnings, {score['failed']} failed, "
        f"{score['skipped']} skipped (of {score['total']})"
    )
    assert "FAIL  hosts  gone reachable \u2014 saw: unreachable at 127.0.0.12: " in text
    # the report is printed too
    assert lines[-1] in output(health)


def test_what_is_down_fails_by_name(health):
    named = checks(health)
    assert named[("hosts", "here reachable")]["status"] == "pass"
    assert named[("hosts", "gone reachable")]["status"] == "fail"
    for host in ("here", "gone"):
        assert named[("etcd", f"member {host} healthy")]["status"] == "fail"
        assert host in named[("etcd", f"member {host} healthy")]["fix"]
    assert named[("etcd", "quorum")]["status"] == "fail"
    assert named[("etcd", "certificates on gone")]["saw"] == "not checked: gone is unreachable"
    assert named[("etcd", "certificate /etc/rancher/k3s/etcd/client.crt on kube")]["saw"] == (
        "cannot read it: no such file"
    )
    assert named[("haproxy", "stats socket on here")]["status"] == "fail"
    assert "no HAProxy stats socket" in named[("haproxy", "stats socket on here")]["saw"]
    assert named[("haproxy", "stats page on here with the credentials")]["status"] == "fail"
    # nothing that could not be seen passes
    assert named[("security", "HAProxy stats on here refuse anonymous access")]["status"] == "warn"
    assert named[("security", "etcd here refuses a client without a certificate")]["status"] != "pass"
    # asked on the wiring's client port (group_vars/all), as every role reads it
    no_cert = named[("security", "etcd here refuses a client without a certificate")]
    assert no_cert["saw"].startswith(f"https://127.0.0.11:{health['etcd_port']} ")


def test_each_certificate_is_read_where_its_role_put_it(health):
    """The etcd role's entry point reads here's certificates under its etcd_config_dir; the report reads their
    expiry on the controller."""
    named = checks(health)
    pki = health["work"] / "etcd" / "pki"
    server = named[("etcd", f"certificate {pki}/server.crt on here")]
    assert server["status"] == "pass"
    assert server["saw"].startswith("valid until 2031-05-17 08:30 UTC (")
    peer = named[("etcd", f"certificate {pki}/peer.crt on here")]
    assert peer["status"] == "fail"
    assert peer["saw"].startswith("no expiry date: ")
    ca = named[("etcd", f"certificate {pki}/ca.crt on here")]
    assert (ca["status"], ca["saw"]) == ("fail", "cannot read it: no such file")


def test_k3s_is_checked_through_the_kubeconfig_and_fails_without_an_api(health):
    named = checks(health)
    assert named[("k3s", "nodes Ready")]["status"] == "fail"
    assert named[("k3s", "nodes Ready")]["saw"].startswith("nodes not read: HTTPSConnectionPool(")
    assert "Connection refused" in named[("k3s", "nodes Ready")]["saw"]
    assert str(health["kubeconfig"]) in named[("k3s", "nodes Ready")]["fix"]
    for name in ("no control-plane taints", "default StorageClass", "core pods running"):
        assert named[("k3s", name)]["status"] == "fail"
    assert named[("k3s", "k3s service on kube running")]["status"] == "fail"


def test_patroni_is_skipped_without_its_hosts(health):
    assert checks(health)[("patroni", "Patroni cluster")]["status"] == "skip"


def test_every_check_says_what_it_saw_and_what_to_do(health):
    for check in report(health)["checks"]:
        assert check["saw"], check
        if check["status"] in ("warn", "fail"):
            assert check["fix"], check


def test_no_secret_in_the_output_or_the_reports(health):
    password = health["password"]
    assert password not in output(health)
    for path in (*health["texts"], *health["jsons"]):
        assert password not in path.read_text()
