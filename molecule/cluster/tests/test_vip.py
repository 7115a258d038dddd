"""The cluster's VIP (servers.yaml cluster.vip, IPv6 here) over the three HAProxy hosts: keepalived holds it on
exactly one of them, psql through it reaches the primary, the holder's own connections do not come from it, and
when the holder's HAProxy stops the VIP moves to another host within seconds and stays there when it comes back
(non-preemptive). The write outage through the VIP is measured by a probe that writes a row every 100 ms from a
host that keeps its HAProxy, and every acknowledged row is read back.
"""

import json
import os
import shlex
import time
import uuid
from pathlib import Path

import testinfra
from conftest import scenario_cluster, scenario_servers

SERVERS = scenario_servers("haproxy")
NAMES = sorted(SERVERS)
HOSTS = {name: testinfra.get_host(f"podman://{name}") for name in NAMES}
VIP = scenario_cluster()["vip"]
# The drills' write probe: one INSERT every 100 ms, each retried until acknowledged.
PROBE = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "tests" / "drills" / "write_probe.py"


def holders():
    """The hosts that hold the VIP."""
    return [name for name in NAMES if HOSTS[name].run(f"ip -o address show to {VIP}").stdout.strip()]


def wait_for_one_holder(timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        held = holders()
        if len(held) == 1:
            return held[0]
        time.sleep(0.2)
    raise AssertionError(f"the VIP is held by {holders()} after {timeout}s")


def superuser_env():
    """Shell assignments that give psql the superuser's password (root-only environment file)."""
    return "set -a; . /etc/patroni/patroni.env; set +a; PGPASSWORD=$PATRONI_SUPERUSER_PASSWORD PGCONNECT_TIMEOUT=3"


def psql(on, sql):
    return HOSTS[on].run(
        f"{superuser_env()} psql -X -At -h {VIP} -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1 "
        f"-c {shlex.quote(sql)}"
    )


def test_exactly_one_host_holds_the_vip_and_keepalived_runs_on_each():
    assert len(holders()) == 1, holders()
    for name in NAMES:
        assert HOSTS[name].service("keepalived").is_running, name
        assert HOSTS[name].run("keepalived --config-test").rc == 0, name


def test_psql_through_the_vip_reaches_the_primary_from_every_host():
    for name in NAMES:
        result = psql(name, "select pg_is_in_recovery()")
        assert result.rc == 0, (name, result.stderr)
        assert result.stdout.strip() == "f", name


def test_the_holder_reaches_the_other_hosts_from_its_own_address():
    """HAProxy's connections to the backends must come from the address they allow, not from the VIP."""
    holder = wait_for_one_holder()
    for name in NAMES:
        if name != holder:
            route = HOSTS[holder].check_output(f"ip route get {SERVERS[name]['ip']}")
            assert f"src {SERVERS[holder]['ip']} " in route + " ", route


def test_the_vip_moves_when_its_holders_haproxy_stops_and_stays_when_it_returns():
    old = wait_for_one_holder()
    writer = next(name for name in NAMES if name != old)
    run = f"vip-{uuid.uuid4().hex[:8]}"
    HOSTS[writer].run(f"cat > /root/write_probe.py <<'EOF'\n{PROBE.read_text()}\nEOF")
    # The probe writes through the VIP in a transient unit, with the superuser's password from Patroni's
    # environment file; HAProxy on the holder stops 3 s in.
    HOSTS[writer].check_output(
        f"systemd-run --unit {run} -p StandardOutput=file:/root/{run}.json /bin/sh -c "
        + shlex.quote(
            "set -a; . /etc/patroni/patroni.env; set +a; PGPASSWORD=$PATRONI_SUPERUSER_PASSWORD "
            f"exec python3 /root/write_probe.py pg {run} {VIP} /root/stop-{run}"
        )
    )
    time.sleep(3)
    stopped = time.monotonic()
    HOSTS[old].check_output("systemctl stop haproxy")
    try:
        new = None
        while new in (None, old):
            held = holders()
            new = held[0] if len(held) == 1 else None
            assert time.monotonic() - stopped < 10, f"the VIP is still held by {held} 10 s after HAProxy stopped"
            time.sleep(0.1)
        moved = time.monotonic() - stopped
        time.sleep(3)
    finally:
        HOSTS[old].check_output("systemctl start haproxy")
        HOSTS[writer].check_output(f"touch /root/stop-{run}")
    deadline = time.monotonic() + 30
    while not HOSTS[writer].file(f"/root/{run}.json").content_string.strip():
        assert time.monotonic() < deadline, HOSTS[writer].run(f"journalctl -u {run} -n 20").stdout
        time.sleep(0.5)
    figures = json.loads(HOSTS[writer].file(f"/root/{run}.json").content_string)
    print(
        f"VIP drill: HAProxy stopped on {old}, {new} held the VIP {moved:.1f}s later; writes {figures['writes']}, "
        f"failed attempts {figures['failures']}, longest wait {figures['longest_wait']}s, lost {figures['lost']}"
    )
    assert figures["writes"] > 0 and figures["lost"] == 0 and figures["given_up"] == 0, figures
    assert figures["longest_wait"] <= 5.0, figures
    # Non-preemptive: with its HAProxy back, the old holder does not take the VIP back.
    time.sleep(4)
    assert holders() == [new]


def test_the_vip_check_fails_on_a_configuration_that_does_not_load_and_rechecks_only_a_changed_one():
    """keepalived's check (haproxy -c) keeps its verdict with the files' identities: a broken haproxy.cfg fails it
    at once (nothing reloads HAProxy), the repaired one passes, and an unchanged one is not checked again."""
    host = HOSTS[next(name for name in NAMES if name != wait_for_one_holder())]
    check, verdict = "/usr/local/lib/gardenos-haproxy-ready", "/run/gardenos-haproxy-ready.verdict"
    assert host.run(check).rc == 0
    assert host.file(verdict).content_string.startswith("/etc/haproxy/haproxy.cfg ")
    host.check_output("cp -p /etc/haproxy/haproxy.cfg /root/haproxy.cfg.good")
    try:
        host.check_output("echo 'no-such-keyword here' >> /etc/haproxy/haproxy.cfg")
        assert host.run(check).rc == 1
        assert not host.file(verdict).exists
    finally:
        host.check_output("cp /root/haproxy.cfg.good /etc/haproxy/haproxy.cfg")
    assert host.run(check).rc == 0
    # The verdict is kept: a later check with the same files leaves the file as it is.
    kept = host.file(verdict).mtime
    time.sleep(1.1)
    assert host.run(check).rc == 0
    assert host.file(verdict).mtime == kept
