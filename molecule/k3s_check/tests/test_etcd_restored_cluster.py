"""After the drill (side_effect.yml): the restored cluster holds every key written before the
newest backup and not the one written after it; the controller keeps the retention's newest
snapshots, private and matching their sha256, and another cluster's file untouched."""

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
import testinfra
from conftest import scenario_cluster, scenario_servers

SERVERS = {name: server for name, server in scenario_servers().items() if "etcd" in server["services"]}
ETCDCTL = (
    "ETCDCTL_API=3 etcdctl --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/admin.crt --key /etc/etcd/pki/admin.key"
)
ENDPOINTS = ",".join(f"https://{server['ip']}:2379" for server in SERVERS.values())
DRILL_KEYS = 200
RETENTION = 2  # etcd_backup_retention in vars.yml
PLANTED = "20000101T000000Z"  # the older snapshot side_effect.yml planted before its two backups
BACKUP_DIR = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "backups" / "etcd"
PREFIX = f"{scenario_cluster()['name']}-etcd-"


@pytest.fixture(scope="module")
def member():
    """The cluster is checked once, from k3s-1 (the `host` fixture would run each test on every
    member; test_etcd_restored_members.py checks each)."""
    return testinfra.get_host("podman://k3s-1")


def test_every_key_written_before_the_backup_is_back(member):
    lines = member.check_output(f"{ETCDCTL} --endpoints {ENDPOINTS} get --prefix /drill/").splitlines()
    pairs = dict(zip(lines[::2], lines[1::2], strict=True))
    assert pairs == {f"/drill/key-{i:03d}": f"value-{i}" for i in range(1, DRILL_KEYS + 1)}


def test_the_newest_snapshot_was_restored(member):
    """A key was written between the two backups: only the second (newest) has it."""
    value = member.check_output(
        f"{ETCDCTL} --endpoints {ENDPOINTS} get /drill-between/written-between-backups --print-value-only"
    )
    assert value == "newest"


def test_the_key_written_after_the_backup_is_not(member):
    assert member.check_output(f"{ETCDCTL} --endpoints {ENDPOINTS} get --prefix /drill-after/") == ""


def test_three_healthy_voters_and_one_leader(member):
    health = json.loads(member.check_output(f"{ETCDCTL} --endpoints {ENDPOINTS} endpoint health -w json"))
    assert len(health) == len(SERVERS)
    assert all(entry["health"] for entry in health), health
    members = json.loads(member.check_output(f"{ETCDCTL} --endpoints {ENDPOINTS} member list -w json"))["members"]
    assert sorted(member["name"] for member in members) == sorted(SERVERS)
    assert not any(member.get("isLearner", False) for member in members)
    statuses = json.loads(member.check_output(f"{ETCDCTL} --endpoints {ENDPOINTS} endpoint status -w json"))
    assert len({status["Status"]["leader"] for status in statuses}) == 1


def test_the_cluster_takes_writes_again(member):
    member.check_output(f"{ETCDCTL} --endpoints {ENDPOINTS} put /molecule/after-restore ok")
    value = member.check_output(f"{ETCDCTL} --endpoints {ENDPOINTS} get /molecule/after-restore --print-value-only")
    assert value == "ok"


def test_backup_directory_is_private():
    assert stat.S_IMODE(BACKUP_DIR.stat().st_mode) == 0o700


def test_retention_kept_the_newest_snapshots_only():
    """Two backups and the planted older snapshot: the older one went, with its .sha256."""
    snapshots = sorted(BACKUP_DIR.glob(f"{PREFIX}*.db"))
    assert len(snapshots) == RETENTION, snapshots
    assert not list(BACKUP_DIR.glob(f"{PREFIX}{PLANTED}*"))
    assert sorted(BACKUP_DIR.glob(f"{PREFIX}*.sha256")) == [Path(f"{path}.sha256") for path in snapshots]


def test_another_clusters_snapshot_is_left_alone():
    assert (BACKUP_DIR / f"other-cluster-etcd-{PLANTED}.db").is_file()


def test_snapshots_are_private_and_match_their_sha256():
    assert len(list(BACKUP_DIR.glob(f"{PREFIX}*.db"))) == RETENTION
    for snapshot in BACKUP_DIR.glob(f"{PREFIX}*.db"):
        checksum = Path(f"{snapshot}.sha256")
        assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600, snapshot
        assert stat.S_IMODE(checksum.stat().st_mode) == 0o600, checksum
        digest = hashlib.sha256(snapshot.read_bytes()).hexdigest()
        assert checksum.read_text(encoding="utf-8") == f"{digest}  {snapshot.name}\n"
