"""The health report's logic: gardenos.cluster.health_checks, health_score and health_report.

The observations are shaped like the results playbooks/health.yml registers on the lab (3 hosts with
etcd 3.5 and Patroni 4.1.5, HAProxy on lab-1): etcd_info, patroni_check and uri results copied from
real runs, and the HAProxy rows parsed by the haproxy_info module from a real `show stat` capture.
"""

import base64
import copy
import datetime
import functools
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.health import (
    FilterModule,
    health_checks,
    health_report,
    health_score,
)
from ansible_collections.gardenos.cluster.plugins.modules.haproxy_info import parse_stat
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.etcd_certs import certificate_not_after
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.security import classify_no_cert
from certificates import self_signed_pem

NOW = "2026-11-24T01:30:00Z"
HOSTS = ["lab-1", "lab-2", "lab-3"]
IPS = {"lab-1": "10.77.0.11", "lab-2": "10.77.0.12", "lab-3": "10.77.0.13"}
IDS = {"lab-1": "df699f287a5d9a72", "lab-2": "feba6ee6a9e89e36", "lab-3": "cfda5bea741d5b1e"}
FIXTURES = Path(__file__).resolve().parents[1] / "modules" / "fixtures"
# In the captured `show stat`, lab-2 is the primary (UP in postgres_primary, DOWN in postgres_replicas).
STATS = parse_stat((FIXTURES / "haproxy-show-stat.txt").read_text())
GIB = 1024**3


def url(host):
    return f"https://{IPS[host]}:2379"


def endpoint(host, *, healthy=True, leader="lab-2", db_size=45056, error=None):
    if error:
        return {
            "endpoint": url(host),
            "healthy": False,
            "error": f"{url(host)}: {error}",
            "member_id": None,
            "name": None,
            "version": None,
            "db_size": None,
            "db_size_in_use": None,
            "is_leader": False,
            "is_learner": False,
            "leader_id": None,
            "raft_index": None,
            "raft_term": None,
            "raft_applied_index": None,
            "errors": [],
        }
    return {
        "endpoint": url(host),
        "healthy": healthy,
        "error": None if healthy else "no leader",
        "member_id": IDS[host],
        "name": host,
        "version": "3.5.1",
        "db_size": db_size,
        "db_size_in_use": db_size,
        "is_leader": leader == host,
        "is_learner": False,
        "leader_id": IDS[leader] if leader else None,
        "raft_index": 56,
        "raft_term": 2,
        "raft_applied_index": 56,
        "errors": [],
    }


def member(host, learner=False):
    return {
        "id": IDS[host],
        "name": host,
        "peer_urls": [f"https://{IPS[host]}:2380"],
        "client_urls": [url(host)],
        "is_learner": learner,
    }


def etcd_info(endpoints=None):
    return {
        "changed": False,
        "failed": False,
        "cluster_id": "9aa42a263a4d9dff",
        "members": [member(host) for host in HOSTS],
        "leader": {"id": IDS["lab-2"], "name": "lab-2"},
        "version": {"server": "3.5.1", "cluster": "3.5.0"},
        "db_size": 45056,
        "db_size_in_use": 45056,
        "alarms": [],
        "healthy": True,
        "endpoints": endpoints if endpoints is not None else [endpoint(host) for host in HOSTS],
    }


def services(**states):
    units = {"etcd": "running", "patroni": "running", "haproxy": "running", "ssh": "running"}
    units.update(states)
    return {
        "changed": False,
        "failed": False,
        "ansible_facts": {
            "services": {
                f"{unit}.service": {
                    "name": f"{unit}.service",
                    "state": state,
                    "status": "enabled",
                    "source": "systemd",
                }
                for unit, state in units.items()
                if state is not None
            }
        },
    }


@functools.cache
def certificate_pem(not_after):
    """A self-signed certificate valid until not_after ('20290225195610Z', UTC), in PEM."""
    until = datetime.datetime.strptime(not_after, "%Y%m%d%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    return self_signed_pem(until, "health-test")


def cert_result(path, name, not_after="20290225195610Z"):
    """What ansible.builtin.slurp read of a certificate valid until not_after (its item names the certificate)."""
    content = base64.b64encode(certificate_pem(not_after)).decode()
    return {
        "changed": False,
        "failed": False,
        "item": {"path": path, "name": name},
        "content": content,
        "encoding": "base64",
        "source": path,
    }


def unread_result(path, name, msg):
    """slurp could not read the certificate (registered under failed_when: false)."""
    return {"changed": False, "failed": False, "item": {"path": path, "name": name}, "msg": msg}


def certs(host, not_after="20290225195610Z"):
    """What the etcd and patroni roles publish of the certificates of the etcd PKI they installed."""
    return {
        "etcd_certs": [
            cert_result(path, name, not_after)
            for path, name in (
                ("/etc/etcd/pki/ca.crt", "ca.crt"),
                ("/etc/etcd/pki/server.crt", f"{host}-server.crt"),
                ("/etc/etcd/pki/peer.crt", f"{host}-peer.crt"),
                ("/etc/etcd/pki/admin.crt", "client-admin.crt"),
            )
        ],
        "patroni_certs": [cert_result("/etc/patroni/pki/etcd-client.crt", "client-patroni.crt", not_after)],
    }


def no_cert(status=-1, msg=None):
    if msg is None:
        msg = (
            "Status code was -1 and not [200]: Request failed: <urlopen error [SSL: SSLV3_ALERT_BAD_CERTIFICATE] "
            "sslv3 alert bad certificate (_ssl.c:992)>"
        )
    return {
        "results": [
            {
                "item": {"key": host, "value": {"endpoint": url(host), "quota_bytes": 2 * GIB}},
                "status": status,
                "msg": msg,
                "url": url(host) + "/version",
            }
            for host in HOSTS
        ]
    }


def patroni(leader="lab-2", **changes):
    result = {
        "changed": False,
        "failed": False,
        "healthy": True,
        "leader": leader,
        "scope": "postgres-cluster",
        "paused": False,
        "uninitialized": False,
        "problems": [],
        "members": [
            {
                "name": host,
                "role": "leader" if host == leader else "replica",
                "state": "running" if host == leader else "streaming",
                "host": IPS[host],
                "port": 5532,
                "timeline": 2,
                "lag": None if host == leader else 0,
            }
            for host in HOSTS
        ],
    }
    result.update(changes)
    return result


def lab():
    """The observations of a healthy lab, as playbooks/health.yml builds them."""
    hosts = {}
    for host in HOSTS:
        hosts[host] = {
            "ip": IPS[host],
            "ping": {"changed": False, "ping": "pong"},
            "services": services() if host == "lab-1" else services(haproxy=None),
            **certs(host),
            "etcd_runner": "lab-1",
            "etcd_members": {h: {"endpoint": url(h), "quota_bytes": 2 * GIB} for h in HOSTS},
            "etcd_info": etcd_info(),
            "etcd_no_cert": no_cert(),
            "patroni_runner": "lab-1",
            "patroni_check": patroni(),
            "etcd_patroni_registry": patroni_on_registry(),
            "patroni_plain_http": plain_http(host),
        }
    hosts["lab-1"].update(
        haproxy_info={"changed": False, "info": {"Version": "2.6.12"}, "stats": copy.deepcopy(STATS)},
        haproxy_stats_anonymous={"status": 401, "msg": "OK (unknown bytes)", "url": "http://10.77.0.11:8404/stats"},
        haproxy_stats_auth={"status": 200, "msg": "OK (unknown bytes)"},
        haproxy_refused_source=refused_source(),
        haproxy_refused_source_allowed=False,
    )
    return {
        "cluster": "gardenos-lab",
        "groups": {
            "all": list(HOSTS),
            "etcd": list(HOSTS),
            "patroni": list(HOSTS),
            "haproxy": ["lab-1"],
            "k3s_server": [],
            "k3s_agent": [],
        },
        "hosts": hosts,
    }


def patroni_on_registry(**change):
    """What etcd answered a read of /registry/ with Patroni's credentials (etcd 3.5, auth on)."""
    seen = {
        "url": "https://10.77.0.11:2379",
        "logged_in": True,
        "login_status": 200,
        "status": 403,
        "error": "etcdserver: permission denied",
        "auth_wanted": True,
    }
    seen.update(change)
    return seen


def plain_http(host, **change):
    """What a member's REST API (HTTPS) gave a plain HTTP request: no answer (Patroni closes the connection)."""
    seen = {
        "url": f"http://{IPS[host]}:8008/health",
        "status": -1,
        "msg": "Status code was -1 and not [200]: Connection failure: Remote end closed connection without response",
    }
    seen.update(change)
    return seen


def refused_source(**change):
    """What refused_source_probe.py saw on an HAProxy host: the frontend closed the connection."""
    seen = {
        "outcome": "closed",
        "detail": "the connection was closed without an answer",
        "source": "127.0.0.1",
        "target": "127.0.0.1:5432",
    }
    seen.update(change)
    return seen


def every_host(observations, key, value):
    for host in HOSTS:
        observations["hosts"][host][key] = copy.deepcopy(value)


def no_host(observations, key):
    """The observation ``key`` taken off every host, as when the task that makes it did not run."""
    for host in HOSTS:
        del observations["hosts"][host][key]


def run(observations, **options):
    return health_checks(observations, NOW, **options)


def by_name(checks):
    """Checks by name; a name that more than one group uses (one leader) as "<group>: <name>"."""
    groups = {}
    for check in checks:
        groups.setdefault(check["name"], set()).add(check["group"])
    return {(f"{c['group']}: {c['name']}" if len(groups[c["name"]]) > 1 else c["name"]): c for c in checks}


def statuses(checks, status):
    return sorted(check["name"] for check in checks if check["status"] == status)


# -- the healthy lab ---------------------------------------------------------------------------


def test_the_healthy_lab_passes_with_k3s_skipped():
    checks = run(lab())
    assert statuses(checks, "fail") == []
    assert statuses(checks, "warn") == []
    assert statuses(checks, "skip") == [
        "PostgreSQL backups",
        "core pods running",
        "default StorageClass",
        "no control-plane taints",
        "nodes Ready",
    ]
    named = by_name(checks)
    for host in HOSTS:
        assert named[f"{host} reachable"]["status"] == "pass"
        assert named[f"member {host} healthy"]["status"] == "pass"
        assert named[f"etcd service on {host} running"]["status"] == "pass"
        assert named[f"patroni service on {host} running"]["status"] == "pass"
        assert named[f"etcd {host} refuses a client without a certificate"]["status"] == "pass"
    assert "lab-2 (feba6ee6a9e89e36) leads" in named["etcd: one leader"]["saw"]
    assert named["backend postgres_primary on lab-1"]["saw"].startswith("exactly one server UP (lab-2)")
    assert named["HAProxy stats on lab-1 refuse anonymous access"]["status"] == "pass"
    assert named["haproxy service on lab-1 running"]["status"] == "pass"
    # every check has the keys of the report, and a fix only when it is not a pass
    for check in checks:
        assert set(check) - {"fix"} == {"group", "name", "status", "saw"}
        assert ("fix" in check) == (check["status"] in ("warn", "fail"))


def test_checks_come_in_the_report_groups_order():
    groups = [check["group"] for check in run(lab())]
    order = ["hosts", "etcd", "k3s", "patroni", "backups", "haproxy", "security"]
    assert sorted(groups, key=order.index) == groups


def test_the_refusal_is_shown_without_uri_wrapping():
    saw = by_name(run(lab()))["etcd lab-1 refuses a client without a certificate"]["saw"]
    assert saw == (
        "https://10.77.0.11:2379 refused the TLS session: "
        "[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate (_ssl.c:992)"
    )


# -- etcd --------------------------------------------------------------------------------------


def stopped_member(observations, host):
    endpoints = [endpoint(h, error="connection refused") if h == host else endpoint(h) for h in HOSTS]
    every_host(observations, "etcd_info", etcd_info(endpoints))
    observations["hosts"][host]["services"] = services(etcd="inactive", haproxy=None)
    results = no_cert()["results"]
    for result in results:
        if result["item"]["key"] == host:
            result["msg"] = (
                "Status code was -1 and not [200]: Request failed: <urlopen error [Errno 111] Connection refused>"
            )
    every_host(observations, "etcd_no_cert", {"results": results})


def test_a_stopped_etcd_member_fails_by_name():
    observations = lab()
    stopped_member(observations, "lab-2")
    checks = run(observations)
    named = by_name(checks)
    assert statuses(checks, "fail") == ["etcd service on lab-2 running", "member lab-2 healthy"]
    member_check = named["member lab-2 healthy"]
    assert member_check["saw"] == "https://10.77.0.12:2379 unhealthy (from lab-1): connection refused"
    assert "systemctl start etcd" in member_check["fix"]
    assert "lab-2" in member_check["fix"]
    quorum = named["quorum"]
    assert quorum["status"] == "warn"
    assert "2 of 3 voting members healthy" in quorum["saw"]
    assert "down: lab-2" in quorum["saw"]
    assert named["etcd service on lab-2 running"]["saw"] == "etcd.service inactive (enabled)"
    # cannot tell whether lab-2 would refuse: not verified, not passed
    security = named["etcd lab-2 refuses a client without a certificate"]
    assert security["status"] == "warn"
    assert "[Errno 111] Connection refused" in security["saw"]
    # the rest still agree on the leader
    assert named["etcd: one leader"]["status"] == "pass"


def test_quorum_lost_fails_quorum_and_leader():
    observations = lab()
    endpoints = [
        endpoint("lab-1", healthy=False, leader=None),
        endpoint("lab-2", error="connection refused"),
        endpoint("lab-3", error="context deadline exceeded"),
    ]
    every_host(observations, "etcd_info", etcd_info(endpoints))
    named = by_name(run(observations))
    assert named["quorum"]["status"] == "fail"
    assert "quorum lost" in named["quorum"]["saw"]
    assert "0 of 3" in named["quorum"]["saw"]
    assert named["etcd: one leader"]["status"] == "fail"
    assert named["etcd: one leader"]["saw"] == "no leader: members without one: lab-1"


def test_no_member_answering_fails_every_etcd_check_with_the_reasons():
    observations = lab()
    endpoints = [endpoint(h, error="connection refused") for h in HOSTS]
    # etcd_info fails (registered with failed_when: false): a message and the endpoints, no member list
    failed = {
        "changed": False,
        "failed": False,
        "failed_when_result": False,
        "msg": "no etcd endpoint answered: ...",
        "endpoints": endpoints,
    }
    every_host(observations, "etcd_info", failed)
    named = by_name(run(observations))
    for host in HOSTS:
        assert named[f"member {host} healthy"]["status"] == "fail"
        assert "connection refused" in named[f"member {host} healthy"]["saw"]
    for name in ("members match servers.yaml", "quorum", "etcd: one leader", "db size vs quota", "alarms"):
        assert named[name]["status"] == "fail", name


def test_without_a_reachable_etcd_host_nothing_passes():
    observations = lab()
    for host in HOSTS:
        for key in ("etcd_info", "etcd_members", "etcd_runner", "etcd_no_cert"):
            observations["hosts"][host].pop(key)
    checks = [check for check in run(observations) if check["group"] in ("etcd", "security")]
    failing = [check for check in checks if "certificate /" not in check["name"] and "service" not in check["name"]]
    # Patroni's hosts read etcd as Patroni (not over SSH to etcd's): their check stands.
    failing = [
        check
        for check in failing
        if "HAProxy" not in check["name"] and "Patroni's REST API" not in check["name"] and check["name"] != CONFINED
    ]
    assert failing
    assert all(check["status"] == "fail" for check in failing)
    assert all("not checked" in check["saw"] for check in failing)


@pytest.mark.parametrize(
    ("db_size", "status"),
    [(int(0.5 * GIB), "pass"), (int(1.7 * GIB), "warn"), (int(1.95 * GIB), "fail")],
)
def test_db_size_against_the_quota(db_size, status):
    observations = lab()
    endpoints = [endpoint(h, db_size=db_size if h == "lab-3" else 45056) for h in HOSTS]
    every_host(observations, "etcd_info", etcd_info(endpoints))
    check = by_name(run(observations))["db size vs quota"]
    assert check["status"] == status
    assert check["saw"].startswith("largest on lab-3: ")
    assert "of its 2.0 GiB quota" in check["saw"]


def test_each_member_is_measured_against_its_own_quota():
    observations = lab()
    members = {h: {"endpoint": url(h), "quota_bytes": 2 * GIB} for h in HOSTS}
    members["lab-1"]["quota_bytes"] = 46000
    every_host(observations, "etcd_members", members)
    check = by_name(run(observations))["db size vs quota"]
    assert check["status"] == "fail"
    assert "lab-1" in check["saw"]


def test_a_nospace_alarm_fails_db_size_and_alarms():
    observations = lab()
    info = etcd_info()
    info["alarms"] = [{"member_id": IDS["lab-1"], "member_name": "lab-1", "alarm": "NOSPACE"}]
    every_host(observations, "etcd_info", info)
    named = by_name(run(observations))
    assert named["db size vs quota"]["status"] == "fail"
    assert "NOSPACE" in named["db size vs quota"]["saw"]
    assert named["alarms"]["status"] == "fail"
    assert named["alarms"]["saw"] == "raised: NOSPACE on lab-1"
    assert "alarm disarm" in named["alarms"]["fix"]


def test_unreadable_alarms_warn():
    observations = lab()
    info = etcd_info()
    info["alarms"] = None
    every_host(observations, "etcd_info", info)
    assert by_name(run(observations))["alarms"]["status"] == "warn"


def test_membership_against_servers_yaml():
    observations = lab()
    info = etcd_info()
    info["members"] = [member("lab-1"), member("lab-2", learner=True)]
    info["members"].append({"id": "1234", "name": "old-4", "peer_urls": [], "client_urls": [], "is_learner": False})
    every_host(observations, "etcd_info", info)
    check = by_name(run(observations))["members match servers.yaml"]
    assert check["status"] == "fail"
    assert "not a member: lab-3" in check["saw"]

    info["members"] = [member("lab-1"), member("lab-2", learner=True), member("lab-3")]
    every_host(observations, "etcd_info", info)
    check = by_name(run(observations))["members match servers.yaml"]
    assert check["status"] == "warn"
    assert "learners (not voting): lab-2" in check["saw"]


def test_members_disagreeing_on_the_leader_fail():
    observations = lab()
    endpoints = [endpoint("lab-1", leader="lab-1"), endpoint("lab-2"), endpoint("lab-3")]
    every_host(observations, "etcd_info", etcd_info(endpoints))
    check = by_name(run(observations))["etcd: one leader"]
    assert check["status"] == "fail"
    assert "lab-1 sees lab-1" in check["saw"]
    assert "lab-2, lab-3 sees lab-2" in check["saw"]


# -- certificates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("not_after", "status", "saw"),
    [
        ("20290225195610Z", "pass", "valid until 2029-02-25 19:56 UTC (824 days)"),
        ("20261204013000Z", "warn", "expires 2026-12-04 01:30 UTC, in 10 days (under 30)"),
        ("20261120013000Z", "fail", "expired 2026-11-20 01:30 UTC (4 days ago)"),
        ("20271124013000Z", "pass", "valid until 2027-11-24 01:30 UTC (365 days)"),
    ],
)
def test_certificate_expiry(not_after, status, saw):
    observations = lab()
    observations["hosts"]["lab-3"].update(certs("lab-3", not_after))
    check = by_name(run(observations))["certificate /etc/etcd/pki/server.crt on lab-3"]
    assert check["status"] == status
    assert check["saw"] == saw
    if status != "pass":
        assert "lab-3-server.crt" in check["fix"]


def test_the_warning_threshold_is_an_option():
    observations = lab()
    observations["hosts"]["lab-3"].update(certs("lab-3", "20261204013000Z"))
    check = by_name(run(observations, cert_warn_days=7))["certificate /etc/etcd/pki/server.crt on lab-3"]
    assert check["status"] == "pass"


def test_a_missing_certificate_fails_said_shortly():
    observations = lab()
    observations["hosts"]["lab-1"]["etcd_certs"][2] = unread_result(
        "/etc/etcd/pki/peer.crt", "lab-1-peer.crt", "File not found: /etc/etcd/pki/peer.crt"
    )
    check = by_name(run(observations))["certificate /etc/etcd/pki/peer.crt on lab-1"]
    assert check["status"] == "fail"
    assert check["saw"] == "cannot read it: no such file"
    assert "run site.yml" in check["fix"]


def test_an_unreadable_certificate_fails_with_the_reason():
    observations = lab()
    observations["hosts"]["lab-1"]["patroni_certs"][0] = unread_result(
        "/etc/patroni/pki/etcd-client.crt",
        "client-patroni.crt",
        "File is not readable: /etc/patroni/pki/etcd-client.crt",
    )
    check = by_name(run(observations))["certificate /etc/patroni/pki/etcd-client.crt on lab-1"]
    assert check["status"] == "fail"
    assert check["saw"] == "cannot read it: File is not readable: /etc/patroni/pki/etcd-client.crt"


@pytest.mark.parametrize(
    "content",
    [
        base64.b64encode(
            b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
        ).decode(),
        "%%%",
    ],
)
def test_a_file_that_is_no_certificate_fails(content):
    observations = lab()
    observations["hosts"]["lab-2"]["etcd_certs"][1]["content"] = content
    check = by_name(run(observations))["certificate /etc/etcd/pki/server.crt on lab-2"]
    assert check["status"] == "fail"
    assert check["saw"].startswith("no expiry date: not a PEM certificate ("), check["saw"]


def test_each_roles_certificates_are_checked_in_the_report_order():
    observations = with_k3s()
    observations["hosts"]["lab-2"]["k3s_certs"] = [cert_result("/etc/rancher/k3s/etcd/client.crt", "client-k3s.crt")]
    names = [check["name"] for check in run(observations) if check["name"].endswith(" on lab-2")]
    assert [name for name in names if name.startswith("certificate ")] == [
        "certificate /etc/etcd/pki/ca.crt on lab-2",
        "certificate /etc/etcd/pki/server.crt on lab-2",
        "certificate /etc/etcd/pki/peer.crt on lab-2",
        "certificate /etc/etcd/pki/admin.crt on lab-2",
        "certificate /etc/patroni/pki/etcd-client.crt on lab-2",
        "certificate /etc/rancher/k3s/etcd/client.crt on lab-2",
    ]


def test_a_host_whose_roles_published_no_certificate_fails():
    observations = lab()
    observations["hosts"]["lab-2"]["etcd_certs"] = []
    observations["hosts"]["lab-2"]["patroni_certs"] = []
    check = by_name(run(observations))["certificates on lab-2"]
    assert check["status"] == "fail"
    assert check["saw"] == "not checked: no certificate listed"


def test_certificate_not_after_reads_the_first_certificate_of_a_bundle():
    bundle = certificate_pem("20290205090304Z") + certificate_pem("20271124013000Z")
    utc = datetime.timezone.utc
    assert certificate_not_after(base64.b64encode(bundle).decode()) == (
        datetime.datetime(2029, 2, 5, 9, 3, 4, tzinfo=utc),
        None,
    )


# -- unreachable hosts -------------------------------------------------------------------------


def test_an_unreachable_host_fails_and_nothing_about_it_passes():
    observations = lab()
    unreachable = {
        "unreachable": True,
        "changed": False,
        "msg": "Failed to connect to the host via ssh: ssh: connect to host 10.77.0.13 port 22: No route to host",
    }
    observations["hosts"]["lab-3"] = {"ip": IPS["lab-3"], "ping": unreachable}
    checks = run(observations)
    named = by_name(checks)
    assert named["lab-3 reachable"]["status"] == "fail"
    assert "No route to host" in named["lab-3 reachable"]["saw"]
    for name in ("certificates on lab-3", "etcd service on lab-3 running", "patroni service on lab-3 running"):
        assert named[name]["status"] == "fail"
        assert named[name]["saw"] == "not checked: lab-3 is unreachable"
    # the cluster-wide results come from the hosts that ran them
    assert named["member lab-1 healthy"]["status"] == "pass"


def test_a_host_where_ansible_cannot_run_fails():
    observations = lab()
    observations["hosts"]["lab-2"]["ping"] = {"changed": False, "failed": False, "msg": "sudo: a password is required"}
    check = by_name(run(observations))["lab-2 reachable"]
    assert check["status"] == "fail"
    assert "sudo: a password is required" in check["saw"]


def test_a_stopped_service_that_is_not_installed_fails():
    observations = lab()
    observations["hosts"]["lab-3"]["services"] = services(patroni=None, haproxy=None)
    check = by_name(run(observations))["patroni service on lab-3 running"]
    assert check["status"] == "fail"
    assert check["saw"] == "patroni.service not installed"


# -- Patroni -----------------------------------------------------------------------------------


def test_an_unhealthy_patroni_cluster_fails_with_its_problems():
    observations = lab()
    result = patroni(healthy=False, problems=["member lab-3 (replica) is stopped, not streaming"])
    result["members"][2].update(state="stopped", lag=None)
    every_host(observations, "patroni_check", result)
    named = by_name(run(observations))
    assert named["cluster postgres-cluster healthy"]["status"] == "fail"
    assert "member lab-3 (replica) is stopped" in named["cluster postgres-cluster healthy"]["saw"]
    assert named["member lab-3"]["status"] == "fail"
    assert named["member lab-3"]["saw"] == "replica, stopped, timeline 2"
    assert named["member lab-1"]["status"] == "pass"


def test_a_stuck_uninitialized_cluster_points_to_the_recovery_playbook():
    observations = lab()
    result = patroni(leader=None, healthy=False, uninitialized=True, problems=["no leader"])
    for m in result["members"]:
        m.update(role="uninitialized", state="running", lag=None)
    every_host(observations, "patroni_check", result)
    named = by_name(run(observations))
    assert "patroni_recover_stale_dcs.yml" in named["cluster postgres-cluster healthy"]["fix"]
    assert named["patroni: one leader"]["status"] == "fail"


def test_patroni_lag_and_missing_members():
    observations = lab()
    result = patroni()
    result["members"][0]["lag"] = 5 * 1024 * 1024
    del result["members"][2]
    every_host(observations, "patroni_check", result)
    named = by_name(run(observations))
    assert named["member lab-1"]["status"] == "fail"
    assert "lag 5.0 MiB" in named["member lab-1"]["saw"]
    assert named["member lab-3"]["status"] == "fail"
    assert named["member lab-3"]["saw"].startswith("not registered in the DCS")


def test_patroni_paused_warns():
    observations = lab()
    every_host(observations, "patroni_check", patroni(paused=True))
    assert by_name(run(observations))["automatic failover"]["status"] == "warn"


def test_patroni_not_answering_fails():
    observations = lab()
    failed = {"changed": False, "failed": False, "msg": "no Patroni REST API answered: http://10.77.0.11:8008: refused"}
    every_host(observations, "patroni_check", failed)
    check = by_name(run(observations))["cluster healthy"]
    assert check["status"] == "fail"
    assert "no Patroni REST API answered" in check["saw"]


# -- HAProxy -----------------------------------------------------------------------------------


def set_status(observations, proxy, server, status, *, check_status="L7STS", check_code="503"):
    for row in observations["hosts"]["lab-1"]["haproxy_info"]["stats"]:
        if row["pxname"] == proxy and row["svname"] == server:
            row.update(status=status, check_status=check_status, check_code=check_code)


def test_every_backend_is_checked():
    names = [check["name"] for check in run(lab()) if check["group"] == "haproxy"]
    assert names[:3] == [
        "backend postgres_primary on lab-1",
        "backend postgres_replicas on lab-1",
        "backend stats on lab-1",
    ]


def test_the_primary_backend_without_an_up_server_fails():
    observations = lab()
    set_status(observations, "postgres_primary", "lab-2", "DOWN")
    check = by_name(run(observations))["backend postgres_primary on lab-1"]
    assert check["status"] == "fail"
    assert "no server UP" in check["saw"]


def test_two_up_servers_in_the_primary_backend_fail():
    observations = lab()
    set_status(observations, "postgres_primary", "lab-3", "UP", check_status="L7OK", check_code="200")
    check = by_name(run(observations))["backend postgres_primary on lab-1"]
    assert check["status"] == "fail"
    assert check["saw"].startswith("2 servers UP (lab-2, lab-3)")


def test_the_primary_backend_must_follow_patronis_leader():
    observations = lab()
    every_host(observations, "patroni_check", patroni(leader="lab-1"))
    check = by_name(run(observations))["backend postgres_primary on lab-1"]
    assert check["status"] == "fail"
    assert "sends to lab-2 but Patroni's leader is lab-1" in check["saw"]


def test_a_lagging_replica_warns_but_the_leader_down_in_replicas_is_expected():
    named = by_name(run(lab()))
    assert named["backend postgres_replicas on lab-1"]["status"] == "pass"
    observations = lab()
    set_status(observations, "postgres_replicas", "lab-3", "DOWN")
    check = by_name(run(observations))["backend postgres_replicas on lab-1"]
    assert check["status"] == "warn"
    assert check["saw"].endswith("down: lab-3")


def test_a_down_backend_fails():
    observations = lab()
    set_status(observations, "postgres_replicas", "BACKEND", "DOWN", check_status="", check_code="")
    assert by_name(run(observations))["backend postgres_replicas on lab-1"]["status"] == "fail"


def test_an_unreadable_stats_socket_fails():
    observations = lab()
    observations["hosts"]["lab-1"]["haproxy_info"] = {
        "changed": False,
        "failed": False,
        "msg": "no HAProxy stats socket at /run/haproxy/admin.sock: is HAProxy running?",
        "socket": "/run/haproxy/admin.sock",
    }
    check = by_name(run(observations))["stats socket on lab-1"]
    assert check["status"] == "fail"
    assert "systemctl status haproxy" in check["fix"]


def test_a_stats_page_that_does_not_answer_fails():
    observations = lab()
    observations["hosts"]["lab-1"]["haproxy_stats_auth"] = {
        "status": -1,
        "msg": "Status code was -1 and not [200]: Request failed: <urlopen error [Errno 111] Connection refused>",
    }
    check = by_name(run(observations))["stats page on lab-1 with the credentials"]
    assert check["status"] == "fail"
    assert check["saw"] == "did not answer: [Errno 111] Connection refused"


def test_wrong_stats_credentials_fail():
    observations = lab()
    observations["hosts"]["lab-1"]["haproxy_stats_auth"] = {"status": 401, "msg": "HTTP Error 401: Unauthorized"}
    check = by_name(run(observations))["stats page on lab-1 with the credentials"]
    assert check["status"] == "fail"
    assert "haproxy-stats-password" in check["fix"]


# -- security ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "msg", "expected"),
    [
        (
            -1,
            "Request failed: <urlopen error [SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required",
            "pass",
        ),
        (-1, "Status code was -1 and not [200]: Connection failure: [Errno 104] Connection reset by peer", "pass"),
        (200, "OK (45 bytes)", "fail"),
        (401, "HTTP Error 401", "fail"),
        (-1, "Request failed: <urlopen error [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed>", "warn"),
        (-1, "Request failed: <urlopen error [Errno 111] Connection refused>", "warn"),
        (-1, "Request failed: <urlopen error timed out>", "warn"),
        (-1, "", "warn"),
    ],
)
def test_classify_a_request_without_a_client_certificate(status, msg, expected):
    assert classify_no_cert(status, msg)[0] == expected


def test_etcd_answering_without_a_certificate_fails():
    observations = lab()
    every_host(observations, "etcd_no_cert", no_cert(status=200, msg="OK (45 bytes)"))
    check = by_name(run(observations))["etcd lab-1 refuses a client without a certificate"]
    assert check["status"] == "fail"
    assert "client-cert-auth" in check["fix"]


@pytest.mark.parametrize(("code", "status"), [(401, "pass"), (200, "fail"), (404, "warn"), (-1, "warn")])
def test_anonymous_stats(code, status):
    observations = lab()
    observations["hosts"]["lab-1"]["haproxy_stats_anonymous"] = {
        "status": code,
        "msg": "",
        "url": "http://x:8404/stats",
    }
    assert by_name(run(observations))["HAProxy stats on lab-1 refuse anonymous access"]["status"] == status


CONFINED = "etcd refuses Patroni's user on K3s's keys"


def test_patroni_refused_on_registry_passes():
    check = by_name(run(lab()))[CONFINED]
    assert check["status"] == "pass"
    assert check["saw"] == "a read of /registry/ on https://10.77.0.11:2379: 403 etcdserver: permission denied"


@pytest.mark.parametrize(
    ("change", "status", "saw"),
    [
        ({"status": 200, "error": ""}, "fail", "with Patroni's credentials answered 200"),
        (
            {"logged_in": False, "login_status": 400, "status": 200, "error": ""},
            "fail",
            "Patroni's user did not log in",
        ),
        ({"auth_wanted": "False", "logged_in": False, "status": 200}, "warn", "authorization is off"),
        (None, "fail", "not checked"),
    ],
)
def test_patroni_reading_registry_or_unchecked_does_not_pass(change, status, saw):
    observations = lab()
    if change is None:
        no_host(observations, "etcd_patroni_registry")
    else:
        every_host(observations, "etcd_patroni_registry", patroni_on_registry(**change))
    check = by_name(run(observations))[CONFINED]
    assert check["status"] == status
    assert saw in check["saw"]


PLAIN_HTTP = "Patroni's REST API on lab-2 refuses plain HTTP"
REFUSED_SOURCE = "HAProxy on lab-1 refuses a client from outside the allowed networks"


def test_the_healthy_lab_shows_both_refusals():
    checks = by_name(run(lab()))
    assert checks[PLAIN_HTTP]["status"] == "pass"
    assert "no answer" in checks[PLAIN_HTTP]["saw"]
    assert checks[REFUSED_SOURCE]["status"] == "pass"
    assert "127.0.0.1:5432 from 127.0.0.1" in checks[REFUSED_SOURCE]["saw"]


@pytest.mark.parametrize(
    ("change", "status", "saw"),
    [
        ({"status": 200, "msg": "OK (2 bytes)"}, "fail", "answered HTTP 200 over plain HTTP"),
        ({"msg": "Status code was -1: Connection failure: [Errno 111] Connection refused"}, "warn", "did not answer"),
        (None, "fail", "not checked"),
    ],
)
def test_patroni_plain_http_answered_or_unchecked_does_not_pass(change, status, saw):
    observations = lab()
    if change is None:
        del observations["hosts"]["lab-2"]["patroni_plain_http"]
    else:
        observations["hosts"]["lab-2"]["patroni_plain_http"] = plain_http("lab-2", **change)
    check = by_name(run(observations))[PLAIN_HTTP]
    assert check["status"] == status
    assert saw in check["saw"]


@pytest.mark.parametrize(
    ("seen", "allowed", "status", "saw"),
    [
        (refused_source(outcome="answered", detail="PostgreSQL answered 'N'"), False, "fail", "was let through"),
        (refused_source(outcome="timeout", detail="no answer in 5 s"), False, "warn", "not verified"),
        (refused_source(outcome="answered"), True, "skip", "networks hold 127.0.0.1"),
        ({}, False, "skip", "no PostgreSQL frontend"),
    ],
)
def test_a_source_let_through_fails_and_what_cannot_be_shown_is_said(seen, allowed, status, saw):
    observations = lab()
    observations["hosts"]["lab-1"].update(haproxy_refused_source=seen, haproxy_refused_source_allowed=allowed)
    check = by_name(run(observations))[REFUSED_SOURCE]
    assert check["status"] == status
    assert saw in check["saw"]


def test_a_refused_source_never_asked_fails():
    observations = lab()
    del observations["hosts"]["lab-1"]["haproxy_refused_source"]
    assert by_name(run(observations))[REFUSED_SOURCE]["status"] == "fail"


# -- K3s ---------------------------------------------------------------------------------------


def node(name, ready="True", taints=None):
    return {
        "metadata": {"name": name},
        "spec": {"taints": taints or []},
        "status": {
            "conditions": [
                {"type": "Ready", "status": ready, "reason": "KubeletReady", "message": "kubelet is posting"}
            ],
            "nodeInfo": {"kubeletVersion": "v1.36.3+k3s1"},
        },
    }


def pod(name, phase="Running", ready=True, waiting=None):
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "metadata": {"name": name},
        "status": {"phase": phase, "containerStatuses": [{"name": name.split("-")[0], "ready": ready, "state": state}]},
    }


def with_k3s(nodes=None, classes=None, pods=None, kubeconfig=True):
    observations = lab()
    observations["groups"]["k3s_server"] = list(HOSTS)
    observations["groups"]["k3s_agent"] = ["lab-4"]
    observations["groups"]["all"].append("lab-4")
    observations["hosts"]["lab-4"] = {
        "ip": "10.77.0.14",
        "ping": {"ping": "pong"},
        "services": services(etcd=None, patroni=None, haproxy=None, **{"k3s-agent": "running"}),
    }
    for host in HOSTS:
        observations["hosts"][host]["services"]["ansible_facts"]["services"]["k3s.service"] = {
            "state": "running",
            "status": "enabled",
        }
    default = {"storageclass.kubernetes.io/is-default-class": "true"}
    k3s = {
        "k3s_kubeconfig": {"path": "/inv/secrets/kubeconfig.yaml", "exists": kubeconfig},
        "k3s_nodes": {"resources": nodes if nodes is not None else [node(h) for h in [*HOSTS, "lab-4"]]},
        "k3s_storage_classes": {
            "resources": classes
            if classes is not None
            else [{"metadata": {"name": "local-path", "annotations": default}, "provisioner": "rancher.io/local-path"}]
        },
        "k3s_pods": {
            "resources": pods
            if pods is not None
            else [
                pod("coredns-6799fbcd5-x2x"),
                pod("local-path-provisioner-6c86858495-abc"),
                pod("metrics-server-54fd9b65b-def"),
                pod("helm-install-traefik-xyz", phase="Succeeded", ready=False),
            ]
        },
    }
    k3s["k3s_secrets_encryption"] = {
        "rc": 0,
        "host": "lab-1",
        "stdout": "Encryption Status: Enabled\nCurrent Rotation Stage: start\n"
        "Server Encryption Hashes: All hashes match",
    }
    if not kubeconfig:
        k3s = {"k3s_kubeconfig": k3s["k3s_kubeconfig"]}
    for host in HOSTS:
        observations["hosts"][host].update(copy.deepcopy(k3s))
    return observations


def test_k3s_healthy():
    checks = [check for check in run(with_k3s()) if check["group"] == "k3s"]
    assert statuses(checks, "fail") == []
    assert statuses(checks, "skip") == []
    named = by_name(checks)
    assert named["node lab-4 Ready"]["saw"] == "Ready, kubelet v1.36.3+k3s1"
    assert named["default StorageClass"]["saw"].startswith("local-path (rancher.io/local-path) is the default")
    assert named["core pods running"]["saw"].startswith("3 pod(s) running and ready in kube-system")
    assert named["k3s-agent service on lab-4 running"]["status"] == "pass"
    assert named["k3s service on lab-1 running"]["status"] == "pass"


ENCRYPTION = "K3s encrypts Secrets at rest"


def test_secrets_encryption_enabled_passes():
    check = by_name(run(with_k3s()))[ENCRYPTION]
    assert check["group"] == "security"
    assert check["status"] == "pass"
    assert check["saw"].startswith("lab-1: Encryption Status: Enabled Current Rotation Stage: start")


@pytest.mark.parametrize(
    ("result", "saw", "fix"),
    [
        ({"rc": 0, "host": "lab-1", "stdout": "Encryption Status: Disabled"}, "Disabled", "reencrypt"),
        (
            {"rc": 1, "host": "lab-1", "stdout": "", "stderr": 'level=fatal msg="see server log for details"'},
            "failed on lab-1",
            "systemctl status k3s",
        ),
        (None, "not checked", "reachable"),
    ],
)
def test_secrets_encryption_off_or_unread_fails(result, saw, fix):
    observations = with_k3s()
    if result is None:
        no_host(observations, "k3s_secrets_encryption")
    else:
        every_host(observations, "k3s_secrets_encryption", result)
    check = by_name(run(observations))[ENCRYPTION]
    assert check["status"] == "fail"
    assert saw in check["saw"]
    assert fix in check["fix"]


def test_secrets_encryption_is_not_checked_without_k3s_servers():
    assert ENCRYPTION not in by_name(run(lab()))


def test_k3s_without_a_reachable_server_fails_every_check():
    observations = with_k3s()
    for host in HOSTS:
        for key in ("k3s_kubeconfig", "k3s_nodes", "k3s_storage_classes", "k3s_pods"):
            del observations["hosts"][host][key]
    checks = [check for check in run(observations) if check["group"] == "k3s" and "service" not in check["name"]]
    assert len(checks) == 4
    assert all(
        check["status"] == "fail"
        and check["saw"] == "not checked: no k3s_server host was reachable to read the cluster from"
        for check in checks
    )


def test_k3s_without_the_kubeconfig_fails_every_check():
    checks = [
        check for check in run(with_k3s(kubeconfig=False)) if check["group"] == "k3s" and "service" not in check["name"]
    ]
    assert len(checks) == 4
    assert all(
        check["status"] == "fail" and "no kubeconfig at /inv/secrets/kubeconfig.yaml" in check["saw"]
        for check in checks
    )


def test_k3s_problems():
    taint = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    observations = with_k3s(
        nodes=[node("lab-1", taints=taint), node("lab-2", ready="False"), node("lab-3")],
        classes=[
            {"metadata": {"name": "a", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}},
            {"metadata": {"name": "b", "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "true"}}},
        ],
        pods=[pod("coredns-1", ready=False, waiting="CrashLoopBackOff"), pod("metrics-server-1")],
    )
    named = by_name(run(observations))
    assert named["node lab-2 Ready"]["status"] == "fail"
    assert named["node lab-4 Ready"]["saw"].startswith("not registered")
    assert named["no control-plane taints"]["status"] == "fail"
    assert "lab-1 node-role.kubernetes.io/control-plane:NoSchedule" in named["no control-plane taints"]["saw"]
    assert named["default StorageClass"]["saw"].startswith("several defaults")
    assert named["core pods running"]["status"] == "fail"
    assert "coredns-1 Running (CrashLoopBackOff)" in named["core pods running"]["saw"]


def test_k3s_api_errors_fail():
    observations = with_k3s()
    for host in HOSTS:
        observations["hosts"][host]["k3s_nodes"] = {
            "failed": False,
            "msg": "Failed to get client due to HTTPSConnectionPool",
        }
    named = by_name(run(observations))
    assert named["nodes Ready"]["status"] == "fail"
    assert "HTTPSConnectionPool" in named["nodes Ready"]["saw"]


# -- score and text ----------------------------------------------------------------------------


def test_score_counts_statuses():
    checks = [
        {"group": "hosts", "name": "a", "status": "pass", "saw": ""},
        {"group": "hosts", "name": "b", "status": "warn", "saw": "", "fix": "x"},
        {"group": "hosts", "name": "c", "status": "fail", "saw": "", "fix": "x"},
        {"group": "k3s", "name": "d", "status": "skip", "saw": ""},
    ]
    assert health_score(checks) == {"passed": 1, "warnings": 1, "failed": 1, "skipped": 1, "total": 4, "ok": False}
    assert health_score(checks[:1])["ok"] is True


@pytest.mark.parametrize("bad", [None, "x", [{"status": "great"}], [{"name": "no status"}]])
def test_score_refuses_what_is_not_a_check(bad):
    with pytest.raises(AnsibleFilterError):
        health_score(bad)


def test_text_report_lines():
    observations = lab()
    stopped_member(observations, "lab-2")
    lines = health_report(run(observations), "gardenos-lab", NOW)
    assert lines[0] == "gardenos-lab health report, 2026-11-24 01:30:00 UTC"
    assert "== etcd ==" in lines
    index = lines.index(
        "FAIL  etcd  member lab-2 healthy \u2014 saw: "
        "https://10.77.0.12:2379 unhealthy (from lab-1): connection refused"
    )
    assert lines[index + 1].startswith("  fix: on lab-2: systemctl status etcd")
    assert "PASS  hosts  lab-1 reachable \u2014 saw: 10.77.0.11 answered Ansible's ping (pong)" in lines
    assert "SKIP  k3s  nodes Ready \u2014 saw: no k3s_server hosts in the inventory" in lines
    assert lines[-1] == "score: 47 passed, 2 warnings, 2 failed, 5 skipped (of 56)"


def test_score_line_without_skips():
    checks = [{"group": "hosts", "name": "a", "status": "pass", "saw": "x"}]
    assert health_report(checks, "c", NOW)[-1] == "score: 1 passed, 0 warnings, 0 failed (of 1)"


def test_no_ansi_or_control_characters_reach_the_report():
    observations = lab()
    observations["hosts"]["lab-2"]["ping"] = {
        "unreachable": True,
        "msg": "\x1b[0;31mssh: connect\r\n\tfailed\x1b[0m\x07",
    }
    checks = run(observations)
    assert by_name(checks)["lab-2 reachable"]["saw"] == "unreachable at 10.77.0.12: ssh: connect failed"
    text = "\n".join(health_report(checks, "gardenos-lab\x1b[1m", NOW))
    assert "\x1b" not in text
    assert not any(ord(char) < 32 and char != "\n" for char in text)


def test_long_observations_are_cut():
    observations = lab()
    observations["hosts"]["lab-2"]["ping"] = {"unreachable": True, "msg": "x" * 5000}
    assert len(by_name(run(observations))["lab-2 reachable"]["saw"]) <= 600


def test_groups_without_hosts_are_skipped_not_passed():
    observations = {"cluster": "empty", "groups": {"all": []}, "hosts": {}}
    checks = run(observations)
    assert {check["status"] for check in checks} == {"skip"}


def test_bad_input_is_refused():
    with pytest.raises(AnsibleFilterError):
        health_checks(["not", "a", "mapping"], NOW)
    with pytest.raises(AnsibleFilterError):
        health_checks(lab(), "yesterday")


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"health_checks", "health_score", "health_report"}


# -- the VIP (keepalived) -------------------------------------------------------------------------


def with_vip(holders, proxies=("lab-1", "lab-2")):
    """The lab with the VIP 10.77.0.10 over HAProxy on ``proxies``, held by ``holders`` (None: not looked at)."""
    observations = lab()
    observations["vip"] = "10.77.0.10"
    observations["groups"]["haproxy"] = list(proxies)
    for host in proxies:
        seen = observations["hosts"][host]
        seen["services"] = services(keepalived="running")
        seen["haproxy_info"] = copy.deepcopy(observations["hosts"]["lab-1"]["haproxy_info"])
        if holders is not None:
            seen["keepalived_vip"] = {"vip": "10.77.0.10", "rc": 0, "held": host in holders, "msg": ""}
    return observations


def test_a_vip_held_by_one_host_passes_and_keepalived_runs_on_each():
    checks = by_name(run(with_vip(["lab-2"])))
    assert checks["VIP 10.77.0.10 held by one host"]["status"] == "pass"
    assert checks["VIP 10.77.0.10 held by one host"]["saw"] == "held by lab-2"
    assert checks["keepalived service on lab-1 running"]["status"] == "pass"
    assert checks["keepalived service on lab-2 running"]["status"] == "pass"


def test_a_vip_held_by_no_host_fails():
    check = by_name(run(with_vip([])))["VIP 10.77.0.10 held by one host"]
    assert check["status"] == "fail"
    assert check["saw"] == "held by no host: clients of the VIP have no way in"


def test_a_vip_held_by_two_hosts_fails_as_split_brain():
    check = by_name(run(with_vip(["lab-1", "lab-2"])))["VIP 10.77.0.10 held by one host"]
    assert check["status"] == "fail"
    assert check["saw"] == "held by lab-1, lab-2 at once: their keepalived do not hear each other"
    assert "IP protocol 112" in check["fix"]


def test_a_vip_holder_with_another_host_unseen_warns():
    observations = with_vip(["lab-1"])
    del observations["hosts"]["lab-2"]["keepalived_vip"]
    observations["hosts"]["lab-2"]["ping"] = {"unreachable": True, "msg": "ssh: connect timed out"}
    check = by_name(run(observations))["VIP 10.77.0.10 held by one host"]
    assert check["status"] == "warn"
    assert check["saw"] == "held by lab-1; not checked on lab-2 is unreachable"


def test_a_stopped_keepalived_fails_by_host():
    observations = with_vip(["lab-1"])
    observations["hosts"]["lab-2"]["services"] = services(keepalived="stopped")
    assert by_name(run(observations))["keepalived service on lab-2 running"]["status"] == "fail"


def test_without_a_vip_there_is_no_vip_check():
    names = [check["name"] for check in run(lab())]
    assert not [name for name in names if "VIP" in name or "keepalived" in name]
