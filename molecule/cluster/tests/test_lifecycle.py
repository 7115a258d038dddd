"""After the lifecycle drill added pg-4 and pg-5 and removed them again: the three members of
servers.yaml are healthy etcd voters, the data written before is there, the removed servers'
etcd is stopped and wiped and their Patroni stopped, with the database directory left on disk.
(lifecycle.yml itself asserted the 5 voters, the rows, the quorum probe and the health report.)
"""

import json

import pytest
import testinfra
from conftest import scenario_servers, url


@pytest.fixture
def host():
    """The cluster is checked from one member (molecule/conftest.py's --hosts would run each
    test on every server); the removed servers on their own."""
    return testinfra.get_host("podman://pg-1")


SERVERS = scenario_servers("etcd")
ETCDCTL = (
    "ETCDCTL_API=3 etcdctl --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/admin.crt --key /etc/etcd/pki/admin.key"
)
ENDPOINTS = ",".join(url(server["ip"], 2379) for server in SERVERS.values())


def test_the_members_of_servers_yaml_remain_as_voters(host):
    members = json.loads(host.check_output(f"{ETCDCTL} --endpoints {ENDPOINTS} member list -w json"))["members"]
    assert sorted(member["name"] for member in members) == sorted(SERVERS)
    assert not any(member.get("isLearner", False) for member in members)


def test_data_written_before_the_add_is_still_there(host):
    value = host.check_output(f"{ETCDCTL} --endpoints {ENDPOINTS} get /molecule/written-before-add --print-value-only")
    assert value == "still-here"


@pytest.fixture(params=["pg-4", "pg-5"])
def removed_host(request):
    return testinfra.get_host(f"podman://{request.param}")


def test_removed_server_is_out_of_etcd_and_patroni(removed_host):
    assert not removed_host.service("etcd").is_running
    assert not removed_host.service("etcd").is_enabled
    assert not removed_host.file("/var/lib/etcd/member").exists
    assert not removed_host.service("patroni").is_running
    assert not removed_host.service("patroni").is_enabled
    # The database is the operator's to wipe.
    assert removed_host.file("/var/lib/postgresql/15/postgres-cluster/PG_VERSION").exists


def test_pg_4_haproxy_stays_stopped_after_the_removal_of_pg_5():
    """pg-5 was removed while pg-4 was still in servers.yaml: HAProxy must not start on pg-4 again."""
    haproxy = testinfra.get_host("podman://pg-4").service("haproxy")
    assert not haproxy.is_running
    assert not haproxy.is_enabled


def test_pg_4_ran_etcd_3_5_from_the_controller():
    """pg-4 used the `local` install method while the others run Debian's 3.4 package."""
    pg4 = testinfra.get_host("podman://pg-4")
    assert pg4.check_output("/usr/local/bin/etcd --version").splitlines()[0].startswith("etcd Version: 3.5")


def test_the_added_members_were_restored_from_the_backup_repository(removed_host):
    """With backups, Patroni's first replica method is pgBackRest's restore through the repository server: a new
    member loads the repository, not the primary (issue 17's acceptance 3), at its first attempt: the leader admits
    it before it starts (the patroni role waits until the running members have loaded their new pg_hba)."""
    log = removed_host.check_output("journalctl -u patroni --no-pager -o cat")
    made = [line for line in log.splitlines() if any(word in line for word in ("replica", "psql:", "ERROR"))]
    assert "replica has been created using pgbackrest" in log, made
    assert "Error creating replica" not in log, made
