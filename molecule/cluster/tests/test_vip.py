"""The cluster's VIP (servers.yaml cluster.vip, IPv6 here) over the three HAProxy hosts: keepalived holds it on
exactly one of them, psql through it reaches the primary, the holder's own connections do not come from it, and
when the holder's HAProxy stops the VIP moves to another host within seconds and stays there when it comes back
(non-preemptive). The write outage through the VIP is measured by a probe that writes a row every 100 ms from a
host that keeps its HAProxy, and every acknowledged row is read back.
"""

import shlex
import time
import uuid

import testinfra
from conftest import scenario_cluster, scenario_servers

SERVERS = scenario_servers()
NAMES = sorted(SERVERS)
HOSTS = {name: testinfra.get_host(f"podman://{name}") for name in NAMES}
VIP = scenario_cluster()["vip"]
# The probe's result line: rows acknowledged, failed writes, longest gap between two acknowledged writes (ms).
PROBE = r"""
import os, subprocess, sys, time
env = dict(os.environ, PGPASSWORD=os.environ["PATRONI_SUPERUSER_PASSWORD"], PGCONNECT_TIMEOUT="3")
stop = time.monotonic() + float(sys.argv[1])
acked = failed = 0
longest = 0.0
last = time.monotonic()
while time.monotonic() < stop:
    done = subprocess.run(
        ["psql", "-X", "-At", "-h", sys.argv[2], "-p", "5432", "-U", "postgres", "-d", "postgres",
         "-v", "ON_ERROR_STOP=1", "-c", "insert into vip_probe values ('%s', %d)" % (sys.argv[3], acked)],
        capture_output=True, timeout=5, env=env,
    )
    now = time.monotonic()
    if done.returncode == 0:
        longest = max(longest, now - last)
        last = now
        acked += 1
    else:
        failed += 1
    time.sleep(0.1)
print(acked, failed, int(longest * 1000))
"""


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
    token = uuid.uuid4().hex
    created = psql(writer, "create table if not exists vip_probe (token text, n int)")
    assert created.rc == 0, created.stderr
    probe = f"/tmp/vip-probe-{token}.py"
    HOSTS[writer].run(f"cat > {probe} <<'EOF'\n{PROBE}\nEOF")
    # The probe writes for 20 s in the background (a transient unit with Patroni's environment file for the
    # superuser's password); HAProxy on the holder stops 5 s in.
    HOSTS[writer].check_output(
        f"systemd-run --unit vip-probe-{token} -p EnvironmentFile=/etc/patroni/patroni.env "
        f"-p StandardOutput=file:{probe}.out -p StandardError=file:{probe}.err python3 {probe} 20 {VIP} {token}"
    )
    time.sleep(5)
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
    finally:
        HOSTS[old].check_output("systemctl start haproxy")
    deadline = time.monotonic() + 30
    while not HOSTS[writer].file(f"{probe}.out").content_string.strip():
        assert time.monotonic() < deadline, HOSTS[writer].file(f"{probe}.err").content_string
        time.sleep(0.5)
    acked, failed, longest_ms = (int(x) for x in HOSTS[writer].file(f"{probe}.out").content_string.split())
    stored = psql(writer, f"select count(distinct n) from vip_probe where token = '{token}'")
    print(
        f"VIP drill: {old} stopped HAProxy, {new} held the VIP {moved:.1f}s later; {acked} writes acknowledged, "
        f"{failed} failed, longest write gap {longest_ms} ms, {acked - int(stored.stdout)} acknowledged lost"
    )
    assert int(stored.stdout) == acked
    assert longest_ms < 5000
    # Non-preemptive: with its HAProxy back, the old holder does not take the VIP back.
    time.sleep(4)
    assert holders() == [new]
