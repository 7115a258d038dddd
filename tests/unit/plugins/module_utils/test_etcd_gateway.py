"""Unit tests of the etcd gateway client and of what it builds on (etcd_keys, etcd_errors, etcd_members,
etcd_peer_urls); only the HTTP boundary (open_url) is replaced."""

import base64
import io
import json
import re
import ssl
from urllib.error import HTTPError, URLError

import pytest
from ansible_collections.gardenos.cluster.plugins.module_utils import (
    etcd_errors,
    etcd_keys,
    etcd_members,
    etcd_peer_urls,
)
from ansible_collections.gardenos.cluster.plugins.module_utils import etcd_gateway as gw
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        (b"/service/postgres-cluster/", b"/service/postgres-cluster0"),
        (b"/service/postgres-cluster", b"/service/postgres-clustes"),
        (b"a", b"b"),
        (b"a\xff", b"b"),
        (b"a\xff\xff", b"b"),
        (b"\x01\xff", b"\x02"),
        (b"ab\xfe", b"ab\xff"),
        (b"\xff", b"\0"),
        (b"\xff\xff\xff", b"\0"),
        (b"", b"\0"),
        (b"/", b"0"),
    ],
)
def test_range_end_for_prefix(prefix, expected):
    assert etcd_keys.range_end_for_prefix(prefix) == expected


def test_prefix_range_excludes_sibling_clusters():
    start = b"/service/postgres-cluster/"
    end = etcd_keys.range_end_for_prefix(start)
    inside = [b"/service/postgres-cluster/leader", b"/service/postgres-cluster/members/pg-1"]
    outside = [b"/service/postgres-cluster", b"/service/postgres-cluster-2/leader", b"/service/postgres-cluster0"]
    assert all(start <= k < end for k in inside)
    assert not any(start <= k < end for k in outside)


@pytest.mark.parametrize(
    ("cluster", "server", "expected"),
    [
        ("3.2.0", None, "/v3alpha"),
        ("3.3.0", None, "/v3beta"),
        ("3.4.0", None, "/v3"),
        ("3.5.0", "3.5.1", "/v3"),
        ("3.10.0", None, "/v3"),
        ("not_decided", "3.3.25", "/v3beta"),
        # Just after a bootstrap or a restore the cluster version says 3.0.0: the server decides.
        ("3.0.0", "3.4.23", "/v3"),
        ("3.0.0", "3.5.1", "/v3"),
        ("3.4.0", "3.3.25", "/v3beta"),
        ("", "", "/v3"),
        (None, None, "/v3"),
    ],
)
def test_api_prefix_for_version(cluster, server, expected):
    assert gw.api_prefix_for_version(cluster, server) == expected


def test_member_ids_round_trip():
    assert etcd_members.member_id_to_hex("10276657743932975437") == "8e9e05c52164694d"
    assert etcd_members.member_id_to_decimal("8e9e05c52164694d") == "10276657743932975437"


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (7, "etcdserver: permission denied", "permission denied"),
        (3, "etcdserver: user name is empty", "set username and password"),
        (3, "etcdserver: authentication failed, invalid user ID or password", "wrong username or password"),
        (16, "etcdserver: invalid auth token", "rejected the auth token"),
        (16, "", "set username and password"),
        (14, "etcdserver: unhealthy cluster", "cluster is not healthy"),
        (14, "etcdserver: no leader", "has no leader"),
        (9, "etcdserver: can only promote a learner member which is in sync with leader", "not caught up"),
        (9, "etcdserver: can only promote a learner member", "voting member already"),
        (8, "etcdserver: mvcc: database space exceeded", "NOSPACE"),
        (3, "etcdserver: too many operations in txn request", "--max-txn-ops"),
        (2, "something new", "etcd returned an error"),
    ],
)
def test_describe_grpc_error(code, message, expected):
    text = etcd_errors.describe_grpc_error(code, message)
    assert expected in text
    assert f"gRPC code {code} {etcd_errors.GRPC_CODE_NAMES[code]}" in text
    if message:
        assert message in text


def test_error_from_json_body():
    body = json.dumps({"error": "etcdserver: permission denied", "code": 7, "message": "etcdserver: permission denied"})
    err = etcd_errors.error_from_response(403, body.encode(), "http://e:2379/v3/kv/range")
    assert isinstance(err, GardenosClusterError)
    assert err.details["grpc_code"] == 7
    assert err.details["etcd_error"] == "etcdserver: permission denied"
    assert "permission denied" in err.msg and "http://e:2379/v3/kv/range" in err.msg
    assert err.to_result()["msg"] == err.msg


def test_error_from_plain_body():
    err = etcd_errors.error_from_response(404, b"404 page not found\n", "http://e:2379/v3alpha/kv/range")
    assert "grpc_code" not in err.details
    assert "HTTP 404" in err.msg and "API path" in err.msg


@pytest.mark.parametrize(
    ("endpoint", "tls", "expected"),
    [
        ("127.0.0.1:2379", False, "http://127.0.0.1:2379"),
        ("127.0.0.1:2379", True, "https://127.0.0.1:2379"),
        ("https://e:2379/", False, "https://e:2379"),
    ],
)
def test_normalize_endpoint(endpoint, tls, expected):
    assert gw.normalize_endpoint(endpoint, tls) == expected


def test_normalize_endpoint_rejects_other_schemes():
    with pytest.raises(GardenosClusterError, match="only http"):
        gw.normalize_endpoint("unix:///run/etcd.sock", False)


def test_argument_spec_merges_without_sharing():
    spec = gw.etcd_argument_spec(key=dict(type="str", required=True))
    assert spec["password"]["no_log"] is True
    assert spec["key"]["required"] is True
    spec["timeout"]["default"] = 1
    assert gw.ETCD_COMMON_ARGUMENT_SPEC["timeout"]["default"] == gw.DEFAULT_TIMEOUT


# -- the client against a fake HTTP boundary ------------------------------------------------------


class FakeResponse:
    def __init__(self, payload):
        self._body = io.BytesIO(json.dumps(payload).encode())

    def read(self, amt=None):
        return self._body.read(amt)


class FakeEtcd:
    """Plays the HTTP side of open_url: maps (endpoint, path) to an answer or an exception."""

    def __init__(self, monkeypatch):
        self.calls = []
        self.routes = {}
        monkeypatch.setattr(gw, "open_url", self)

    def route(self, url, answer):
        self.routes.setdefault(url, []).append(answer)

    def __call__(self, url, data=None, headers=None, method=None, timeout=None, **kwargs):
        body = json.loads(data) if data else None
        self.calls.append(dict(url=url, body=body, headers=headers or {}, method=method, timeout=timeout, **kwargs))
        answers = self.routes.get(url)
        if not answers:
            raise URLError(ConnectionRefusedError(111, "Connection refused"))
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return FakeResponse(answer(body, headers or {}))
        return FakeResponse(answer)


def http_error(url, status, code, message):
    body = json.dumps({"error": message, "code": code, "message": message}).encode()
    return HTTPError(url, status, "error", {}, io.BytesIO(body))


PW = "unit-test-pw"
VERSION_35 = {"etcdserver": "3.5.1", "etcdcluster": "3.5.0"}
# The header of every KV, lease, cluster, maintenance and auth answer of a real etcd (3.4 and 3.5);
# cluster calls have no revision.
HEADER = {"cluster_id": "18156514302893669684", "member_id": "8942119215218888726", "revision": "7", "raft_term": "2"}


def etcd_answer(revision=None, **fields):
    """An answer of etcd's gateway: its header (at ``revision``), then ``fields``."""
    header = dict(HEADER, revision=revision) if revision else HEADER
    return {"header": header, **fields}


def test_failover_to_next_endpoint_and_remember_it(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    fake.route("http://b:2379/version", VERSION_35)
    fake.route("http://b:2379/v3/kv/range", etcd_answer("5", count="3"))
    client = gw.EtcdClient(["http://a:2379", "http://b:2379"], timeout=3)
    assert client.range(b"/x", count_only=True)["count"] == "3"
    assert client.endpoint == "http://b:2379"
    fake.calls.clear()
    client.range(b"/x", count_only=True)
    assert [c["url"] for c in fake.calls] == ["http://b:2379/v3/kv/range"]
    assert all(c["timeout"] == 3 for c in fake.calls)
    assert fake.calls[0]["body"] == {"key": base64.b64encode(b"/x").decode(), "count_only": True}


def test_unavailable_member_fails_over(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    for host in ("a", "b"):
        fake.route(f"http://{host}:2379/version", VERSION_35)
    fake.route("http://a:2379/v3/kv/deleterange", http_error("u", 503, 14, "etcdserver: no leader"))
    fake.route("http://b:2379/v3/kv/deleterange", etcd_answer(deleted="2"))
    client = gw.EtcdClient(["a:2379", "b:2379"])
    assert client.delete_range(b"/a/", b"/a0") == 2


def test_nothing_deleted_means_zero(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    fake.route("http://a:2379/version", VERSION_35)
    fake.route("http://a:2379/v3/kv/deleterange", etcd_answer("9"))
    assert gw.EtcdClient(["http://a:2379"]).delete_range(b"/nothing") == 0


def test_guarded_delete(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    fake.route("http://a:2379/version", VERSION_35)
    fake.route(
        "http://a:2379/v3/kv/txn",
        etcd_answer(succeeded=True, responses=[{"response_delete_range": {"deleted": "7"}}]),
    )
    fake.route("http://a:2379/v3/kv/txn", etcd_answer())
    client = gw.EtcdClient(["http://a:2379"])
    assert client.delete_range(b"/s/", b"/s0", unchanged_since=41) == 7
    compare = fake.calls[-1]["body"]["compare"][0]
    assert compare["mod_revision"] == "42" and compare["result"] == "LESS" and compare["target"] == "MOD"
    assert client.delete_range(b"/s/", b"/s0", unchanged_since=41) is None


def test_all_endpoints_down(monkeypatch):
    FakeEtcd(monkeypatch)
    client = gw.EtcdClient(["http://a:2379", "http://b:2379"])
    with pytest.raises(GardenosClusterError) as info:
        client.member_list()
    assert "cannot reach etcd at any endpoint" in info.value.msg
    assert "http://a:2379: connection refused" in info.value.msg
    assert "http://b:2379: connection refused" in info.value.msg


def test_permission_denied_is_not_failed_over(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    fake.route("http://a:2379/version", VERSION_35)
    fake.route("http://a:2379/v3/kv/range", http_error("u", 403, 7, "etcdserver: permission denied"))
    fake.route("http://b:2379/v3/kv/range", etcd_answer(count="1"))
    client = gw.EtcdClient(["http://a:2379", "http://b:2379"])
    with pytest.raises(GardenosClusterError) as info:
        client.range(b"/x")
    assert info.value.details["grpc_code"] == 7
    assert "permission denied" in info.value.msg
    assert not any(c["url"].startswith("http://b") for c in fake.calls)


def test_auth_token_sent_without_bearer(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    fake.route("http://a:2379/version", {"etcdserver": "3.4.23", "etcdcluster": "3.4.0"})
    fake.route("http://a:2379/v3/auth/authenticate", etcd_answer(token="tok.1"))
    fake.route("http://a:2379/v3/cluster/member/list", etcd_answer(members=[{"ID": "10", "name": "e1"}]))
    client = gw.EtcdClient(["http://a:2379"], username="root", password=PW)
    members = client.member_list()
    assert members == [dict(id="a", name="e1", peer_urls=[], client_urls=[], is_learner=False)]
    auth = [c for c in fake.calls if c["url"].endswith("/authenticate")]
    assert auth[0]["body"] == {"name": "root", "password": PW}
    assert "Authorization" not in auth[0]["headers"]
    assert fake.calls[-1]["headers"]["Authorization"] == "tok.1"


def test_stale_token_is_renewed_once(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    fake.route("http://a:2379/version", VERSION_35)
    fake.route("http://a:2379/v3/auth/authenticate", etcd_answer(token="old"))
    fake.route("http://a:2379/v3/auth/authenticate", etcd_answer(token="new"))

    def member_list(body, headers):
        if headers.get("Authorization") != "new":
            raise http_error("u", 401, 16, "etcdserver: invalid auth token")
        return etcd_answer(members=[])

    fake.route("http://a:2379/v3/cluster/member/list", member_list)
    client = gw.EtcdClient(["http://a:2379"], username="root", password=PW)
    assert client.member_list() == []


def test_username_on_cluster_without_auth(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    fake.route("http://a:2379/version", VERSION_35)
    fake.route(
        "http://a:2379/v3/auth/authenticate",
        http_error("u", 400, 9, "etcdserver: authentication is not enabled"),
    )
    fake.route("http://a:2379/v3/maintenance/status", etcd_answer(version="3.5.1"))
    client = gw.EtcdClient(["http://a:2379"], username="root", password=PW)
    assert client.status()["version"] == "3.5.1"
    assert "Authorization" not in fake.calls[-1]["headers"]


def test_a_learner_is_asked_its_status_without_a_token(monkeypatch):
    """A learner refuses Authenticate (measured on 3.5 with auth on) but answers status anonymously;
    the next endpoint, a voter, still authenticates."""
    fake = FakeEtcd(monkeypatch)
    fake.route("http://l:2379/version", VERSION_35)
    fake.route(
        "http://l:2379/v3/auth/authenticate",
        http_error("u", 503, 14, "etcdserver: rpc not supported for learner"),
    )
    fake.route("http://l:2379/v3/maintenance/status", etcd_answer(version="3.5.1", isLearner=True))
    fake.route("http://v:2379/v3/auth/authenticate", etcd_answer(token="tok.v"))
    fake.route("http://v:2379/v3/maintenance/status", etcd_answer(version="3.5.1"))
    client = gw.EtcdClient(["http://l:2379", "http://v:2379"], username="root", password=PW)
    assert client.status("http://l:2379")["version"] == "3.5.1"
    assert "Authorization" not in fake.calls[-1]["headers"]
    client.status("http://v:2379")
    assert fake.calls[-1]["headers"]["Authorization"] == "tok.v"


def test_missing_credentials_message(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    fake.route("http://a:2379/version", VERSION_35)
    fake.route("http://a:2379/v3/kv/range", http_error("u", 400, 3, "etcdserver: user name is empty"))
    with pytest.raises(GardenosClusterError, match="set username and password"):
        gw.EtcdClient(["http://a:2379"]).range(b"/x")


def test_tls_options_reach_open_url(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    fake.route("https://a:2379/version", VERSION_35)
    fake.route("https://a:2379/v3/maintenance/status", etcd_answer())
    client = gw.EtcdClient(
        ["a:2379"], ca_cert="/ca.pem", client_cert="/c.pem", client_key="/k.pem", validate_certs=False
    )
    client.status()
    call = fake.calls[-1]
    assert call["ca_path"] == "/ca.pem" and call["client_cert"] == "/c.pem" and call["client_key"] == "/k.pem"
    assert call["validate_certs"] is False and call["use_proxy"] is False


def test_certificate_errors_are_explained(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    fake.route("https://a:2379/version", URLError(ssl.SSLCertVerificationError(1, "certificate verify failed")))
    with pytest.raises(GardenosClusterError, match="set ca_cert"):
        gw.EtcdClient(["https://a:2379"]).status()


NOT_IN_SYNC = "etcdserver: can only promote a learner member which is in sync with leader"
ALREADY_VOTER = "etcdserver: can only promote a learner member"
COMMIT_TIMED_OUT = "etcdserver: request timed out"


def promotion(monkeypatch, *answers):
    """A client on one etcd 3.5 whose promote calls get ``answers`` in turn (retries do not sleep); the fake."""
    fake = FakeEtcd(monkeypatch)
    monkeypatch.setattr(gw.time, "sleep", lambda s: None)
    fake.route("http://a:2379/version", VERSION_35)
    for answer in answers:
        fake.route("http://a:2379/v3/cluster/member/promote", answer)
    return gw.EtcdClient(["http://a:2379"]), fake


def test_learner_promotion_waits_until_in_sync(monkeypatch):
    client, fake = promotion(
        monkeypatch,
        http_error("u", 400, 9, NOT_IN_SYNC),
        http_error("u", 400, 9, NOT_IN_SYNC),
        etcd_answer(members=[{"ID": "255", "name": "e4"}]),
    )
    members = client.member_promote_when_ready("ff", wait_timeout=30)
    assert members[0]["id"] == "ff" and members[0]["is_learner"] is False
    promotes = [c for c in fake.calls if c["url"].endswith("/promote")]
    assert len(promotes) == 3 and promotes[0]["body"] == {"ID": "255"}


def test_learner_promotion_waits_through_a_commit_that_timed_out(monkeypatch):
    """A promotion etcd did not commit in time is tried again; when that one finds the member a voter already, the
    first one committed after all: the promotion is done, and the members are read."""
    client, fake = promotion(
        monkeypatch, http_error("u", 503, 14, COMMIT_TIMED_OUT), http_error("u", 400, 9, ALREADY_VOTER)
    )
    fake.route("http://a:2379/v3/cluster/member/list", etcd_answer(members=[{"ID": "255", "name": "e4"}]))
    members = client.member_promote_when_ready("ff", wait_timeout=30)
    assert members[0]["id"] == "ff" and members[0]["is_learner"] is False
    assert [c["url"].rsplit("/", 1)[1] for c in fake.calls if "/member/" in c["url"]] == ["promote", "promote", "list"]


def test_a_promotion_is_asked_of_the_leader(monkeypatch):
    """A follower forwards a promotion to the leader without the caller's credentials (etcd issue 14070): with
    auth on it times out. The promotion goes to the client URL of the member /maintenance/status names leader."""
    client, fake = promotion(monkeypatch, http_error("u", 503, 14, COMMIT_TIMED_OUT))
    fake.route("http://a:2379/v3/maintenance/status", etcd_answer(version="3.5.1", leader="16"))
    leader = {"ID": "16", "name": "e2", "clientURLs": ["http://b:2379"]}
    fake.route("http://a:2379/v3/cluster/member/list", etcd_answer(members=[{"ID": "255", "name": "e4"}, leader]))
    fake.route("http://b:2379/v3/cluster/member/promote", etcd_answer(members=[{"ID": "255", "name": "e4"}, leader]))
    members = client.member_promote_when_ready("ff", wait_timeout=30)
    assert [m["name"] for m in members] == ["e4", "e2"]
    promotes = [c["url"] for c in fake.calls if c["url"].endswith("/promote")]
    assert promotes == ["http://b:2379/v3/cluster/member/promote"]


def test_a_promotion_goes_to_any_endpoint_when_the_leader_cannot_be_reached(monkeypatch):
    client, fake = promotion(monkeypatch, etcd_answer(members=[{"ID": "255", "name": "e4"}]))
    fake.route("http://a:2379/v3/maintenance/status", etcd_answer(version="3.5.1", leader="16"))
    leader = {"ID": "16", "name": "e2", "clientURLs": ["http://gone:2379"]}
    fake.route("http://a:2379/v3/cluster/member/list", etcd_answer(members=[leader]))
    client.member_promote_when_ready("ff", wait_timeout=30)
    promotes = [c["url"] for c in fake.calls if c["url"].endswith("/promote")]
    assert promotes == ["http://gone:2379/v3/cluster/member/promote", "http://a:2379/v3/cluster/member/promote"]


def test_a_voter_is_no_promotion_without_an_earlier_timeout(monkeypatch):
    """Asked to promote a voting member first thing, the refusal stands (nothing of this call committed)."""
    client, _fake = promotion(monkeypatch, http_error("u", 400, 9, ALREADY_VOTER))
    with pytest.raises(GardenosClusterError, match="voting member already"):
        client.member_promote_when_ready("ff", wait_timeout=30)


def test_learner_promotion_gives_up_on_timeouts_at_the_deadline(monkeypatch):
    client, _fake = promotion(monkeypatch, http_error("u", 503, 14, COMMIT_TIMED_OUT))
    with pytest.raises(GardenosClusterError, match="did not commit the request in time"):
        client.member_promote_when_ready("ff", wait_timeout=0)


def test_learner_promotion_gives_up(monkeypatch):
    client, _fake = promotion(monkeypatch, http_error("u", 400, 9, NOT_IN_SYNC))
    with pytest.raises(GardenosClusterError, match="did not catch up"):
        client.member_promote_when_ready("ff", wait_timeout=0)


def test_scan_keys_pages_at_one_revision(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    fake.route("http://a:2379/version", VERSION_35)

    def kv(key, lease=None):
        item = {"key": base64.b64encode(key).decode()}
        if lease:
            item["lease"] = lease
        return item

    fake.route(
        "http://a:2379/v3/kv/range",
        etcd_answer("77", kvs=[kv(b"/s/a"), kv(b"/s/leader", "123")], more=True, count="3"),
    )
    fake.route("http://a:2379/v3/kv/range", etcd_answer("77", kvs=[kv(b"/s/z")], count="3"))
    revision, found = gw.EtcdClient(["http://a:2379"]).scan_keys(b"/s/", b"/s0", page_size=2)
    assert revision == 77
    assert found == [(b"/s/a", "0"), (b"/s/leader", "123"), (b"/s/z", "0")]
    second = fake.calls[-1]["body"]
    assert base64.b64decode(second["key"]) == b"/s/leader\0"
    assert second["revision"] == "77" and second["keys_only"] is True and second["limit"] == "2"


def test_peek_counts_and_lists_in_one_request(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    fake.route("http://a:2379/version", VERSION_35)
    kvs = [{"key": base64.b64encode(b"/s/%d" % i).decode()} for i in range(2)]
    fake.route("http://a:2379/v3/kv/range", etcd_answer("9", kvs=kvs, more=True, count="5"))
    count, revision, keys = gw.EtcdClient(["http://a:2379"]).peek(b"/s/", b"/s0", 2)
    assert (count, revision, keys) == (5, 9, [b"/s/0", b"/s/1"])
    ranges = [c for c in fake.calls if c["url"].endswith("/kv/range")]
    assert len(ranges) == 1 and ranges[0]["body"]["keys_only"] is True and ranges[0]["body"]["limit"] == "2"


def test_peek_without_keys_only_counts(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    fake.route("http://a:2379/version", VERSION_35)
    fake.route("http://a:2379/v3/kv/range", etcd_answer("9"))
    assert gw.EtcdClient(["http://a:2379"]).peek(b"/s/", b"/s0", 0) == (0, 9, [])
    assert fake.calls[-1]["body"]["count_only"] is True


def test_whole_keyspace_range_starts_at_nul():
    assert etcd_keys.range_fields(b"", b"\0") == {"key": "AA==", "range_end": "AA=="}
    assert etcd_keys.range_fields(b"", None) == {"key": ""}
    assert etcd_keys.range_fields(b"/a", b"/b") == {"key": "L2E=", "range_end": "L2I="}


def test_leased_keys(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    fake.route("http://a:2379/version", VERSION_35)
    fake.route("http://a:2379/v3/lease/leases", etcd_answer(leases=[{"ID": "1"}, {"ID": "2"}, {"ID": "3"}]))

    def timetolive(body, headers):
        if body["ID"] == "2":
            raise http_error("u", 404, 5, "etcdserver: requested lease not found")
        if body["ID"] == "3":
            return etcd_answer(ID="3", TTL="-1")
        return etcd_answer(ID="1", TTL="20", keys=[base64.b64encode(b"/service/pg/leader").decode()])

    fake.route("http://a:2379/v3/lease/timetolive", timetolive)
    client = gw.EtcdClient(["http://a:2379"])
    assert client.leased_keys() == [(b"/service/pg/leader", "1")]
    assert client.leased_keys(max_leases=2) is None


def test_scan_keys_halves_a_page_too_large_to_read(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    fake.route("http://a:2379/version", VERSION_35)
    keys = [b"/s/key-%02d" % i for i in range(20)]

    def page(body, headers):
        start = base64.b64decode(body["key"])
        rest = [k for k in keys if k >= start]
        limit = int(body["limit"])
        kvs = [{"key": base64.b64encode(k).decode(), "mod_revision": "7"} for k in rest[:limit]]
        return etcd_answer(kvs=kvs, more=len(rest) > limit, count=str(len(rest)))

    fake.route("http://a:2379/v3/kv/range", page)
    client = gw.EtcdClient(["http://a:2379"])
    client.MAX_BODY_BYTES = 600  # about 10 keys of this page
    revision, found = client.scan_keys(b"/s/", b"/s0", page_size=16)
    assert [k for k, _lease in found] == keys and revision == 7
    assert [c["body"]["limit"] for c in fake.calls if c["url"].endswith("/kv/range")] == ["16", "8", "8", "8"]


# -- an answer must come from etcd ----------------------------------------------------------------


class SameAnswer(dict):
    """Routes that give every URL the same answer."""

    def __init__(self, payload):
        super().__init__()
        self.payload = payload

    def get(self, url, default=None):
        return [self.payload]


def anything_answers(monkeypatch, payload):
    """A fake server that answers ``payload`` to every request (GET /version too)."""
    fake = FakeEtcd(monkeypatch)
    fake.routes = SameAnswer(payload)
    return fake


NOT_ETCD = (
    "the server at http://a:2379 is not an etcd gateway: POST /v3{path} answered {answer}, without etcd's response"
    " header (cluster_id, member_id): is this an etcd client URL?"
)


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (lambda c: c.delete_range(b"/service/pg/", b"/service/pg0"), "/kv/deleterange"),
        (lambda c: c.delete_range(b"/service/pg/", b"/service/pg0", unchanged_since=4), "/kv/txn"),
        (lambda c: c.peek(b"/service/pg/", b"/service/pg0", 10), "/kv/range"),
        (lambda c: c.member_list(), "/cluster/member/list"),
        (lambda c: c.member_add(["http://10.0.0.4:2380"]), "/cluster/member/add"),
        (lambda c: c.member_remove("ff"), "/cluster/member/remove"),
        (lambda c: c.member_promote("ff"), "/cluster/member/promote"),
        (lambda c: c.status(), "/maintenance/status"),
        (lambda c: c.leased_keys(), "/lease/leases"),
    ],
)
def test_an_empty_object_is_not_an_etcd_answer(monkeypatch, call, path):
    anything_answers(monkeypatch, {})
    with pytest.raises(GardenosClusterError) as info:
        call(gw.EtcdClient(["http://a:2379"]))
    assert info.value.msg == NOT_ETCD.format(path=path, answer="{}")
    assert info.value.details["url"] == "http://a:2379/v3" + path


@pytest.mark.parametrize(
    ("payload", "shown"),
    [
        ({"deleted": "3"}, '{"deleted": "3"}'),
        ({"header": {}, "deleted": "3"}, '{"header": {}, "deleted": "3"}'),
        ({"header": {"revision": "9"}}, '{"header": {"revision": "9"}}'),
        ({"header": "x"}, '{"header": "x"}'),
    ],
)
def test_an_answer_without_etcd_header_is_refused(monkeypatch, payload, shown):
    anything_answers(monkeypatch, payload)
    with pytest.raises(GardenosClusterError) as info:
        gw.EtcdClient(["http://a:2379"]).delete_range(b"/x")
    assert info.value.msg == NOT_ETCD.format(path="/kv/deleterange", answer=shown)


@pytest.mark.parametrize("payload", [[], "etcd", 3])
def test_an_answer_that_is_not_a_json_object_is_refused(monkeypatch, payload):
    anything_answers(monkeypatch, payload)
    with pytest.raises(GardenosClusterError, match=r"^http://a:2379/version: the answer is not a JSON object"):
        gw.EtcdClient(["http://a:2379"]).delete_range(b"/x")


def test_authentication_answer_must_come_from_etcd(monkeypatch):
    anything_answers(monkeypatch, {"token": "x"})
    with pytest.raises(GardenosClusterError) as info:
        gw.EtcdClient(["http://a:2379"], username="root", password=PW).member_list()
    assert info.value.msg == NOT_ETCD.format(path="/auth/authenticate", answer='{"token": "x"}')


def test_header_alone_is_a_full_answer(monkeypatch):
    # etcd omits zero and empty fields: a delete that matched nothing is its header alone, a
    # cluster call's header has no revision.
    fake = FakeEtcd(monkeypatch)
    fake.route("http://a:2379/version", VERSION_35)
    fake.route("http://a:2379/v3/kv/deleterange", etcd_answer())
    no_revision = {k: v for k, v in HEADER.items() if k != "revision"}
    fake.route("http://a:2379/v3/cluster/member/list", {"header": no_revision, "members": []})
    client = gw.EtcdClient(["http://a:2379"])
    assert client.delete_range(b"/nothing") == 0
    assert client.member_list() == []


def test_alarm_list_may_come_without_header(monkeypatch):
    # etcd 3.4 answers an alarm list without alarms with {} (3.5 sends its header).
    fake = FakeEtcd(monkeypatch)
    fake.route("http://a:2379/version", {"etcdserver": "3.4.23", "etcdcluster": "3.4.0"})
    fake.route("http://a:2379/v3/maintenance/alarm", {})
    assert gw.EtcdClient(["http://a:2379"]).alarms() == []


# -- peer URLs, checked as etcd checks them (and a little more) ------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["https://10.0.0.14:2380"], ["https://10.0.0.14:2380"]),
        (["http://etcd-4.example.net:2380"], ["http://etcd-4.example.net:2380"]),
        (["http://[fd00::14]:2380"], ["http://[fd00::14]:2380"]),
        (["http://[fe80::1%25eth0]:2380"], ["http://[fe80::1%25eth0]:2380"]),
        ([" http://10.0.0.14:2380\n"], ["http://10.0.0.14:2380"]),  # etcd trims spaces too
        (["HTTPS://10.0.0.14:2380"], ["https://10.0.0.14:2380"]),  # and reads the scheme in any case
        (["http://10.0.0.14:1", "http://10.0.1.14:65535"], ["http://10.0.0.14:1", "http://10.0.1.14:65535"]),
        (["http://etcd_4:2380"], ["http://etcd_4:2380"]),
    ],
)
def test_valid_peer_urls(given, expected):
    assert etcd_peer_urls.validate_peer_urls(given) == expected


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://10.0.0.14", "it has no port"),
        ("http://10.0.0.14:", "it has no port"),
        ("10.0.0.14:2380", "it has no scheme"),
        ("ftp://10.0.0.14:2380", "its scheme is ftp, not http or https"),
        ("unix://etcd-4:2380", "its scheme is unix, not http or https"),
        ("http://10.0.0.14:2380/", "it has a path"),
        ("http://10.0.0.14:2380/peer", "it has a path"),
        ("http://10.0.0.14:2380?x=1", "it has a query"),
        ("http://10.0.0.14:2380#x", "it has a fragment"),
        ("http://user@10.0.0.14:2380", "it has user information"),
        ("http://:2380", "it has no host"),
        ("http://::1:2380", "an IPv6 address goes in brackets: http://[fd00::14]:2380"),
        ("http://fd00::14", "an IPv6 address goes in brackets: http://[fd00::14]:2380"),
        ("http://[fd00::14:2380", "its [ has no ]"),
        ("http://[fd00::14]", "it has no port"),
        ("http://[fd00::14]2380", "it has no port"),
        ("http://[10.0.0.14]:2380", "[10.0.0.14] is not an IPv6 address"),
        ("http://[fd00::zz]:2380", "[fd00::zz] is not an IPv6 address"),
        ("http://[fe80::1%eth0]:2380", "the zone of [fe80::1%eth0] must be written %25<zone>, as in URLs"),
        ("http://10.0.0.256:2380", "10.0.0.256 is not an IPv4 address"),
        ("http://etcd 4:2380", "'etcd 4' is not a host name or an IP address"),
        ("http://10.0.0.14:abc", "its port abc is not a number from 1 to 65535"),
        ("http://10.0.0.14:0", "its port 0 is not a number from 1 to 65535"),
        ("http://10.0.0.14:65536", "its port 65536 is not a number from 1 to 65535"),
        ("http://10.0.0.14:-1", "its port -1 is not a number from 1 to 65535"),
        ("", "it has no scheme"),
    ],
)
def test_invalid_peer_urls(url, why):
    with pytest.raises(GardenosClusterError) as info:
        etcd_peer_urls.validate_peer_urls(["http://10.0.0.13:2380", url])
    assert info.value.msg == (
        f"peer_urls: {url.strip()!r} is not a peer URL etcd accepts: {why}; etcd wants scheme://host:port"
        " with scheme http or https, for example https://10.0.0.14:2380 or https://[fd00::14]:2380"
    )
    assert info.value.details["peer_url"] == url


def test_peer_urls_must_not_be_empty():
    with pytest.raises(GardenosClusterError, match=r"^peer_urls must list at least one peer URL"):
        etcd_peer_urls.validate_peer_urls([])


def test_member_add_checks_peer_urls_before_asking(monkeypatch):
    fake = FakeEtcd(monkeypatch)
    with pytest.raises(GardenosClusterError, match="it has no port"):
        gw.EtcdClient(["http://a:2379"]).member_add(["http://10.0.0.14"])
    assert fake.calls == []


# -- reading keys and values (etcd_info with key) ------------------------------------------------


def b64(data):
    return base64.b64encode(data).decode()


def range_server(store, revision="40"):
    """etcd's /kv/range over ``store`` (bytes key -> (bytes value, lease ID text)), as etcd answers it:
    key alone is one key, range_end "\\0" is to the end; limit, keys_only, count_only; count is every key
    of the range (whatever the limit); zero and empty fields left out."""

    def answer(body, headers):
        start = base64.b64decode(body["key"])
        end = base64.b64decode(body["range_end"]) if "range_end" in body else None
        if end is None:
            keys = [start] if start in store else []
        else:
            keys = sorted(k for k in store if start <= k and (end == b"\0" or k < end))
        fields = {"count": str(len(keys))} if keys else {}
        if body.get("count_only"):
            return etcd_answer(revision, **fields)
        limit = int(body.get("limit", 0))
        kvs = []
        for key in keys[:limit] if limit else keys:
            value, lease = store[key]
            kv = {"key": b64(key), "create_revision": "3", "mod_revision": "12", "version": "2"}
            if value and not body.get("keys_only"):
                kv["value"] = b64(value)
            if lease != "0":
                kv["lease"] = lease
            kvs.append(kv)
        if kvs:
            fields["kvs"] = kvs
        if limit and len(keys) > limit:
            fields["more"] = True
        return etcd_answer(revision, **fields)

    return answer


def key_client(monkeypatch, store):
    fake = FakeEtcd(monkeypatch)
    fake.route("http://a:2379/version", VERSION_35)
    fake.route("http://a:2379/v3/kv/range", range_server(store))
    return fake, gw.EtcdClient(["http://a:2379"])


def range_bodies(fake):
    return [c["body"] for c in fake.calls if c["url"].endswith("/kv/range")]


PATRONI_STORE = {
    b"/service/pg/config": (b'{"ttl": 30}', "0"),
    b"/service/pg/leader": (b"pg-1", "7587862122417195016"),
    b"/service/pg/members/pg-1": (b'{"role": "primary"}', "7587862122417195016"),
    b"/service/pg/status": (b"\xff\xfe not UTF-8", "0"),
    # Beside the scope: never part of its prefix.
    b"/service/pg-2/leader": (b"other", "0"),
    b"/service/pg0": (b"", "0"),
}


def test_read_keys_of_a_prefix_with_values(monkeypatch):
    fake, client = key_client(monkeypatch, PATRONI_STORE)
    key, range_end = etcd_keys.key_range("/service/pg/", prefix=True)
    result = etcd_keys.read_keys(client, key, range_end)
    assert result["count"] == 4 and result["truncated"] is False and result["revision"] == 40
    assert [kv["key"] for kv in result["kvs"]] == [
        "/service/pg/config",
        "/service/pg/leader",
        "/service/pg/members/pg-1",
        "/service/pg/status",
    ]
    leader = result["kvs"][1]
    assert leader == dict(
        key="/service/pg/leader", value="pg-1", create_revision=3, mod_revision=12, version=2, lease="694d8065eb518808"
    )
    assert result["kvs"][0]["lease"] is None
    assert result["kvs"][3]["value"] == "\\xff\\xfe not UTF-8"
    assert range_bodies(fake) == [{"key": b64(b"/service/pg/"), "range_end": b64(b"/service/pg0"), "limit": "1000"}]


def test_read_one_key_and_a_missing_one(monkeypatch):
    _fake, client = key_client(monkeypatch, PATRONI_STORE)
    found = etcd_keys.read_keys(client, *etcd_keys.key_range("/service/pg/leader"))
    assert [kv["value"] for kv in found["kvs"]] == ["pg-1"] and found["count"] == 1
    missing = etcd_keys.read_keys(client, *etcd_keys.key_range("/service/pg/nothing"))
    assert missing == dict(kvs=[], count=0, truncated=False, revision=40)


def test_read_keys_only(monkeypatch):
    fake, client = key_client(monkeypatch, PATRONI_STORE)
    result = etcd_keys.read_keys(client, *etcd_keys.key_range("/service/pg/", prefix=True), keys_only=True)
    assert len(result["kvs"]) == 4 and all("value" not in kv for kv in result["kvs"])
    assert range_bodies(fake)[0]["keys_only"] is True


def test_read_keys_in_pages_at_one_revision(monkeypatch):
    store = {b"/k/%03d" % i: (b"v%d" % i, "0") for i in range(25)}
    fake, client = key_client(monkeypatch, store)
    monkeypatch.setattr(etcd_keys, "READ_PAGE_KEYS", 10)
    result = etcd_keys.read_keys(client, b"/k/", b"/k0")
    assert [kv["key"] for kv in result["kvs"]] == [k.decode() for k in sorted(store)]
    assert result["count"] == 25 and result["truncated"] is False
    bodies = range_bodies(fake)
    assert [base64.b64decode(b["key"]) for b in bodies] == [b"/k/", b"/k/009\0", b"/k/019\0"]
    # The first page fixes the revision; the others are read at it.
    assert "revision" not in bodies[0] and [b["revision"] for b in bodies[1:]] == ["40", "40"]


@pytest.mark.parametrize(("max_keys", "limits"), [(7, ["7"]), (12, ["10", "2"])])
def test_read_keys_stops_at_max_keys(monkeypatch, max_keys, limits):
    store = {b"/k/%03d" % i: (b"v", "0") for i in range(25)}
    fake, client = key_client(monkeypatch, store)
    monkeypatch.setattr(etcd_keys, "READ_PAGE_KEYS", 10)
    result = etcd_keys.read_keys(client, b"/k/", b"/k0", max_keys=max_keys)
    assert len(result["kvs"]) == max_keys and result["count"] == 25 and result["truncated"] is True
    assert [b["limit"] for b in range_bodies(fake)] == limits


def test_read_keys_stops_before_max_bytes(monkeypatch):
    store = {b"/k/%d" % i: (b"x" * 100, "0") for i in range(5)}  # 104 bytes a key and its value
    _fake, client = key_client(monkeypatch, store)
    result = etcd_keys.read_keys(client, b"/k/", b"/k0", max_bytes=350)
    assert [kv["key"] for kv in result["kvs"]] == ["/k/0", "/k/1", "/k/2"]
    assert result["count"] == 5 and result["truncated"] is True
    exact = etcd_keys.read_keys(client, b"/k/", b"/k0", max_bytes=5 * 104)
    assert len(exact["kvs"]) == 5 and exact["truncated"] is False


def test_read_keys_counts_only_with_max_keys_zero(monkeypatch):
    fake, client = key_client(monkeypatch, PATRONI_STORE)
    result = etcd_keys.read_keys(client, *etcd_keys.key_range("/service/", prefix=True), max_keys=0)
    assert result == dict(kvs=[], count=6, truncated=True, revision=40)
    assert range_bodies(fake)[0]["count_only"] is True


def test_read_keys_halves_a_page_too_large_to_read(monkeypatch):
    store = {b"/k/%02d" % i: (b"x" * 40, "0") for i in range(20)}
    fake, client = key_client(monkeypatch, store)
    client.MAX_BODY_BYTES = 1500  # about 10 keys with their values
    result = etcd_keys.read_keys(client, b"/k/", b"/k0")
    assert len(result["kvs"]) == 20 and result["truncated"] is False
    limits = [b["limit"] for b in range_bodies(fake)]
    assert limits[0] == "1000" and int(limits[-1]) <= 10


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (dict(key="/service/pg/", prefix=True), (b"/service/pg/", b"/service/pg0")),
        (dict(key="/a", range_end="/b"), (b"/a", b"/b")),
        (dict(key="/a", range_end="\\0"), (b"/a", b"\0")),
        (dict(key="", prefix=True), (b"", b"\0")),
        (dict(key="/a"), (b"/a", None)),
    ],
)
def test_key_range(options, expected):
    assert etcd_keys.key_range(**options) == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(key=""), "key must not be empty"),
        (dict(key="/b", range_end="/a"), "range_end '/a' must sort after key '/b'"),
        (dict(key="/a", range_end="/a"), "range_end '/a' must sort after key '/a'"),
    ],
)
def test_key_range_refuses(options, message):
    with pytest.raises(GardenosClusterError, match="^" + re.escape(message)):
        etcd_keys.key_range(**options)
