"""gardenos.cluster.etcd_auth against real etcd 3.4 and 3.5 with client-certificate auth, as the etcd
role runs it: the RBAC the collection keeps (root, Patroni confined to its scope, a read-only
monitor, K3s by its certificate's Common Name on /registry/), then what each credential may do,
over the JSON gateway (Patroni, the modules) and over gRPC (etcdctl, as K3s's client talks)."""

import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from etcdlab import EtcdCluster, b64, etcd_35_bin_dir, issue_client_certificate, make_pki
from patronilab import PatroniCluster, patroni_4

ROOT = ("root", "root-auth-test")
PATRONI = ("patroni", "patroni-auth-test")
MONITOR = ("monitor", "monitor-auth-test")
SCOPE = "pg-auth"


def rbac(patroni_password=PATRONI[1]):
    """The module's arguments for the collection's RBAC (roles/etcd's etcd_auth_users/roles)."""
    return {
        "enabled": True,
        "users": [
            {"name": ROOT[0], "password": ROOT[1], "roles": ["root"]},
            {"name": PATRONI[0], "password": patroni_password, "roles": ["patroni"]},
            {"name": MONITOR[0], "password": MONITOR[1], "roles": ["monitor"]},
            {"name": "k3s", "roles": ["k3s"]},
        ],
        "roles": [
            {"name": "patroni", "permissions": [{"prefix": f"/service/{SCOPE}/"}]},
            {"name": "monitor", "permissions": [{"prefix": "/", "type": "read"}]},
            {"name": "k3s", "permissions": [{"prefix": "/registry/"}, {"prefix": "/bootstrap/"}]},
        ],
    }


def connection(cluster, user=ROOT):
    args = cluster.module_args(auth=False)
    args.update(username=user[0], password=user[1])
    return args


def gateway(cluster, path, body, user):
    """One JSON gateway request as ``user`` (certificate without CN + password): (status, answer)."""
    url = cluster.endpoints[0] + "/v3"
    try:
        token = cluster.request(url + "/auth/authenticate", {"name": user[0], "password": user[1]}, token=False)
        data = json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - https to the lab
            url + path, data=data, headers={"Authorization": token["token"], "Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10, context=cluster._ssl_context()) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def etcdctl(cluster, certificate, *args):
    """etcdctl over gRPC with a client certificate (its CN is the user once auth is on); 3.5's
    etcdctl for both servers (Debian packages 3.4's apart)."""
    env = dict(os.environ, ETCDCTL_API="3")
    argv = [
        str(etcd_35_bin_dir() / "etcdctl"),
        "--endpoints=" + cluster.endpoints[0],
        "--cacert=" + cluster.pki["ca_cert"],
        "--cert=" + certificate["cert"],
        "--key=" + certificate["key"],
        "--command-timeout=5s",
        *args,
    ]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture(params=["3.4", "3.5"])
def auth_cluster(request, workdir, bin_dirs):
    """A 1-member TLS etcd (client-cert auth, auth not yet enabled) with its own PKI."""
    version = request.param
    pki = make_pki(workdir / f"auth-pki-{version}")
    cluster = EtcdCluster(workdir / f"auth-{version}", bin_dirs[version], size=1, tls=True, pki=pki, label="auth")
    cluster.start()
    yield cluster
    cluster.destroy()


def test_rbac_is_made_once_and_each_credential_is_confined(auth_cluster, run_module):
    cluster = auth_cluster
    # One ansible-playbook run a group of calls (each run costs seconds).
    made, again = run_module.many(
        [
            ("etcd_auth", {**connection(cluster), **rbac()}, {"diff": True}),
            ("etcd_auth", {**connection(cluster), **rbac()}),
        ]
    )
    assert not made["failed"], made
    assert made["changed"] and made["steps"][-1] == "enable auth", made["steps"]
    assert "grant readwrite on /service/pg-auth/* to role patroni" in made["steps"]
    assert made["diff"]["after"]["users"]["patroni"] == ["patroni"]
    assert PATRONI[1] not in json.dumps(made) and ROOT[1] not in json.dumps(made)

    assert not again["failed"] and not again["changed"] and again["steps"] == [], again

    # Patroni: its scope, and nothing else (K3s's Secrets live under /registry/).
    key = b64(f"/service/{SCOPE}/leader")
    assert gateway(cluster, "/kv/put", {"key": key, "value": b64("x")}, PATRONI)[0] == 200
    for path, body in [
        ("/kv/put", {"key": b64("/registry/secrets/x"), "value": b64("x")}),
        ("/kv/deleterange", {"key": b64("/registry/"), "range_end": b64("/registry0")}),
        ("/kv/range", {"key": b64("/registry/"), "range_end": b64("/registry0")}),
        ("/kv/put", {"key": b64("/service/other-scope/leader"), "value": b64("x")}),
    ]:
        status, answer = gateway(cluster, path, body, PATRONI)
        assert status == 403 and "permission denied" in answer.get("error", answer.get("message", "")), (path, answer)
    # K3s: its certificate's CN is its user, over gRPC, on /registry/ only.
    k3s = issue_client_certificate(cluster.pki, "k3s", "k3s")
    assert etcdctl(cluster, k3s, "put", "/registry/secrets/default/a", "v").returncode == 0
    denied = etcdctl(cluster, k3s, "get", f"/service/{SCOPE}/leader")
    assert denied.returncode != 0 and "permission denied" in denied.stderr, denied
    # A member's certificate (CN etcd) names no user: no data, whatever it can do as a peer.
    member = {"cert": cluster.pki["server_cert"], "key": cluster.pki["server_key"]}
    denied = etcdctl(cluster, member, "get", "/registry/", "--prefix")
    assert denied.returncode != 0, denied

    # The modules: Patroni's user refused outside its scope, the monitor reads everything the
    # health report needs and writes nothing, root (the admin modules' user) may do anything.
    refused, info, cleared = run_module.many(
        [
            ("etcd_deleterange", {**connection(cluster, PATRONI), "key": "/registry/", "prefix": True}),
            ("etcd_info", connection(cluster, MONITOR)),
            ("etcd_deleterange", {**connection(cluster), "key": "/registry/", "prefix": True}),
        ]
    )
    assert refused["failed"] and "permission denied" in refused["msg"].lower(), refused
    assert not info["failed"] and info["healthy"] and info["members"] and info["alarms"] == [], info
    assert gateway(cluster, "/kv/put", {"key": b64("/monitor"), "value": b64("x")}, MONITOR)[0] == 403
    assert not cleared["failed"] and cleared["deleted"] == 1, cleared


def test_a_changed_password_and_permission_are_set_again(auth_cluster, run_module):
    cluster = auth_cluster
    wanted = rbac(patroni_password="patroni-new-password")
    wanted["roles"][1]["permissions"] = [{"prefix": "/service/", "type": "read"}]
    refused, made, planned = run_module.many(
        [
            ("etcd_auth", {**connection(cluster), "enabled": True, "users": [{"name": "patroni", "password": "x"}]}),
            ("etcd_auth", {**connection(cluster), **rbac()}),
            ("etcd_auth", {**connection(cluster), **wanted}, {"check": True}),
        ]
    )
    # Enabling auth without root is refused before any change (the next call still makes patroni).
    assert refused["failed"] and "without a user root" in refused["msg"], refused
    assert not made["failed"] and "user add patroni" in made["steps"], made
    assert planned["changed"], planned
    assert set(planned["steps"]) == {
        "grant read on /service/* to role monitor",
        "revoke /* from role monitor",
        "change password patroni",
    }, planned["steps"]
    assert gateway(cluster, "/kv/range", {"key": b64("/a")}, MONITOR)[0] == 200  # check mode changed nothing

    applied, again = run_module.many([("etcd_auth", {**connection(cluster), **wanted})] * 2)
    assert applied["changed"] and sorted(applied["steps"]) == sorted(planned["steps"]), applied
    assert gateway(cluster, "/kv/range", {"key": b64("/a")}, MONITOR)[0] == 403
    status, answer = gateway(cluster, "/kv/put", {"key": b64(f"/service/{SCOPE}/x"), "value": b64("x")}, PATRONI)
    assert status == 400 and "authentication failed" in answer.get("error", ""), answer  # the old password
    new = ("patroni", "patroni-new-password")
    assert gateway(cluster, "/kv/put", {"key": b64(f"/service/{SCOPE}/x"), "value": b64("x")}, new)[0] == 200
    assert not again["failed"] and not again["changed"], again


@pytest.mark.parametrize("version", ["3.4", "3.5"])
def test_patroni_with_its_confined_user_through_auth_enabling_and_a_switchover(
    version, workdir, bin_dirs, patroni_base, run_module
):
    """The order site.yml keeps on a running cluster: the users first (auth still off), Patroni given
    its credentials, then auth enabled under it: Patroni keeps its leader, then switches over."""
    pki = make_pki(workdir / f"patroni-auth-pki-{version}")
    etcd = EtcdCluster(workdir / f"patroni-auth-{version}", bin_dirs[version], tls=True, pki=pki, label="pauth")
    patroni = None
    try:
        etcd.start()
        users_only = {**connection(etcd), **rbac()}
        del users_only["enabled"]
        assert not run_module("etcd_auth", users_only)["failed"]
        patroni = PatroniCluster(
            patroni_base / f"{SCOPE}-{version}", patroni_4(), etcd, scope=SCOPE, etcd_user=PATRONI, label="pa"
        )
        patroni.start(timeout=90)  # credentials given, auth not yet on: Patroni runs
        leader = patroni.leader()

        enabled = run_module("etcd_auth", {**connection(etcd), **rbac()})
        # Passwords cannot be checked while auth is off: the enabling run sets them once more.
        assert not enabled["failed"] and enabled["steps"][-1] == "enable auth", enabled
        assert not any(step.startswith(("user add", "grant")) for step in enabled["steps"]), enabled
        etcd.login(*ROOT)
        time.sleep(3)  # a few of Patroni's loops (loop_wait 1) under auth
        patroni.wait_healthy(timeout=30)
        assert patroni.leader() == leader, "auth enabled under Patroni cost it its leader"

        candidate = sorted(patroni.replicas())[0]
        status, answer = patroni.switchover(leader, candidate)
        assert status == 200, answer
        patroni.wait_for("the candidate leads", lambda: patroni.leader() == candidate, timeout=60)
        patroni.wait_healthy(timeout=60)
        # Everything Patroni keeps is under its scope, and its user can reach nothing else.
        assert patroni.dcs_keys(), "no keys under the scope"
        status, answer = gateway(etcd, "/kv/range", {"key": b64("/registry/"), "range_end": b64("/registry0")}, PATRONI)
        assert status == 403, answer
    finally:
        if patroni is not None:
            patroni.destroy()
        etcd.destroy()


def test_a_learner_answers_the_modules_with_auth_on(auth_cluster, run_module):
    """A learner refuses Authenticate ("rpc not supported for learner"): the modules ask its status
    and health with no token (a member joining a cluster with auth on is waited for this way)."""
    cluster = auth_cluster
    spare = cluster.add_spare("auth-learner")
    cluster.wait_membership_changes_allowed()
    enabled, added = run_module.many(
        [
            ("etcd_auth", {**connection(cluster), **rbac()}),
            (
                "etcd_member",
                {**connection(cluster), "name": spare.name, "peer_urls": [spare.peer_url], "promote": False},
            ),
        ]
    )
    assert not enabled["failed"] and not added["failed"], (enabled, added)
    cluster.members.append(spare)
    cluster.start_member(spare, added["initial_cluster"], "existing")
    # As the etcd role waits for a joining learner: its endpoint first, then the voters' (a learner
    # serves no linearizable member list either).
    learner = {**connection(cluster), "endpoints": [spare.client_url, cluster.endpoints[0]]}
    for _attempt in range(10):
        info = run_module("etcd_info", learner)
        if not info["failed"] and info["healthy"]:
            break
        time.sleep(1)
    assert not info["failed"], info.get("msg")
    report = info["endpoints"][0]
    assert report["is_learner"] and report["error"] is None and report["healthy"], info["endpoints"]

    # Promoted, then a second learner promoted through the first one's endpoint alone, a follower: a follower
    # forwards a promotion to the leader without the caller's credentials and, with auth on, answers "request timed
    # out" (etcd issue 14070, 3.4 and 3.5); the module asks the leader it finds instead.
    def promote(member, endpoint):
        promoted = run_module(
            "etcd_member",
            {
                **connection(cluster),
                "endpoints": [endpoint],
                "name": member.name,
                "peer_urls": [member.peer_url],
                "promote": True,
                "wait_timeout": 30,
            },
        )
        assert not promoted["failed"], promoted.get("msg")
        assert not next(m for m in promoted["members"] if m["name"] == member.name)["is_learner"], promoted

    promote(spare, cluster.endpoints[0])
    second = cluster.add_spare("auth-learner-2")
    cluster.wait_membership_changes_allowed()
    added = run_module(
        "etcd_member", {**connection(cluster), "name": second.name, "peer_urls": [second.peer_url], "promote": False}
    )
    assert not added["failed"], added.get("msg")
    cluster.members.append(second)
    cluster.start_member(second, added["initial_cluster"], "existing")
    leader = cluster.leader_id()
    follower = next(m for m in (cluster.members[0], spare) if cluster.member_id(m) != leader)
    promote(second, follower.client_url)
