"""Patroni + PostgreSQL behind HAProxy on 3 hosts: the HA path end to end.

side_effect.yml ran the stale-DCS drill before these tests; failovers are test_drills.py's, under writes.
"""

import json
import os
import re
import shlex
import time
import uuid
from pathlib import Path

import pytest
import testinfra
from conftest import scenario_servers, url

SERVERS = scenario_servers("patroni")
NAMES = sorted(SERVERS)
HOSTS = {name: testinfra.get_host(f"podman://{name}") for name in NAMES}
PG_PORT = 5532
# Patroni's REST API is HTTPS, its certificates from the cluster CA.
API_CA = "--cacert /etc/patroni/pki/etcd-ca.crt"
STATE_DIR = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
ETCDCTL = (
    "ETCDCTL_API=3 etcdctl --endpoints https://127.0.0.1:2379 --cacert /etc/etcd/pki/ca.crt"
    " --cert /etc/etcd/pki/admin.crt --key /etc/etcd/pki/admin.key"
)


def ip(name):
    return SERVERS[name]["ip"]


def superuser_password():
    """The superuser's password, as Patroni gets it (root-only environment file)."""
    env = HOSTS[NAMES[0]].file("/etc/patroni/patroni.env").content_string
    match = re.search(r'^PATRONI_SUPERUSER_PASSWORD="(.*)"$', env, re.MULTILINE)
    assert match, "no superuser password in /etc/patroni/patroni.env"
    return match.group(1)


def psql(on, sql, *, host, port, timeout=5):
    """Run SQL with psql on host `on`, against host:port, as the superuser; the result object."""
    command = (
        f"PGPASSWORD={shlex.quote(superuser_password())} PGCONNECT_TIMEOUT={timeout} "
        f"psql -X -At -h {host} -p {port} -U postgres -d postgres -v ON_ERROR_STOP=1 -c {shlex.quote(sql)}"
    )
    return HOSTS[on].run(command)


def cluster():
    """Patroni's view of the cluster, from any member's REST API."""
    for name in NAMES:
        result = HOSTS[name].run(
            f"curl -gsf --max-time 3 {API_CA} {url(ip(name), 8008, scheme='https', path='/cluster')}"
        )
        if result.rc == 0:
            return json.loads(result.stdout)
    raise AssertionError("no Patroni REST API answered")


def leader():
    leaders = [m["name"] for m in cluster()["members"] if m["role"] == "leader"]
    return leaders[0] if len(leaders) == 1 else None


def replicas(members):
    """The members that are no leader: replicas, one of them the synchronous standby (sync_standby)."""
    return [m for m in members if m["role"] != "leader"]


def wait_healthy(timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        members = cluster()["members"]
        roles = sorted(m["role"] for m in members)
        if roles in (["leader", "replica", "sync_standby"], ["leader", "replica", "replica"]) and all(
            m["state"] in ("running", "streaming") for m in members
        ):
            return members
        time.sleep(1)
    raise AssertionError(f"cluster not healthy after {timeout}s: {cluster()}")


def test_every_member_runs_patroni_as_postgres():
    for name in NAMES:
        service = HOSTS[name].service("patroni")
        assert service.is_running and service.is_enabled, name
        users = {p.user for p in HOSTS[name].process.filter(comm="patroni")}
        assert users == {"postgres"}, (name, users)


def test_cluster_has_one_leader_and_two_streaming_replicas_one_synchronous():
    members = wait_healthy()
    assert [m["state"] for m in replicas(members)] == ["streaming", "streaming"], members
    # patroni_synchronous_mode (default true): one replica confirms every commit
    assert sorted(m["role"] for m in replicas(members)) == ["replica", "sync_standby"], members


def test_every_replica_reads_its_own_timeline():
    """A replica's Patroni reads its timeline over a replication connection to itself (127.0.0.1):
    without it the REST API shows none and a failover cannot rank the replicas."""
    members = wait_healthy()
    leader_timeline = next(m["timeline"] for m in members if m["role"] == "leader")
    for name in NAMES:
        result = HOSTS[name].run(
            f"curl -gsf --max-time 3 {API_CA} {url(ip(name), 8008, scheme='https', path='/patroni')}"
        )
        assert result.rc == 0, (name, result.stderr)
        assert json.loads(result.stdout).get("timeline") == leader_timeline, (name, result.stdout)


def test_haproxy_5432_reaches_the_primary_from_every_haproxy_host():
    """psql as the superuser to each HAProxy's address of servers.yaml (IPv6 here) reaches the primary. The
    scenario's hosts are in its admin networks: HAProxy sends them through the leader's admin relay, so
    PostgreSQL sees its own loopback address, the only network address its superuser may log in from
    (test_exposure.py: the other clients, and what PostgreSQL sees of them)."""
    for name in NAMES:
        result = psql(
            name,
            "select pg_is_in_recovery(), inet_client_addr(), trim(pg_read_file('/etc/hostname'), E'\\n')",
            host=ip(name),
            port=5432,
        )
        assert result.rc == 0, (name, result.stderr)
        assert result.stdout.strip().split("|") == ["f", "127.0.0.1", leader()], name


def test_haproxy_5433_reaches_a_replica():
    result = psql(NAMES[0], "select pg_is_in_recovery()", host=ip(NAMES[0]), port=5433)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "t"


def test_a_row_written_through_haproxy_is_read_on_every_replica():
    token = uuid.uuid4().hex
    write = psql(
        NAMES[0],
        f"create table if not exists molecule_rows (token text); insert into molecule_rows values ('{token}')",
        host=ip(NAMES[0]),
        port=5432,
    )
    assert write.rc == 0, write.stderr
    for member in replicas(cluster()["members"]):
        deadline = time.monotonic() + 15
        while True:
            # On the replica itself: the superuser logs in from a member's loopback address only.
            read = psql(
                member["name"],
                f"select count(*) from molecule_rows where token = '{token}'",
                host="127.0.0.1",
                port=PG_PORT,
            )
            if read.rc == 0 and read.stdout.strip() == "1":
                break
            assert time.monotonic() < deadline, (member["name"], read.stdout, read.stderr)
            time.sleep(0.5)


@pytest.mark.parametrize("name", NAMES)
def test_the_rest_api_refuses_plain_http_and_serves_https_with_the_ca(name):
    """From another member: plain HTTP gets no answer; HTTPS checked against the cluster CA does, and
    without the CA the certificate is refused."""
    other = HOSTS[NAMES[(NAMES.index(name) + 1) % len(NAMES)]]
    plain = other.run(
        f"curl -gs --max-time 3 -o /dev/null -w '%{{http_code}}' {url(ip(name), 8008, scheme='http', path='/')}"
    )
    assert plain.rc != 0 or plain.stdout.strip() in ("000", "400"), plain.stdout
    assert other.run(f"curl -gsf --max-time 3 {API_CA} {url(ip(name), 8008, scheme='https', path='/patroni')}").rc == 0
    untrusted = other.run(f"curl -gsf --max-time 3 {url(ip(name), 8008, scheme='https', path='/patroni')}")
    assert untrusted.rc == 60, untrusted.stderr  # curl: the peer's certificate could not be verified


@pytest.mark.parametrize("name", NAMES)
def test_the_rest_api_listens_on_the_members_address_only(name):
    listening = HOSTS[name].check_output("ss -Hltn 'sport = :8008'").split()
    address = f"[{ip(name)}]" if ":" in ip(name) else ip(name)
    assert [word for word in listening if word.endswith(":8008")] == [f"{address}:8008"]


def test_passwords_stay_out_of_patroni_yml():
    password = superuser_password()
    for name in NAMES:
        config = HOSTS[name].file("/etc/patroni/patroni.yml")
        assert password not in config.content_string
        env = HOSTS[name].file("/etc/patroni/patroni.env")
        assert (env.user, env.mode) == ("root", 0o600), name


def test_haproxy_stats_need_authentication():
    name = NAMES[0]
    stats = url(ip(name), 8404, scheme="http", path="/stats")
    anonymous = HOSTS[name].run(f"curl -gs -o /dev/null -w '%{{http_code}}' {stats}")
    assert anonymous.stdout == "401"
    wrong = HOSTS[name].run(f"curl -gs -o /dev/null -w '%{{http_code}}' -u admin:wrong {stats}")
    assert wrong.stdout == "401"
    password = (STATE_DIR / "secrets" / "haproxy-stats-password").read_text().split()[0]
    good = HOSTS[name].run(f"curl -gs -o /dev/null -w '%{{http_code}}' -u admin:{shlex.quote(password)} {stats}")
    assert good.stdout == "200"


def test_stale_dcs_drill_left_the_other_scope_alone():
    """side_effect.yml wiped every data dir with the keys left in etcd and ran the recovery playbook."""
    drill = json.loads((STATE_DIR / "stale-dcs-drill.json").read_text())
    print(f"stale-DCS recovery playbook took {drill['recovery_playbook_time']}")
    other = HOSTS[NAMES[0]].check_output(f"{ETCDCTL} get --prefix /service/postgres-cluster-2/ --keys-only")
    assert sorted(filter(None, other.splitlines())) == [
        "/service/postgres-cluster-2/config",
        "/service/postgres-cluster-2/initialize",
        "/service/postgres-cluster-2/leader",
        "/service/postgres-cluster-2/members/other-1",
    ]
    backups = sorted((STATE_DIR / "backups" / "patroni-dcs").glob("postgres-cluster-*.json"))
    assert backups, "the recovery playbook saved no backup of the keys"
    saved = json.loads(backups[-1].read_text())
    assert any(entry["key"] == "/service/postgres-cluster/initialize" for entry in saved), saved
    assert all(entry["key"].startswith("/service/postgres-cluster/") for entry in saved)
    assert oct(backups[-1].stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("name", NAMES)
def test_private_files_are_private(name):
    key = HOSTS[name].file("/etc/patroni/pki/etcd-client.key")
    assert (key.user, key.mode) == ("postgres", 0o600)
    data = HOSTS[name].file("/var/lib/postgresql/15/postgres-cluster")
    assert (data.user, data.mode) == ("postgres", 0o700)
