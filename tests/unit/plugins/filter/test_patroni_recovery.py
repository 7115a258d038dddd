"""gardenos.cluster.patroni_stale_dcs_verdict: the stale-DCS recovery goes ahead only when the
cluster is really stuck, and otherwise names each failed condition and its member."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.patroni_recovery import (
    FilterModule,
    patroni_stale_dcs_verdict,
)

PREFIX = "/service/postgres-cluster/"
MEMBERS = ["pg-1", "pg-2", "pg-3"]
STALE_KEYS = {
    "count": 3,
    "truncated": False,
    "kvs": [
        {"key": PREFIX + "config", "value": "{}"},
        {"key": PREFIX + "initialize", "value": "7301"},
        {"key": PREFIX + "members/pg-1", "value": "{}"},
    ],
}
CONTROLDATA = """pg_control version number:            1300
Catalog version number:               202209061
Database system identifier:           7441234567890123456
Database cluster state:               shut down in recovery
"""


def waiting(name):
    """A member whose Patroni waits for a leader to bootstrap, with an empty data directory."""
    return {
        "name": name,
        "service": "active",
        "api_role": "uninitialized",
        "api_state": "stopped",
        "data_dir": "/var/lib/postgresql/15/postgres-cluster",
        "pg_version": "",
        "controldata": "",
    }


def verdict(observations, keys=None, members=None):
    return patroni_stale_dcs_verdict(
        observations, members or MEMBERS, "postgres-cluster", PREFIX, STALE_KEYS if keys is None else keys
    )


def test_every_member_waiting_with_empty_data_is_stuck():
    result = verdict([waiting(name) for name in MEMBERS])
    assert result["stuck"] is True
    assert result["reasons"] == []
    assert "postgres-cluster is stuck on stale keys" in result["msg"]


def test_stopped_members_with_empty_data_count_as_stuck():
    stopped = dict(waiting("pg-2"), service="inactive", api_role="", api_state="")
    failed = dict(waiting("pg-3"), service="failed", api_role="", api_state="")
    assert verdict([waiting("pg-1"), stopped, failed])["stuck"] is True


def test_a_leader_key_in_etcd_refuses():
    keys = dict(STALE_KEYS, count=4, kvs=STALE_KEYS["kvs"] + [{"key": PREFIX + "leader", "value": "pg-2"}])
    result = verdict([waiting(name) for name in MEMBERS], keys=keys)
    assert result["stuck"] is False
    assert result["reasons"] == [
        "etcd holds the leader key /service/postgres-cluster/leader (member pg-2): the cluster has a leader,"
        " it is not stuck"
    ]
    assert result["msg"].startswith("Not recovering postgres-cluster, it is not stuck on stale keys: etcd holds")
    assert result["msg"].endswith("Nothing was deleted.")


@pytest.mark.parametrize("role", ["primary", "leader", "master", "standby_leader"])
def test_a_member_reporting_a_leader_role_refuses(role):
    leader = dict(waiting("pg-1"), api_role=role, api_state="running")
    result = verdict([leader, waiting("pg-2"), waiting("pg-3")])
    assert result["reasons"] == [
        f"member pg-1 reports the role '{role}' (state 'running'): the cluster has a leader, it is not stuck"
    ]


def test_a_replica_refuses():
    replica = dict(waiting("pg-3"), api_role="replica", api_state="streaming")
    result = verdict([waiting("pg-1"), waiting("pg-2"), replica])
    assert result["stuck"] is False
    assert result["reasons"] == [
        "member pg-3 reports the role 'replica' (state 'streaming'), not 'uninitialized': it is not waiting for"
        " a leader"
    ]


def test_an_unreachable_member_refuses():
    result = verdict([waiting("pg-1"), waiting("pg-3")])
    assert result["reasons"] == [
        "member pg-2 could not be checked (unreachable, or a check on it failed: see above), so its data directory"
        " may hold the cluster"
    ]


def test_a_running_patroni_whose_api_does_not_answer_refuses():
    silent = dict(waiting("pg-2"), service="active", api_role="", api_state="")
    activating = dict(waiting("pg-3"), service="activating", api_role="", api_state="")
    result = verdict([waiting("pg-1"), silent, activating])
    assert [reason.split(":")[0] for reason in result["reasons"]] == [
        "member pg-2",
        "member pg-3",
    ]
    assert "Patroni is active but its REST API does not answer" in result["reasons"][0]
    assert "Patroni is activating" in result["reasons"][1]


def test_the_failover_window_one_empty_replica_while_others_hold_data_refuses():
    """The issue's case: pg-3 is new and empty (uninitialized), pg-1 and pg-2 are stopped with their data."""
    holder_1 = dict(
        waiting("pg-1"), service="inactive", api_role="", api_state="", pg_version="15\n", controldata=CONTROLDATA
    )
    holder_2 = dict(waiting("pg-2"), service="inactive", api_role="", api_state="", pg_version="15")
    result = verdict([holder_1, holder_2, waiting("pg-3")])
    assert result["stuck"] is False
    assert result["reasons"] == [
        "member pg-1: its data directory /var/lib/postgresql/15/postgres-cluster holds a PostgreSQL cluster"
        " (PG_VERSION 15, system identifier 7441234567890123456, state 'shut down in recovery'), which a new"
        " bootstrap would abandon: start Patroni there so that it leads again, or, if that data is to be thrown"
        " away, move the directory aside first",
        "member pg-2: its data directory /var/lib/postgresql/15/postgres-cluster holds a PostgreSQL cluster"
        " (PG_VERSION 15), which a new bootstrap would abandon: start Patroni there so that it leads again, or, if"
        " that data is to be thrown away, move the directory aside first",
    ]


def test_pg_controldata_alone_shows_a_cluster():
    """PG_VERSION lost but pg_control readable still counts as data."""
    holder = dict(waiting("pg-2"), controldata=CONTROLDATA)
    result = verdict([waiting("pg-1"), holder, waiting("pg-3")])
    assert len(result["reasons"]) == 1
    assert "(system identifier 7441234567890123456, state 'shut down in recovery')" in result["reasons"][0]


def test_no_keys_refuses():
    result = verdict([waiting(name) for name in MEMBERS], keys={"count": 0, "truncated": False, "kvs": []})
    assert result["reasons"] == ["etcd holds no keys under /service/postgres-cluster/: nothing stale to remove"]


def test_too_many_keys_to_save_refuses():
    result = verdict([waiting(name) for name in MEMBERS], keys=dict(STALE_KEYS, count=5000, truncated=True))
    assert result["reasons"] == [
        "etcd holds 5000 keys under /service/postgres-cluster/, more than could be read to save them first:"
        " is that Patroni state?"
    ]


def test_every_failed_condition_is_named_in_one_message():
    keys = dict(STALE_KEYS, kvs=STALE_KEYS["kvs"] + [{"key": PREFIX + "leader", "value": "pg-1"}])
    leader = dict(waiting("pg-1"), api_role="primary", api_state="running", pg_version="15")
    result = verdict([leader, waiting("pg-2")], keys=keys)
    assert len(result["reasons"]) == 4
    for reason in result["reasons"]:
        assert reason in result["msg"]
    assert [r.split(" ")[1] for r in result["reasons"][1:]] == ["pg-1", "pg-1:", "pg-3"]


def test_another_scope_leader_key_is_not_ours():
    keys = dict(STALE_KEYS, kvs=STALE_KEYS["kvs"] + [{"key": "/service/postgres-cluster-2/leader", "value": "x"}])
    assert verdict([waiting(name) for name in MEMBERS], keys=keys)["stuck"] is True


@pytest.mark.parametrize(
    ("observations", "members", "keys"),
    [
        ("pg-1", MEMBERS, STALE_KEYS),
        ([{"service": "active"}], MEMBERS, STALE_KEYS),
        ([waiting("pg-1")], [], STALE_KEYS),
        ([waiting("pg-1")], MEMBERS, None),
    ],
)
def test_bad_input_is_refused(observations, members, keys):
    with pytest.raises(AnsibleFilterError, match="patroni_stale_dcs_verdict"):
        patroni_stale_dcs_verdict(observations, members, "postgres-cluster", PREFIX, keys)


def test_the_filter_is_registered():
    assert FilterModule().filters()["patroni_stale_dcs_verdict"] is patroni_stale_dcs_verdict
