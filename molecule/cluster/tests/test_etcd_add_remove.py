"""After adding addm-4 and removing addm-2: three healthy voting members, nothing lost."""

import json

import pytest

# The cluster is checked from a member that stays; addm-2 is checked on its own.
testinfra_hosts = ["podman://addm-1"]

ETCDCTL = (
    "ETCDCTL_API=3 etcdctl --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/admin.crt --key /etc/etcd/pki/admin.key"
)
REMAINING = {"addm-1": "10.78.0.31", "addm-3": "10.78.0.33", "addm-4": "10.78.0.34"}
ENDPOINTS = ",".join(f"https://{ip}:2379" for ip in REMAINING.values())


def test_three_voting_members_remain(host):
    members = json.loads(host.check_output(f"{ETCDCTL} --endpoints {ENDPOINTS} member list -w json"))["members"]
    assert sorted(member["name"] for member in members) == sorted(REMAINING)
    assert not any(member.get("isLearner", False) for member in members)


def test_remaining_members_are_healthy(host):
    health = json.loads(host.check_output(f"{ETCDCTL} --endpoints {ENDPOINTS} endpoint health -w json"))
    assert len(health) == 3
    assert all(entry["health"] for entry in health), health


def test_data_written_before_is_still_there(host):
    value = host.check_output(f"{ETCDCTL} --endpoints {ENDPOINTS} get /molecule/written-before-add --print-value-only")
    assert value == "still-here"


@pytest.fixture
def removed_host(host):
    return host.get_host("podman://addm-2")


def test_removed_member_is_stopped_and_wiped(removed_host):
    assert not removed_host.service("etcd").is_running
    assert not removed_host.service("etcd").is_enabled
    assert not removed_host.file("/var/lib/etcd/member").exists
