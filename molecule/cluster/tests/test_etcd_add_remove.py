"""After side_effect added pg-4 as an etcd member and removed it again: the three members of
servers.yaml are healthy voters, the data written before is there, pg-4 is stopped and wiped.
(etcd_add_remove.yml itself asserted the 4 voters and that the old members did not restart.)
"""

import json

import pytest
from conftest import scenario_servers

# The cluster is checked from one member; pg-4 is checked on its own.
testinfra_hosts = ["podman://pg-1"]

SERVERS = scenario_servers()
ETCDCTL = (
    "ETCDCTL_API=3 etcdctl --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/admin.crt --key /etc/etcd/pki/admin.key"
)
ENDPOINTS = ",".join(f"https://{server['ip']}:2379" for server in SERVERS.values())


def test_the_members_of_servers_yaml_remain_as_voters(host):
    members = json.loads(host.check_output(f"{ETCDCTL} --endpoints {ENDPOINTS} member list -w json"))["members"]
    assert sorted(member["name"] for member in members) == sorted(SERVERS)
    assert not any(member.get("isLearner", False) for member in members)


def test_data_written_before_the_add_is_still_there(host):
    value = host.check_output(f"{ETCDCTL} --endpoints {ENDPOINTS} get /molecule/written-before-add --print-value-only")
    assert value == "still-here"


@pytest.fixture
def removed_host(host):
    return host.get_host("podman://pg-4")


def test_removed_member_is_stopped_and_wiped(removed_host):
    assert not removed_host.service("etcd").is_running
    assert not removed_host.service("etcd").is_enabled
    assert not removed_host.file("/var/lib/etcd/member").exists


def test_removed_member_ran_etcd_3_5_from_the_controller(removed_host):
    """pg-4 used the `local` install method while the others run Debian's 3.4 package."""
    assert removed_host.check_output("/usr/local/bin/etcd --version").splitlines()[0].startswith("etcd Version: 3.5")
