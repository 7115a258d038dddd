"""gardenos.cluster.etcd_info against real etcd clusters, run through Ansible."""

import hashlib
import shutil

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from etcdlab import ALL, EtcdCluster, free_ports, make_pki, renew_certificate


@pytest.mark.parametrize("kv_cluster", ALL, indirect=True)
def test_info_on_a_healthy_cluster(kv_cluster, run_module):
    # Read-only: runs (and reports the same) in check mode.
    result = run_module("etcd_info", kv_cluster.module_args(), check=True)
    assert not result["failed"], result
    assert result["changed"] is False

    assert len(result["members"]) == 3
    assert sorted(m["name"] for m in result["members"]) == sorted(m.name for m in kv_cluster.members)
    for member in result["members"]:
        assert member["is_learner"] is False
        assert int(member["id"], 16) > 0
        assert len(member["client_urls"]) == 1 and len(member["peer_urls"]) == 1

    leader_id = f"{int(kv_cluster.leader_id()):x}"
    assert result["leader"]["id"] == leader_id
    assert result["leader"]["name"] in {m.name for m in kv_cluster.members}

    assert result["version"]["server"] == kv_cluster.version
    assert result["version"]["cluster"] == kv_cluster.version.rsplit(".", 1)[0] + ".0"
    assert result["db_size"] > 0 and result["db_size_in_use"] > 0
    assert result["raft_index"] > 0 and result["raft_term"] > 0
    assert result["alarms"] == []
    assert result["healthy"] is True
    assert int(result["cluster_id"], 16) > 0

    endpoints = result["endpoints"]
    assert [e["endpoint"] for e in endpoints] == kv_cluster.endpoints
    assert all(e["healthy"] and e["error"] is None for e in endpoints), endpoints
    assert sum(e["is_leader"] for e in endpoints) == 1
    assert {e["leader_id"] for e in endpoints} == {leader_id}
    assert {e["name"] for e in endpoints} == {m.name for m in kv_cluster.members}


def test_info_with_a_member_killed(fresh_cluster, run_module):
    leader = fresh_cluster.leader_id()
    victim = next(m for m in fresh_cluster.members if fresh_cluster.member_id(m) != leader)
    fresh_cluster.kill(victim)

    result = run_module("etcd_info", fresh_cluster.module_args())
    assert not result["failed"], result
    assert result["healthy"] is False
    assert len(result["members"]) == 3
    assert result["leader"]["id"] == f"{int(leader):x}"

    by_url = {e["endpoint"]: e for e in result["endpoints"]}
    dead = by_url[victim.client_url]
    assert dead["healthy"] is False
    assert "connection refused" in dead["error"]
    alive = [e for url, e in by_url.items() if url != victim.client_url]
    assert len(alive) == 2 and all(e["healthy"] for e in alive), alive


def test_info_fails_when_no_endpoint_answers(run_module):
    endpoints = [f"http://127.0.0.1:{port}" for port in free_ports(2)]
    result = run_module("etcd_info", {"endpoints": endpoints, "timeout": 2})
    assert result["failed"] is True
    assert "no etcd endpoint answered" in result["msg"]
    assert "connection refused" in result["msg"]


SCOPE_KEYS = ["config", "failover", "initialize", "members/pg-1", "members/pg-2", "status"]


@pytest.mark.parametrize("kv_cluster", ALL, indirect=True)
def test_read_keys_and_values(kv_cluster, run_module):
    scope = "/readtest/service/pg"
    kv_cluster.put_many([f"{scope}/{k}" for k in SCOPE_KEYS], value='{"v": 1}')
    lease = kv_cluster.grant_lease(ttl=300)
    kv_cluster.put(f"{scope}/leader", "pg-1", lease=lease)
    # Beside the scope: not part of its prefix.
    kv_cluster.put_many([f"{scope}-2/leader", f"{scope}0", scope], value="other")
    args = dict(kv_cluster.module_args(), key=f"{scope}/", prefix=True)

    everything, capped, keys_only, one, counted = run_module.many(
        [
            ("etcd_info", args, {"check": True}),
            ("etcd_info", dict(args, max_keys=3)),
            ("etcd_info", dict(args, keys_only=True)),
            ("etcd_info", dict(kv_cluster.module_args(), key=f"{scope}/leader")),
            ("etcd_info", dict(kv_cluster.module_args(), key=f"{scope}/", range_end="\\0", max_keys=0)),
        ]
    )
    for result in (everything, capped, keys_only, one, counted):
        assert not result["failed"], result
        assert result["changed"] is False
        assert "members" not in result  # keys only, not the cluster's state

    expected = sorted([f"{scope}/{k}" for k in SCOPE_KEYS] + [f"{scope}/leader"])
    assert [kv["key"] for kv in everything["kvs"]] == expected
    assert everything["count"] == len(expected) and everything["truncated"] is False
    assert everything["revision"] >= max(kv["mod_revision"] for kv in everything["kvs"])
    by_key = {kv["key"]: kv for kv in everything["kvs"]}
    leader = by_key[f"{scope}/leader"]
    assert leader["value"] == "pg-1" and leader["lease"] == f"{int(lease):x}"
    assert by_key[f"{scope}/config"]["value"] == '{"v": 1}' and by_key[f"{scope}/config"]["lease"] is None
    assert all(kv["version"] >= 1 and kv["create_revision"] <= kv["mod_revision"] for kv in everything["kvs"])

    assert [kv["key"] for kv in capped["kvs"]] == expected[:3]
    assert capped["count"] == len(expected) and capped["truncated"] is True

    assert [kv["key"] for kv in keys_only["kvs"]] == expected
    assert all("value" not in kv for kv in keys_only["kvs"])

    assert [(kv["key"], kv["value"]) for kv in one["kvs"]] == [(f"{scope}/leader", "pg-1")] and one["count"] == 1

    # From the scope's first key to the end of the keyspace: scope0 and everything after it too.
    assert counted["kvs"] == [] and counted["count"] >= len(expected) + 1 and counted["truncated"] is True


@pytest.mark.parametrize("kv_cluster", ["etcd3.5-plain"], indirect=True)
def test_read_keys_in_pages_and_to_a_byte_limit(kv_cluster, run_module):
    keys = [f"/paged/{i:05d}" for i in range(2500)]
    kv_cluster.put_many(keys, value="x" * 100)
    args = dict(kv_cluster.module_args(), key="/paged/", prefix=True)

    everything, limited = run_module.many(
        [("etcd_info", dict(args, max_keys=3000)), ("etcd_info", dict(args, max_bytes=10500))]
    )
    assert not everything["failed"], everything
    assert [kv["key"] for kv in everything["kvs"]] == keys  # three pages of 1000, in byte order
    assert everything["count"] == 2500 and everything["truncated"] is False
    assert not limited["failed"], limited
    assert len(limited["kvs"]) == 10500 // (len(keys[0]) + 100) and limited["truncated"] is True


def test_read_keys_refuses_a_bad_range(run_module):
    endpoints = [f"http://127.0.0.1:{port}" for port in free_ports(1)]
    backwards, no_key, both = run_module.many(
        [
            ("etcd_info", {"endpoints": endpoints, "key": "/b", "range_end": "/a"}),
            ("etcd_info", {"endpoints": endpoints, "prefix": True}),
            ("etcd_info", {"endpoints": endpoints, "key": "/a", "prefix": True, "range_end": "/b"}),
        ]
    )
    assert backwards["failed"]
    assert backwards["msg"].startswith("range_end '/a' must sort after key '/b'"), backwards
    assert no_key["failed"] and no_key["msg"] == "prefix and range_end need key: the range of keys to read starts there"
    assert both["failed"] and "mutually exclusive: prefix|range_end" in both["msg"]


@pytest.mark.parametrize("kv_cluster", ["etcd3.5-tls-auth"], indirect=True)
def test_module_defaults_of_the_etcd_group(kv_cluster, run_module):
    """One module_defaults entry for group/gardenos.cluster.etcd connects every etcd module."""
    kv_cluster.put_many(["/groups/a", "/groups/b"])
    member = kv_cluster.members[0]
    info, keys, deleted, present = run_module.many(
        [
            ("etcd_info", {}),
            ("etcd_info", {"key": "/groups/", "prefix": True}),
            ("etcd_deleterange", {"key": "/groups/a"}),
            ("etcd_member", {"name": member.name, "peer_urls": [member.peer_url]}, {"check": True}),
        ],
        module_defaults={"group/gardenos.cluster.etcd": kv_cluster.module_args()},
    )
    assert not info["failed"] and info["healthy"] is True, info
    assert not keys["failed"] and [kv["key"] for kv in keys["kvs"]] == ["/groups/a", "/groups/b"], keys
    assert not deleted["failed"] and deleted["deleted"] == 1, deleted
    assert not present["failed"] and present["changed"] is False, present
    assert kv_cluster.keys("/groups/") == ["/groups/b"]


@pytest.mark.parametrize("version", ["3.4", "3.5"])
def test_served_certificates_follow_a_renewal_with_no_restart(version, workdir, bin_dirs, run_module):
    # What the etcd role's rollout relies on: etcd reads its certificate files at every TLS
    # handshake, so a renewed certificate is served at once by the same process.
    pki = make_pki(workdir / f"served-pki-{version}")  # its own files: the renewal must not touch the shared PKI
    cluster = EtcdCluster(workdir / f"served-{version}", bin_dirs[version], size=1, tls=True, pki=pki, label="served")
    try:
        cluster.start()
        endpoint = cluster.endpoints[0]
        (closed,) = free_ports(1)
        served = [
            {"url": endpoint, "certificate": pki["server_cert"]},
            {"url": endpoint, "certificate": pki["client_cert"]},
            {"url": f"https://127.0.0.1:{closed}"},
        ]
        before = run_module("etcd_info", {**cluster.module_args(), "served_certificates": served})
        assert not before["failed"], before
        server, other, down = before["served_certificates"]
        assert server["serves_certificate"] is True and server["error"] is None
        assert other["serves_certificate"] is False and other["sha256"] == server["sha256"]
        assert down["sha256"] is None and down["serves_certificate"] is None and "refused" in down["error"]

        pid = cluster.members[0].proc.pid
        renewed = renew_certificate(pki, "server_cert")
        after = run_module("etcd_info", {**cluster.module_args(), "served_certificates": served[:1]})
        assert not after["failed"], after
        (server_after,) = after["served_certificates"]
        assert server_after["sha256"] == hashlib.sha256(renewed.public_bytes(Encoding.DER)).hexdigest()
        assert server_after["sha256"] != server["sha256"] and server_after["serves_certificate"] is True
        assert cluster.members[0].proc.pid == pid and cluster.members[0].alive
    finally:
        cluster.destroy()
        shutil.rmtree(workdir / f"served-pki-{version}", ignore_errors=True)


def test_served_certificates_need_no_key(run_module):
    result = run_module(
        "etcd_info",
        {"endpoints": ["http://127.0.0.1:1"], "key": "/a", "served_certificates": [{"url": "https://127.0.0.1:1"}]},
    )
    assert result["failed"] and "served_certificates is read without key" in result["msg"]
