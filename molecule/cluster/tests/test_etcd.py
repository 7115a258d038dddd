"""A 3-member TLS etcd cluster: health, mutual TLS, permissions."""

import json

import pytest
from conftest import scenario_servers, url

SERVERS = scenario_servers()
ETCDCTL = (
    "ETCDCTL_API=3 etcdctl --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/admin.crt --key /etc/etcd/pki/admin.key"
)


def endpoints():
    return ",".join(url(server["ip"], 2379) for server in SERVERS.values())


def test_every_member_is_healthy(host):
    out = host.check_output(f"{ETCDCTL} --endpoints {endpoints()} endpoint health -w json")
    health = json.loads(out)
    assert len(health) == len(SERVERS)
    assert all(entry["health"] for entry in health), health


def test_members_are_voters_with_https_peers(host):
    members = json.loads(host.check_output(f"{ETCDCTL} --endpoints https://127.0.0.1:2379 member list -w json"))
    members = members["members"]
    assert sorted(member["name"] for member in members) == sorted(SERVERS)
    for member in members:
        assert not member.get("isLearner", False)
        assert all(url.startswith("https://") for url in member["peerURLs"])
        assert all(url.startswith("https://") for url in member["clientURLs"])


def test_one_leader(host):
    statuses = json.loads(host.check_output(f"{ETCDCTL} --endpoints {endpoints()} endpoint status -w json"))
    leaders = {status["Status"]["leader"] for status in statuses}
    assert len(leaders) == 1


def test_client_without_certificate_is_refused(host):
    result = host.run(
        'curl -sS --max-time 5 --cacert /etc/etcd/pki/ca.crt https://127.0.0.1:2379/v3/kv/range -d \'{"key":"Lw=="}\''
    )
    assert result.rc != 0, result.stdout


def test_json_gateway_answers_with_the_admin_certificate(host):
    """Patroni and the gardenos.cluster etcd modules use the gateway (etcd 3.4 disables it by default)."""
    status = host.check_output(
        "curl -sS --max-time 5 --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/admin.crt"
        " --key /etc/etcd/pki/admin.key -X POST -d '{}' https://127.0.0.1:2379/v3/maintenance/status"
    )
    assert "raftIndex" in json.loads(status), status


def test_plain_http_is_not_served(host):
    result = host.run("curl -sS --max-time 5 http://127.0.0.1:2379/version")
    assert result.rc != 0 or "etcdserver" not in result.stdout


def test_write_and_read_back_through_tls(host):
    key = f"/molecule/{host.backend.get_hostname()}"
    host.check_output(f"{ETCDCTL} --endpoints {endpoints()} put {key} written")
    assert host.check_output(f"{ETCDCTL} --endpoints {endpoints()} get {key} --print-value-only") == "written"


@pytest.mark.parametrize("name", ["server.key", "peer.key", "admin.key"])
def test_private_keys_are_private(host, name):
    key = host.file(f"/etc/etcd/pki/{name}")
    assert key.user == "etcd"
    assert key.mode == 0o600


def test_data_dir_is_private(host):
    data_dir = host.file("/var/lib/etcd")
    assert data_dir.user == "etcd"
    assert data_dir.mode == 0o700


def test_etcd_runs_as_etcd_user(host):
    service = host.service("etcd")
    assert service.is_running
    assert service.is_enabled
    # Not "indirect" (an alias left by a package: etcd would not start at boot).
    assert host.check_output("systemctl is-enabled etcd") == "enabled"
    assert host.process.get(comm="etcd").user == "etcd"
