"""Unit tests of the Patroni REST client and health evaluation; only the HTTP boundary (open_url) is replaced.

The cluster shapes are answers captured from real clusters on loopback (Patroni 4.1.5 and Debian's
3.0.2, PostgreSQL 15, etcd 3.5; see tests/integration/patronilab.py), trimmed to one or three members.
"""

import copy
import io
import json
import ssl
from urllib.error import HTTPError, URLError

import pytest
from ansible_collections.gardenos.cluster.plugins.module_utils import patroni_rest as pr
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError

MB = 1024 * 1024
PW = "unit-test-pw"


def replica4(name, port, *, lag=0, receive_lag=0, replay_lag=0, state="streaming", timeline=1):
    return {
        "name": name,
        "role": "replica",
        "state": state,
        "api_url": f"http://127.0.0.1:{port}/patroni",
        "host": "127.0.0.1",
        "port": port + 1,
        "timeline": timeline,
        "receive_lag": receive_lag,
        "receive_lsn": "0/4CC4000",
        "replay_lag": replay_lag,
        "replay_lsn": "0/4000000",
        "lag": lag,
        "lsn": "0/4CC4000",
    }


# GET /cluster of Patroni 4.1.5: leader + 2 streaming replicas.
CLUSTER_4 = {
    "members": [
        {
            "name": "pg-0",
            "role": "leader",
            "state": "running",
            "api_url": "http://127.0.0.1:57243/patroni",
            "host": "127.0.0.1",
            "port": 33271,
            "timeline": 1,
        },
        replica4("pg-1", 51905),
        replica4("pg-2", 50291),
    ],
    "scope": "pg4",
}
PATRONI_4_LEADER = {
    "state": "running",
    "role": "primary",
    "server_version": 150020,
    "timeline": 1,
    "dcs_last_seen": 1795458200,
    "patroni": {"version": "4.1.5", "scope": "pg4", "name": "pg-0"},
}

# GET /cluster of Debian's Patroni 3.0.2: no scope, replicas "running", only "lag".
CLUSTER_3 = {
    "members": [
        {
            "name": "pg3-0",
            "role": "replica",
            "state": "running",
            "api_url": "http://127.0.0.1:58145/patroni",
            "host": "127.0.0.1",
            "port": 35361,
            "timeline": 1,
            "lag": 0,
        },
        {
            "name": "pg3-1",
            "role": "leader",
            "state": "running",
            "api_url": "http://127.0.0.1:49643/patroni",
            "host": "127.0.0.1",
            "port": 44219,
            "timeline": 1,
        },
        {
            "name": "pg3-2",
            "role": "replica",
            "state": "running",
            "api_url": "http://127.0.0.1:57561/patroni",
            "host": "127.0.0.1",
            "port": 37353,
            "timeline": 1,
            "lag": 0,
        },
    ]
}
PATRONI_3_REPLICA = {
    "state": "running",
    "role": "replica",
    "server_version": 150020,
    "xlog": {"received_location": 67108864, "replayed_location": 67108864, "paused": False},
    "timeline": 1,
    "patroni": {"version": "3.0.2", "scope": "pg3"},
}


def stopped4(name, port):
    unknown = "unknown"
    return {
        "name": name,
        "role": "replica",
        "state": "stopped",
        "api_url": f"http://127.0.0.1:{port}/patroni",
        "host": "127.0.0.1",
        "port": port + 1,
        "receive_lsn": unknown,
        "receive_lag": unknown,
        "replay_lsn": unknown,
        "replay_lag": unknown,
        "lsn": unknown,
        "lag": unknown,
    }


# A stuck cluster (data dirs wiped, keys left in etcd): /cluster shows stopped replicas only,
# /patroni (HTTP 503) says uninitialized.
CLUSTER_STUCK = {"members": [stopped4("pg-0", 57243), stopped4("pg-1", 51905), stopped4("pg-2", 50291)], "scope": "pg4"}
PATRONI_STUCK = {
    "state": "stopped",
    "role": "uninitialized",
    "cluster_unlocked": True,
    "dcs_last_seen": 1795458221,
    "patroni": {"version": "4.1.5", "scope": "pg4", "name": "pg-0"},
}


def cluster4(**changes):
    """A copy of CLUSTER_4 with members changed by name: changes = {name: {field: value} or None (removed)}."""
    cluster = copy.deepcopy(CLUSTER_4)
    members = []
    for member in cluster["members"]:
        change = changes.get(member["name"].replace("-", "_"), {})
        if change is None:
            continue
        member.update(change)
        members.append(member)
    cluster["members"] = members
    return cluster


# -- sizes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (1048576, MB),
        ("1048576", MB),
        ("1MB", MB),
        ("512kB", 512 * 1024),
        ("1GB", 1024 * MB),
        ("2TB", 2 * 1024 * 1024 * MB),
        ("100B", 100),
        ("1.5MB", MB + MB // 2),
        (" 16 MB ", 16 * MB),
        ("1mb", MB),
        ("1KB", 1024),
        ("1MiB", MB),
        ("3 bytes", 3),
        (b"1MB", MB),
        (2.0, 2),
    ],
)
def test_parse_size(value, expected):
    assert pr.parse_size(value) == expected


@pytest.mark.parametrize("value", ["1XB", "MB", "", "-1MB", "1..5MB", "1 M B", "ten", True, None, [1], -5, -1.0])
def test_parse_size_rejects(value):
    with pytest.raises(GardenosClusterError, match="max_lag") as info:
        pr.parse_size(value)
    if not isinstance(value, int) or isinstance(value, bool):
        assert "1024-based" in info.value.msg


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0 bytes"),
        (1000, "1000 bytes"),
        (1024, "1 kB"),
        (MB, "1 MB"),
        (13389008, "12.8 MB"),
        (3 * 1024 * MB, "3 GB"),
    ],
)
def test_format_size(value, expected):
    assert pr.format_size(value) == expected


# -- evaluation: healthy shapes -------------------------------------------------------------------


def test_healthy_patroni_4():
    report = pr.evaluate(CLUSTER_4, PATRONI_4_LEADER, expected_members=3, max_lag=MB)
    assert report["healthy"] is True and report["problems"] == []
    assert report["leader"] == "pg-0"
    assert report["scope"] == "pg4"
    assert report["uninitialized"] is False and report["paused"] is False
    leader, first = report["members"][0], report["members"][1]
    assert leader == dict(
        name="pg-0",
        role="leader",
        state="running",
        host="127.0.0.1",
        port=33271,
        api_url="http://127.0.0.1:57243/patroni",
        timeline=1,
        lag=None,
        receive_lag=None,
        replay_lag=None,
    )
    assert first["lag"] == 0 and first["receive_lag"] == 0 and first["replay_lag"] == 0
    assert first["state"] == "streaming" and first["port"] == 51906


def test_healthy_patroni_3_replicas_running_scope_from_patroni():
    report = pr.evaluate(CLUSTER_3, PATRONI_3_REPLICA, expected_members=3)
    assert report["healthy"] is True, report["problems"]
    assert report["leader"] == "pg3-1"
    assert report["scope"] == "pg3"  # 3.0.2's /cluster has none
    assert [m["lag"] for m in report["members"]] == [0, None, 0]
    assert all(m["receive_lag"] is None and m["replay_lag"] is None for m in report["members"])


def test_patroni_3_master_role_is_the_leader():
    cluster = copy.deepcopy(CLUSTER_3)
    cluster["members"][1]["role"] = "master"
    report = pr.evaluate(cluster, None)
    assert report["healthy"] is True and report["leader"] == "pg3-1"
    assert report["scope"] is None


def test_unknown_version_without_streaming_accepts_running_replicas():
    assert pr.evaluate(CLUSTER_3, None)["healthy"] is True


def test_standby_leader_counts_as_leader():
    cluster = cluster4(pg_0={"role": "standby_leader", "state": "streaming"})
    report = pr.evaluate(cluster, PATRONI_4_LEADER)
    assert report["healthy"] is True and report["leader"] == "pg-0"


def test_sync_standby_is_a_replica():
    report = pr.evaluate(cluster4(pg_1={"role": "sync_standby"}), PATRONI_4_LEADER)
    assert report["healthy"] is True


def test_maintenance_mode_is_reported_not_unhealthy():
    cluster = cluster4()
    cluster["pause"] = True
    report = pr.evaluate(cluster, PATRONI_4_LEADER)
    assert report["paused"] is True and report["healthy"] is True


# -- evaluation: every unhealthy condition --------------------------------------------------------


def only_problem(report):
    assert report["healthy"] is False
    assert len(report["problems"]) == 1, report["problems"]
    return report["problems"][0]


def test_no_leader():
    cluster = cluster4(pg_0=None, pg_1={"state": "running"}, pg_2={"state": "running"})
    report = pr.evaluate(cluster, {"role": "replica", "patroni": {"version": "4.1.5"}})
    assert report["leader"] is None and report["uninitialized"] is False
    assert "no member holds the leader lock" in report["problems"][0]
    assert "pg-1, pg-2" in report["problems"][0]
    # and, on 4.x, the replicas that do not stream any more
    assert any("member pg-1 (replica) is in state 'running', not streaming" in p for p in report["problems"])


def test_more_than_one_leader():
    report = pr.evaluate(cluster4(pg_1={"role": "leader", "state": "running"}), PATRONI_4_LEADER)
    assert report["leader"] is None
    assert "more than one member reports the leader role (pg-0, pg-1)" in only_problem(report)


def test_leader_not_running():
    problem = only_problem(pr.evaluate(cluster4(pg_0={"state": "starting"}), PATRONI_4_LEADER))
    assert "leader pg-0 is in state 'starting', not running" in problem


@pytest.mark.parametrize(
    ("state", "hint"),
    [("stopped", "PostgreSQL is not running"), ("creating replica", "pg_basebackup"), ("weird", "Patroni log")],
)
def test_replica_not_streaming(state, hint):
    problem = only_problem(pr.evaluate(cluster4(pg_2={"state": state, "lag": 0}), PATRONI_4_LEADER))
    assert f"member pg-2 (replica) is in state '{state}', not streaming" in problem
    assert hint in problem


def test_replica_running_on_patroni_4_is_not_streaming():
    problem = only_problem(pr.evaluate(cluster4(pg_1={"state": "running"}), PATRONI_4_LEADER))
    assert "pg-1" in problem and "does not stream from the leader" in problem


def test_replica_stopped_on_patroni_3():
    cluster = copy.deepcopy(CLUSTER_3)
    cluster["members"][2].update(state="stopped", lag="unknown")
    del cluster["members"][2]["timeline"]
    problem = only_problem(pr.evaluate(cluster, PATRONI_3_REPLICA))
    assert "member pg3-2 (replica) is in state 'stopped', not running" in problem


def test_replay_paused_replica_lags():
    # captured: replay paused on pg-1, 13 MB written on the leader; Patroni's "lag" stays 0
    cluster = cluster4(pg_1={"lag": 0, "receive_lag": 0, "replay_lag": 13389008})
    report = pr.evaluate(cluster, PATRONI_4_LEADER, max_lag=MB)
    problem = only_problem(report)
    assert problem.startswith("member pg-1 (replica) lags 12.8 MB (13389008 bytes) behind the leader")
    assert "more than max_lag 1 MB" in problem and "pg_wal_replay_resume()" in problem
    assert report["members"][1]["lag"] == 13389008
    assert pr.evaluate(cluster, PATRONI_4_LEADER, max_lag=16 * MB)["healthy"] is True


def test_receive_lag_means_not_keeping_up():
    cluster = cluster4(pg_2={"lag": 5 * MB, "receive_lag": 5 * MB, "replay_lag": 5 * MB})
    problem = only_problem(pr.evaluate(cluster, PATRONI_4_LEADER, max_lag=MB))
    assert "member pg-2 (replica) lags 5 MB" in problem and "does not keep up" in problem


def test_lag_on_patroni_3():
    cluster = copy.deepcopy(CLUSTER_3)
    cluster["members"][0]["lag"] = 2 * MB
    problem = only_problem(pr.evaluate(cluster, PATRONI_3_REPLICA, max_lag=MB))
    assert "member pg3-0 (replica) lags 2 MB (2097152 bytes)" in problem


def test_lag_equal_to_max_lag_is_fine():
    cluster = cluster4(pg_1={"lag": MB, "receive_lag": MB, "replay_lag": MB})
    assert pr.evaluate(cluster, PATRONI_4_LEADER, max_lag=MB)["healthy"] is True


@pytest.mark.parametrize("field", ["lag", "replay_lag"])
def test_unknown_lag(field):
    report = pr.evaluate(cluster4(pg_2={field: "unknown"}), PATRONI_4_LEADER)
    assert "member pg-2 (replica): its replication lag is unknown" in only_problem(report)
    assert report["members"][2]["lag"] is None


def test_missing_lag_on_a_replica_is_unknown():
    cluster = copy.deepcopy(CLUSTER_3)
    del cluster["members"][0]["lag"]
    assert "pg3-0 (replica): its replication lag is unknown" in only_problem(pr.evaluate(cluster, PATRONI_3_REPLICA))


def test_timelines_differ():
    report = pr.evaluate(cluster4(pg_0={"timeline": 2}, pg_2={"timeline": 2}), PATRONI_4_LEADER)
    problem = only_problem(report)
    assert "different timelines (pg-0 on 2, pg-1 on 1, pg-2 on 2)" in problem
    assert "pg-1 has not followed the leader's timeline 2" in problem
    assert "patronictl reinit pg4" in problem


@pytest.mark.parametrize(("expected", "words"), [(4, "expected 4: a member's Patroni"), (2, "more members")])
def test_expected_members(expected, words):
    problem = only_problem(pr.evaluate(CLUSTER_4, PATRONI_4_LEADER, expected_members=expected))
    assert problem.startswith("3 members registered in the DCS (pg-0, pg-1, pg-2)")
    assert words in problem


def test_missing_member():
    report = pr.evaluate(cluster4(pg_2=None), PATRONI_4_LEADER, expected_members=3)
    assert "2 members registered in the DCS (pg-0, pg-1), expected 3" in only_problem(report)


def test_uninitialized_cluster():
    report = pr.evaluate(CLUSTER_STUCK, PATRONI_STUCK, expected_members=3)
    assert report["uninitialized"] is True and report["leader"] is None
    problem = only_problem(report)  # not one more sentence per stopped member
    assert "the cluster pg4 is not initialized" in problem
    assert "/service/pg4/" in problem and "gardenos.cluster.etcd_deleterange" in problem
    assert all(m["lag"] is None and m["timeline"] is None for m in report["members"])


def test_uninitialized_from_member_roles_without_patroni_answer():
    cluster = copy.deepcopy(CLUSTER_STUCK)
    cluster["members"][0]["role"] = "uninitialized"
    assert pr.evaluate(cluster, None)["uninitialized"] is True


def test_not_uninitialized_while_a_leader_exists():
    report = pr.evaluate(cluster4(pg_2={"role": "uninitialized", "state": "creating replica"}), PATRONI_STUCK)
    assert report["uninitialized"] is False
    assert "member pg-2 (uninitialized) is in state 'creating replica'" in only_problem(report)


def test_no_members():
    report = pr.evaluate({"members": [], "scope": "x"}, None)
    assert "no member is registered in the DCS" in only_problem(report)


def test_not_a_cluster_answer():
    with pytest.raises(GardenosClusterError, match="not a JSON object"):
        pr.evaluate(["members"], None)


# -- the client against a fake HTTP boundary ------------------------------------------------------


class FakeResponse:
    def __init__(self, payload, status=200):
        self._body = io.BytesIO(payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        self.status = status

    def read(self, amt=None):
        return self._body.read(amt)


class FakePatroni:
    """Plays the HTTP side of open_url: maps a URL to answers (a payload, an exception, or (status, payload))."""

    def __init__(self, monkeypatch):
        self.calls = []
        self.routes = {}
        monkeypatch.setattr(pr, "open_url", self)

    def route(self, url, *answers):
        self.routes.setdefault(url, []).extend(answers)

    def __call__(self, url, **kwargs):
        self.calls.append(dict(url=url, **kwargs))
        answers = self.routes.get(url)
        if not answers:
            raise URLError(ConnectionRefusedError(111, "Connection refused"))
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, tuple):
            status, payload = answer
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            raise HTTPError(url, status, "error", {}, io.BytesIO(body))
        return FakeResponse(answer)


def test_failover_to_the_second_url_and_remember_it(monkeypatch):
    fake = FakePatroni(monkeypatch)
    fake.route("http://b:8008/cluster", CLUSTER_4)
    fake.route("http://b:8008/patroni", PATRONI_4_LEADER)
    client = pr.PatroniClient(["a:8008", "http://b:8008/patroni"], timeout=2)
    cluster, patroni = client.state()
    assert cluster == CLUSTER_4 and patroni == PATRONI_4_LEADER
    assert [c["url"] for c in fake.calls] == ["http://a:8008/cluster", "http://b:8008/cluster", "http://b:8008/patroni"]
    assert all(c["timeout"] == 2 and c["use_proxy"] is False for c in fake.calls)
    assert client.url == "http://b:8008"
    client.state()
    assert fake.calls[3]["url"] == "http://b:8008/cluster"  # the one that answered goes first


def test_an_answer_that_is_not_patroni_fails_over(monkeypatch):
    fake = FakePatroni(monkeypatch)
    fake.route("http://a:8008/cluster", (404, b"<html>not found</html>"))
    fake.route("http://b:8008/cluster", b"<html>welcome</html>")
    fake.route("http://c:8008/cluster", CLUSTER_3)
    client = pr.PatroniClient(["http://a:8008", "http://b:8008", "http://c:8008"])
    url, cluster = client.cluster()
    assert url == "http://c:8008" and cluster == CLUSTER_3


def test_no_url_answers(monkeypatch):
    fake = FakePatroni(monkeypatch)
    fake.route("http://b:8008/cluster", (401, {"error": "no"}))
    with pytest.raises(GardenosClusterError) as info:
        pr.PatroniClient(["http://a:8008", "http://b:8008"]).cluster()
    msg = info.value.msg
    assert msg.startswith("cannot read the Patroni cluster state from any URL")
    assert "http://a:8008: connection refused" in msg
    assert "http://b:8008/cluster: HTTP 401, access refused" in msg
    assert info.value.details["urls"] == ["http://a:8008", "http://b:8008"]


def test_patroni_503_is_an_answer_and_its_failure_is_tolerated(monkeypatch):
    fake = FakePatroni(monkeypatch)
    fake.route("http://a:8008/cluster", CLUSTER_STUCK)
    fake.route("http://a:8008/patroni", (503, PATRONI_STUCK))
    client = pr.PatroniClient(["http://a:8008"])
    assert client.state() == (CLUSTER_STUCK, PATRONI_STUCK)
    fake.routes["http://a:8008/patroni"] = [(500, b"oops")]
    assert client.state() == (CLUSTER_STUCK, None)


def test_tls_and_credentials_reach_open_url(monkeypatch):
    fake = FakePatroni(monkeypatch)
    fake.route("https://a:8008/cluster", CLUSTER_4)
    fake.route("https://a:8008/patroni", PATRONI_4_LEADER)
    params = dict(
        urls=["a:8008"],
        ca_cert="/ca.pem",
        client_cert="/c.pem",
        client_key="/k.pem",
        username="patroni",
        password=PW,
        timeout=None,
        validate_certs=False,
    )
    pr.PatroniClient.from_params(params).state()
    call = fake.calls[0]
    assert call["url"] == "https://a:8008/cluster"
    assert call["ca_path"] == "/ca.pem" and call["client_cert"] == "/c.pem" and call["client_key"] == "/k.pem"
    assert call["validate_certs"] is False and call["timeout"] == pr.DEFAULT_TIMEOUT
    assert call["url_username"] == "patroni" and call["url_password"] == PW and call["force_basic_auth"] is True
    assert call["follow_redirects"] == "none" and call["use_netrc"] is False


def test_certificate_errors_are_explained(monkeypatch):
    fake = FakePatroni(monkeypatch)
    fake.route("https://a:8008/cluster", URLError(ssl.SSLCertVerificationError(1, "certificate verify failed")))
    with pytest.raises(GardenosClusterError, match="set ca_cert to the CA that signed the Patroni REST API server"):
        pr.PatroniClient(["https://a:8008"]).cluster()


@pytest.mark.parametrize(
    ("url", "tls", "expected"),
    [
        ("10.0.0.1:8008", False, "http://10.0.0.1:8008"),
        ("10.0.0.1:8008", True, "https://10.0.0.1:8008"),
        ("http://10.0.0.1:8008/", True, "http://10.0.0.1:8008"),
        ("http://10.0.0.1:8008/patroni", False, "http://10.0.0.1:8008"),
    ],
)
def test_normalize_api_url(url, tls, expected):
    assert pr.normalize_api_url(url, tls) == expected


def test_bad_urls():
    with pytest.raises(GardenosClusterError, match="only http"):
        pr.PatroniClient(["ftp://a:8008"])
    with pytest.raises(GardenosClusterError, match="at least one"):
        pr.PatroniClient([])
    with pytest.raises(GardenosClusterError, match="empty"):
        pr.PatroniClient([" "])


def test_argument_spec_merges_without_sharing():
    spec = pr.patroni_argument_spec(expected_members=dict(type="int"))
    assert spec["password"]["no_log"] is True and spec["expected_members"]["type"] == "int"
    spec["timeout"]["default"] = 1
    assert pr.PATRONI_COMMON_ARGUMENT_SPEC["timeout"]["default"] == pr.DEFAULT_TIMEOUT


# -- waiting --------------------------------------------------------------------------------------


class Clock:
    def __init__(self, monkeypatch):
        self.now = 1000.0
        self.sleeps = []
        monkeypatch.setattr(pr.time, "monotonic", lambda: self.now)
        monkeypatch.setattr(pr.time, "sleep", self.sleep)

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


FAILING_OVER = cluster4(pg_0={"name": "pg-0"}, pg_1={"state": "running"}, pg_2={"state": "running"})
FAILED_OVER = cluster4(pg_0=None, pg_1={"role": "leader", "state": "running", "timeline": 2}, pg_2={"timeline": 2})


def waiting(monkeypatch, *cluster_answers):
    """(fake clock, client) for a member that answers /cluster with ``cluster_answers`` in turn."""
    clock = Clock(monkeypatch)
    fake = FakePatroni(monkeypatch)
    fake.route("http://a:8008/cluster", *cluster_answers)
    fake.route("http://a:8008/patroni", PATRONI_4_LEADER)
    return clock, pr.PatroniClient(["http://a:8008"])


def test_check_once_reports_unhealthy_without_waiting(monkeypatch):
    clock, client = waiting(monkeypatch, FAILING_OVER)
    report = pr.check(client, wait_timeout=0)
    assert report["healthy"] is False and clock.sleeps == []


def test_wait_until_healthy(monkeypatch):
    # the dead leader still listed, then nobody answers for a moment, then the new leader
    clock, client = waiting(monkeypatch, FAILING_OVER, FAILING_OVER, URLError(OSError("boom")), FAILED_OVER)
    report = pr.check(client, expected_members=2, wait_timeout=30)
    assert report["healthy"] is True and report["leader"] == "pg-1"
    assert clock.sleeps == [pr.POLL_INTERVAL] * 3


def test_wait_times_out_with_the_last_state(monkeypatch):
    clock, client = waiting(monkeypatch, FAILING_OVER)
    report = pr.check(client, wait_timeout=5)
    assert report["healthy"] is False and report["leader"] == "pg-0"
    assert 4 <= len(clock.sleeps) <= 5


def test_wait_raises_when_nothing_answers_at_the_end(monkeypatch):
    Clock(monkeypatch)
    FakePatroni(monkeypatch)
    with pytest.raises(GardenosClusterError, match=r"connection refused \(waited 3s\)"):
        pr.check(pr.PatroniClient(["http://a:8008"]), wait_timeout=3)
