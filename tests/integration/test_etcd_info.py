"""gardenos.cluster.etcd_info against real etcd clusters, run through Ansible."""

import pytest
from etcdlab import ALL, free_ports


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
