"""A 3-member TLS etcd cluster: health, mutual TLS, permissions."""

import base64
import json
import re
import shlex

import pytest
import testinfra
from conftest import scenario_servers, url

SERVERS = scenario_servers("etcd")


@pytest.fixture(params=sorted(SERVERS))
def host(request):
    """Each test on every etcd member: molecule/conftest.py's --hosts would run it on every server (the backup
    server runs no etcd), and testinfra prefers --hosts to a module's testinfra_hosts."""
    return testinfra.get_host(f"podman://{request.param}")


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


def test_json_gateway_answers_with_the_admin_gateway_certificate(host):
    """Patroni and the gardenos.cluster etcd modules use the gateway (etcd 3.4 disables it by default),
    with certificates without CN (etcd refuses a gateway request with one once auth is on)."""
    status = host.check_output(
        "curl -sS --max-time 5 --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/admin-api.crt"
        " --key /etc/etcd/pki/admin-api.key -X POST -d '{}' https://127.0.0.1:2379/v3/maintenance/status"
    )
    assert "raftIndex" in json.loads(status), status


def gateway_as_patroni(host, path, body):
    """A gateway request as Patroni (its certificate without CN, its etcd user): the answer."""
    env = host.file("/etc/patroni/patroni.env").content_string
    password = re.search(r"^PATRONI_ETCD3_PASSWORD=(.*)$", env, re.M).group(1).strip().strip("'\"")
    curl = (
        "curl -sS --max-time 5 --cacert /etc/patroni/pki/etcd-ca.crt --cert /etc/patroni/pki/etcd-client.crt"
        " --key /etc/patroni/pki/etcd-client.key -X POST"
    )
    login = json.dumps({"name": "patroni", "password": password})
    token = json.loads(host.check_output(f"{curl} -d {shlex.quote(login)} https://127.0.0.1:2379/v3/auth/authenticate"))
    answer = host.run(
        f"{curl} -H 'Authorization: {token['token']}' -d {shlex.quote(json.dumps(body))} https://127.0.0.1:2379/v3{path}"
    )
    return json.loads(answer.stdout)


def test_etcd_auth_confines_patroni_to_its_scope(host):
    """Auth is on: Patroni's user reads its scope's keys and is refused K3s's /registry/ (Secrets)."""
    scope = base64.b64encode(b"/service/postgres-cluster/").decode()
    scope_end = base64.b64encode(b"/service/postgres-cluster0").decode()
    own = gateway_as_patroni(host, "/kv/range", {"key": scope, "range_end": scope_end, "count_only": True})
    assert int(own.get("count", 0)) > 0, own
    registry = {"key": base64.b64encode(b"/registry/").decode(), "range_end": base64.b64encode(b"/registry0").decode()}
    for path, body in [("/kv/range", registry), ("/kv/deleterange", registry)]:
        refused = gateway_as_patroni(host, path, body)
        assert "permission denied" in json.dumps(refused), (path, refused)
    anonymous = host.run(
        "curl -sS --max-time 5 --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/admin-api.crt"
        ' --key /etc/etcd/pki/admin-api.key -X POST -d \'{"key":"Lw=="}\' https://127.0.0.1:2379/v3/kv/range'
    )
    assert "kvs" not in anonymous.stdout and "user name is empty" in anonymous.stdout, anonymous.stdout


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
