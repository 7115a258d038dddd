"""gardenos.cluster.etcd_deleterange against real etcd 3.5 and 3.4 clusters, run through Ansible."""

import http.server
import threading

import pytest
from etcdlab import ALL, AUTH, LIMITED_PASSWORD, PLAIN, TLS, free_ports

WRONG = "not-the-password"
PATRONI_KEYS = ["config", "failover", "history", "initialize", "leader", "members/pg-1", "members/pg-2", "status"]


def by_flavour(flavours):
    return pytest.mark.parametrize("kv_cluster", flavours, indirect=True)


def dead_endpoint(cluster):
    scheme = "https" if cluster.tls else "http"
    return f"{scheme}://127.0.0.1:{free_ports(1)[0]}"


@by_flavour(ALL)
def test_prefix_deletes_only_that_cluster(kv_cluster, run_module):
    scope = "/service/postgres-cluster"
    mine = [scope + "/" + k for k in PATRONI_KEYS]
    others = [scope + "-2/" + k for k in PATRONI_KEYS] + [scope, scope + "0", "/service/postgres-clusteR/x"]
    kv_cluster.put_many(mine + others)

    # A dead endpoint first: the module must fail over to the live ones.
    args = kv_cluster.module_args(endpoints=[dead_endpoint(kv_cluster), *kv_cluster.endpoints])
    args.update(key=scope + "/", prefix=True)
    result, again = run_module.many([("etcd_deleterange", args), ("etcd_deleterange", args)])

    assert not result["failed"], result
    assert result["changed"] is True
    assert result["deleted"] == len(mine)
    assert sorted(result["deleted_keys"]) == sorted(mine)
    assert result["keys_truncated"] is False
    assert result["range_end"] == "/service/postgres-cluster0"
    assert kv_cluster.keys(scope + "/") == []
    for key in others:
        assert kv_cluster.get(key) == "v", key

    assert not again["failed"], again
    assert again["changed"] is False and again["deleted"] == 0 and again["deleted_keys"] == []


@by_flavour(["etcd3.5-plain", "etcd3.4-plain", "etcd3.5-tls", "etcd3.5-auth"])
def test_live_leader_key_blocks_unless_forced(kv_cluster, run_module):
    live = "/leadertest/service/live/"
    stale = "/leadertest/service/stale/"
    kv_cluster.put_many([live + k for k in PATRONI_KEYS if k != "leader"] + [stale + k for k in PATRONI_KEYS])
    kv_cluster.put(live + "leader", "pg-1", lease=kv_cluster.grant_lease(ttl=300))
    args = dict(kv_cluster.module_args(), key=live, prefix=True)

    refused, stale_result = run_module.many(
        [
            ("etcd_deleterange", args),
            # A leader key without a lease is stale state (its owner is gone): it does not block.
            ("etcd_deleterange", dict(args, key=stale)),
        ]
    )
    assert refused["failed"] is True
    assert live + "leader" in refused["msg"]
    assert "live" in refused["msg"] and "force" in refused["msg"]
    assert refused["live_leader_keys"] == [live + "leader"]
    assert len(kv_cluster.keys(live)) == len(PATRONI_KEYS)

    assert not stale_result["failed"], stale_result
    assert stale_result["deleted"] == len(PATRONI_KEYS)
    assert stale_result["live_leader_keys"] == []
    assert kv_cluster.keys(stale) == []

    forced = run_module("etcd_deleterange", dict(args, force=True))
    assert not forced["failed"], forced
    assert forced["deleted"] == len(PATRONI_KEYS)
    assert forced["live_leader_keys"] == [live + "leader"]
    assert any("leader" in w for w in forced.get("warnings", []))
    assert kv_cluster.keys(live) == []


@by_flavour(["etcd3.5-plain"])
def test_whole_keyspace_needs_allow_all(kv_cluster, run_module):
    kv_cluster.put("/refusal/canary")
    args = kv_cluster.module_args()
    refusals = [
        {"key": "/", "prefix": True},
        {"key": "", "prefix": True},
        {"key": "", "range_end": "\\0"},
        {"key": "", "range_end": "/zzz"},
        {"key": "/", "range_end": "\\0"},
        # Every range that holds the whole keyspace or every key starting with "/", however written.
        {"key": "\\0", "range_end": "\\0"},
        {"key": "\\0", "prefix": True},
        {"key": "/", "range_end": "0"},
        {"key": "!", "range_end": "\\0"},
        {"key": ".", "range_end": "1"},
    ]
    calls = [("etcd_deleterange", dict(args, **options)) for options in refusals]
    # allow_all lets it through (here in check mode: it counts everything, deletes nothing).
    calls.append(("etcd_deleterange", dict(args, key="", prefix=True, allow_all=True), {"check": True}))
    results = run_module.many(calls)

    for options, result in zip(refusals, results, strict=False):
        assert result["failed"] is True, (options, result)
        assert "allow_all" in result["msg"], (options, result["msg"])
    assert [r["msg"] for r in results[-6:-1]] == [
        "refusing to delete [\\0, \\0), the whole keyspace: set allow_all=true if that is really meant",
        "refusing to delete [\\0, '\\x01'), a range from the first key of the keyspace: set allow_all=true if that"
        " is really meant",
        "refusing to delete ['/', '0'), the whole '/' tree: set allow_all=true if that is really meant",
        "refusing to delete ['!', \\0), the whole '/' tree: set allow_all=true if that is really meant",
        "refusing to delete ['.', '1'), the whole '/' tree: set allow_all=true if that is really meant",
    ]
    allowed = results[-1]
    assert not allowed["failed"], allowed
    assert allowed["changed"] is True and allowed["deleted"] >= 1
    assert allowed["range_end"] == "\\0"
    assert kv_cluster.get("/refusal/canary") == "v"


@by_flavour(PLAIN)
def test_check_mode_and_diff(kv_cluster, run_module):
    base = "/checkmode/service/pg/"
    keys = [f"{base}key-{i:03d}" for i in range(150)]
    kv_cluster.put_many(keys)
    args = dict(kv_cluster.module_args(), key=base, prefix=True, max_keys_reported=10)

    check, real, after = run_module.many(
        [
            ("etcd_deleterange", args, {"check": True, "diff": True}),
            ("etcd_deleterange", dict(args, max_keys_reported=1000), {"diff": True}),
            ("etcd_deleterange", args, {"check": True, "diff": True}),
        ]
    )
    assert not check["failed"], check
    assert check["changed"] is True
    assert check["deleted"] == 150
    assert check["deleted_keys"] == keys[:10]
    assert check["keys_truncated"] is True
    diff = check["diff"]
    assert diff["before"].splitlines() == [*keys[:10], "... and 140 more keys"]
    assert diff["after"] == ""
    assert base in diff["before_header"]

    # check mode deleted nothing: the real run still found all 150
    assert real["changed"] is True and real["deleted"] == 150
    assert real["deleted_keys"] == keys and real["keys_truncated"] is False
    assert real["diff"]["before"].splitlines() == keys
    assert kv_cluster.count(base) == 0

    assert after["changed"] is False and after["deleted"] == 0 and after["diff"]["before"] == ""


@by_flavour(["etcd3.5-plain"])
def test_single_key_and_explicit_range(kv_cluster, run_module):
    base = "/explicit/"
    kv_cluster.put_many([base + k for k in ("a", "b", "c", "d")])
    args = kv_cluster.module_args()

    single, ranged, both, backwards = run_module.many(
        [
            ("etcd_deleterange", dict(args, key=base + "a")),
            ("etcd_deleterange", dict(args, key=base + "b", range_end=base + "d")),
            ("etcd_deleterange", dict(args, key=base, prefix=True, range_end=base + "z")),
            ("etcd_deleterange", dict(args, key=base + "d", range_end=base + "a")),
        ]
    )
    assert single["deleted"] == 1 and single["range_end"] is None and single["deleted_keys"] == [base + "a"]
    assert ranged["deleted"] == 2 and ranged["deleted_keys"] == [base + "b", base + "c"]
    assert both["failed"] is True and "mutually exclusive" in both["msg"]
    assert backwards["failed"] is True and "must sort after" in backwards["msg"]
    assert kv_cluster.keys(base) == [base + "d"]


@pytest.mark.timing
@by_flavour(PLAIN)
def test_deletes_100k_keys_fast(kv_cluster, run_module):
    # Module time is nearly all etcd's own delete (about 0.5 CPU-second on each of the 3 members,
    # so ~1 s on 2 idle cores); other jobs on the machine can stretch one try, so the best of up
    # to three tries counts.
    timings = []
    for attempt in range(3):
        base = f"/bulk{attempt}/service/pg/"
        kv_cluster.put_many(f"{base}key-{i:06d}" for i in range(100_000))
        assert kv_cluster.count(base) == 100_000

        result = run_module("etcd_deleterange", dict(kv_cluster.module_args(), key=base, prefix=True))
        assert not result["failed"], result
        assert result["deleted"] == 100_000
        assert len(result["deleted_keys"]) == 100 and result["keys_truncated"] is True
        assert kv_cluster.count(base) == 0
        timings.append(result["elapsed"])
        print(
            f"\n[etcd {kv_cluster.version}] etcd_deleterange of 100000 keys: {result['elapsed']:.3f} s of module time"
        )
        if result["elapsed"] < 2.0:
            break
    assert min(timings) < 2.0, timings


@by_flavour(AUTH)
def test_auth_errors_are_clear(kv_cluster, run_module):
    kv_cluster.put("/service/authtest/x")
    kv_cluster.put("/allowed/x")
    no_auth = dict(kv_cluster.module_args(auth=False), key="/service/authtest/", prefix=True)
    limited = dict(no_auth, username="limited", password=LIMITED_PASSWORD)

    anonymous, wrong, denied, allowed = run_module.many(
        [
            ("etcd_deleterange", no_auth),
            ("etcd_deleterange", dict(no_auth, username="root", password=WRONG)),
            ("etcd_deleterange", limited),
            ("etcd_deleterange", dict(limited, key="/allowed/")),
        ]
    )
    assert anonymous["failed"] is True
    assert "set username and password" in anonymous["msg"], anonymous["msg"]

    assert wrong["failed"] is True
    assert "wrong username or password" in wrong["msg"], wrong["msg"]
    assert WRONG not in str(wrong)

    assert denied["failed"] is True
    assert "permission denied" in denied["msg"] and denied["grpc_code"] == 7, denied["msg"]
    assert kv_cluster.get("/service/authtest/x") == "v"

    # A user who may touch only /allowed/ (and may not read other leases' keys) still can.
    assert not allowed["failed"], allowed
    assert allowed["deleted"] == 1


@by_flavour(TLS)
def test_tls_errors_are_clear(kv_cluster, run_module):
    args = dict(kv_cluster.module_args(), key="/tlstest/", prefix=True)
    no_client_cert = {k: v for k, v in args.items() if k not in ("client_cert", "client_key")}
    no_ca = {k: v for k, v in args.items() if k != "ca_cert"}
    plain_http = dict(args, endpoints=[e.replace("https://", "http://") for e in kv_cluster.endpoints])

    without_cert, without_ca, http = run_module.many(
        [("etcd_deleterange", no_client_cert), ("etcd_deleterange", no_ca), ("etcd_deleterange", plain_http)]
    )
    assert without_cert["failed"] is True
    assert "client certificate" in without_cert["msg"], without_cert["msg"]
    assert without_ca["failed"] is True
    assert "certificate verification failed" in without_ca["msg"], without_ca["msg"]
    assert http["failed"] is True
    assert "cannot reach etcd" in http["msg"] or "HTTP" in http["msg"], http["msg"]


class EmptyObjectHandler(http.server.BaseHTTPRequestHandler):
    """Answers {} to every request, as a server that is not etcd may."""

    def _answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


def test_a_server_that_is_not_etcd_is_refused(run_module):
    # {} to everything used to read as "deleted 0": etcd always sends its response header.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EmptyObjectHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        result = run_module("etcd_deleterange", {"endpoints": [url], "key": "/service/pg/", "prefix": True})
    finally:
        server.shutdown()
        server.server_close()
    assert result["failed"] is True, result
    assert result["msg"] == (
        f"the server at {url} is not an etcd gateway: POST /v3/kv/range answered {{}}, without etcd's response"
        " header (cluster_id, member_id): is this an etcd client URL?"
    )
    assert "deleted" not in result
