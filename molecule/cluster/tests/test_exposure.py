"""Who may reach the cluster (README "Exposure"), tried from outside the cluster: two containers on the
scenario's network that are no servers of servers.yaml, one in cluster.client_networks (fd78::48/125) and one
outside every network of it, beside the controller (fd78::1, an admin network) and a server (pg-2, a cluster
server, an HAProxy host and, in this scenario, in the admin networks too).

Each port of the hosts' firewall is tried from each of them (a TCP connect: dropped traffic times out), then
psql through HAProxy: the superuser only from an admin network, other users from the client networks.
"""

import re
import shlex
import socket
import subprocess
import time

import pytest
import testinfra
from conftest import scenario_cluster, scenario_servers

SERVERS = scenario_servers("patroni")
NAMES = sorted(SERVERS)
HOSTS = {name: testinfra.get_host(f"podman://{name}") for name in NAMES}
TARGET = SERVERS["pg-1"]["ip"]
IMAGE = "localhost/gardenos-host:bookworm"
NETWORK = "gardenos-molecule"
# The containers outside the cluster: name, IPv6 address (the cluster's family), a fixed IPv4 address.
CLIENT = ("exposure-client", "fd78::4e", "10.78.0.78")
OUTSIDER = ("exposure-outsider", "fd78::5e", "10.78.0.94")
# Each port of the firewall (the roles' rules) and the sources that may connect, by the set it allows.
PORTS = {
    2379: "operators",  # etcd clients
    2380: "cluster",  # etcd peers
    5432: "clients",  # HAProxy: PostgreSQL primary
    5433: "clients",  # HAProxy: PostgreSQL replicas
    8404: "admin",  # HAProxy: stats page
    5532: "clients",  # PostgreSQL
    8008: "operators",  # Patroni's REST API
    5533: "haproxy",  # the admin relay
}
# Which of the sources each set holds here (servers.yaml: pg-2 is a server, an HAProxy host and an admin).
ALLOWED = {
    "cluster": {"pg-2"},
    "haproxy": {"pg-2"},
    "operators": {"pg-2", "controller"},
    "admin": {"pg-2", "controller"},
    "clients": {"pg-2", "controller", "client"},
}


# psql on the controller through pg-1's HAProxy, as the superuser.
PSQL = ("psql", "-X", "-At", "-h", TARGET, "-p", "5432", "-U", "postgres", "-d", "postgres")


def test_the_scenario_has_the_networks_this_test_assumes():
    cluster = scenario_cluster()
    assert cluster["client_networks"] == ["fd78::48/125"]
    assert cluster["admin_networks"] == ["fd78::1", "fd78::40/125"]


@pytest.fixture(scope="module")
def outside():
    """The two containers outside the cluster, removed at the end (molecule's cleanup removes them too)."""
    for name, ipv6, ipv4 in (CLIENT, OUTSIDER):
        subprocess.run(["podman", "rm", "-f", name], capture_output=True, check=False)
        subprocess.run(
            [
                *("podman", "run", "-d", "--rm", "--name", name, "--network", NETWORK, "--ip6", ipv6, "--ip", ipv4),
                *("--entrypoint", "sleep", IMAGE, "infinity"),
            ],
            capture_output=True,
            check=True,
        )
    yield {"client": CLIENT[0], "outsider": OUTSIDER[0]}
    for name in (CLIENT[0], OUTSIDER[0]):
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, check=False)


# A connect on the scenario's bridge takes milliseconds: no answer in this long is a drop.
CONNECT_TIMEOUT = 1


def connects_from(source, port, outside):
    """'open' (connected), 'refused' (a reset: nothing listens) or 'dropped' (no answer in CONNECT_TIMEOUT s)."""
    if source == "controller":
        try:
            with socket.create_connection((TARGET, port), timeout=CONNECT_TIMEOUT):
                return "open"
        except ConnectionRefusedError:
            return "refused"
        except TimeoutError:
            return "dropped"
    probe = f"timeout {CONNECT_TIMEOUT} bash -c {shlex.quote(f'</dev/tcp/{TARGET}/{port}')}"
    if source == "pg-2":
        rc = HOSTS["pg-2"].run(probe).rc
    else:
        rc = subprocess.run(["podman", "exec", outside[source], "bash", "-c", probe], check=False).returncode
    return {0: "open", 1: "refused", 124: "dropped"}.get(rc, f"exit {rc}")


@pytest.mark.parametrize("port", sorted(PORTS))
def test_each_firewall_port_admits_its_set_only(port, outside):
    """From each source, a port is open when the source is in the port's set, else dropped."""
    seen = {source: connects_from(source, port, outside) for source in ("controller", "pg-2", "client", "outsider")}
    expected = {
        source: "open" if source in ALLOWED[PORTS[port]] else "dropped"
        for source in ("controller", "pg-2", "client", "outsider")
    }
    assert seen == expected, f"port {port} ({PORTS[port]})"


def psql_from(container, user, password, sql, port=5432):
    command = ["podman", "exec", "-e", f"PGPASSWORD={password}", "-e", "PGCONNECT_TIMEOUT=4", container]
    command += ["psql", "-X", "-At", "-h", TARGET, "-p", str(port), "-U", user, "-d", "postgres", "-c", sql]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def superuser_password():
    env = HOSTS["pg-1"].file("/etc/patroni/patroni.env").content_string
    return re.search(r'^PATRONI_SUPERUSER_PASSWORD="(.*)"$', env, re.MULTILINE).group(1)


@pytest.fixture(scope="module")
def application_user():
    """A user of the applications (no superuser), made through HAProxy from the controller, an admin."""
    password = "exposure-" + str(int(time.time()))
    sql = f"DROP ROLE IF EXISTS exposure_app; CREATE ROLE exposure_app LOGIN PASSWORD '{password}'"
    result = subprocess.run(
        [*PSQL, "-c", sql],
        env={"PGPASSWORD": superuser_password(), "PGCONNECT_TIMEOUT": "5", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return "exposure_app", password


def test_the_superuser_logs_in_from_an_admin_network_through_the_relay():
    """From the controller (an admin network): PostgreSQL sees its loopback address, the admin relay's."""
    result = subprocess.run(
        [*PSQL, "-c", "select inet_client_addr(), pg_is_in_recovery()"],
        env={"PGPASSWORD": superuser_password(), "PGCONNECT_TIMEOUT": "5", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "127.0.0.1|f"


def test_a_client_network_uses_postgres_but_not_as_the_superuser(outside, application_user):
    """From the client network: the application's user gets the primary (PostgreSQL sees HAProxy's IPv6 host
    address), the superuser is refused by pg_hba, whatever the password."""
    user, password = application_user
    result = psql_from(outside["client"], user, password, "select inet_client_addr(), pg_is_in_recovery()")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{TARGET}|f"
    refused = psql_from(outside["client"], "postgres", superuser_password(), "select 1")
    assert refused.returncode != 0
    assert 'pg_hba.conf rejects connection for host "fd78::41", user "postgres"' in refused.stderr


def test_outside_every_network_psql_gets_no_answer(outside, application_user):
    user, password = application_user
    result = psql_from(outside["outsider"], user, password, "select 1")
    assert result.returncode != 0
    assert "timeout expired" in result.stderr
