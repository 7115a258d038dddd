"""haproxy.cfg as the haproxy role renders it (real Ansible templating), checked by the real
`haproxy -c`, for both places the PostgreSQL primary can run: Patroni on hosts and the Spilo StatefulSet in
K3s, on the example servers.yaml (3 K3s servers that also run Patroni, HAProxy on one).
The patroni mode also runs for real in molecule `cluster`; the spilo mode needs K3s.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from etcdlab import make_pki
from renderlab import run_render

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def render(tmp_path, inventory, *extra_vars):
    """Renders each HAProxy host's haproxy.cfg into tmp_path; the CA HAProxy checks Patroni against is
    a real one in tmp_path, for `haproxy -c` to load."""
    ca = make_pki(tmp_path / "pki")["ca_cert"]
    return run_render(
        "haproxy.yml",
        inventory,
        tmp_path,
        f"wiring_secrets_controller_dir={tmp_path / 'secrets'}",
        f"_haproxy_patroni_api_ca={ca}",
        *extra_vars,
    )


def listen_section(config, name):
    match = re.search(rf"^listen {name}\n((?:[ \t]+.*\n?)*)", config, re.MULTILINE)
    assert match, f"no 'listen {name}' in:\n{config}"
    return match.group(1)


def haproxy_check(path):
    if not Path(HAPROXY).exists():
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    result = subprocess.run(
        [HAPROXY, "-c", "-f", str(path)],
        env=dict(os.environ, HAPROXY_STATS_PASSWORD="config-check"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_spilo_mode_sends_to_the_node_ports_of_every_k3s_node(tmp_path):
    render(tmp_path, "inventory/servers.yaml", "haproxy_postgres_backend=spilo")
    config = (tmp_path / "ubuntu-8gb-hil-1.cfg").read_text()
    haproxy_check(tmp_path / "ubuntu-8gb-hil-1.cfg")

    primary = listen_section(config, "postgres_primary")
    assert "bind *:5432" in primary
    assert "http-check send meth GET uri /primary" in primary
    servers = re.findall(r"^\s+server (\S+) (\S+) check port (\d+)$", primary, re.MULTILINE)
    assert servers == [
        ("ubuntu-8gb-ash-1", "198.51.100.21:30432", "30808"),
        ("ubuntu-8gb-ash-2", "198.51.100.22:30432", "30808"),
        ("ubuntu-8gb-hil-1", "192.0.2.11:30432", "30808"),
    ]
    # no replicas frontend: in K3s, read-only clients use the postgres-replica Service
    assert "listen postgres_replicas" not in config

    api = listen_section(config, "k3s_api")
    assert "bind *:6443" in api
    assert re.findall(r"server \S+ (\S+) check", api) == ["198.51.100.21:7443", "198.51.100.22:7443", "192.0.2.11:7443"]


def test_patroni_hosts_are_the_default_when_there_are_some(tmp_path):
    render(tmp_path, "inventory/servers.yaml")
    config = (tmp_path / "ubuntu-8gb-hil-1.cfg").read_text()
    haproxy_check(tmp_path / "ubuntu-8gb-hil-1.cfg")

    primary = listen_section(config, "postgres_primary")
    assert re.findall(r"server (\S+) (\S+) check port (\d+)", primary) == [
        ("ubuntu-8gb-ash-1", "198.51.100.21:5532", "8008"),
        ("ubuntu-8gb-ash-2", "198.51.100.22:5532", "8008"),
        ("ubuntu-8gb-hil-1", "192.0.2.11:5532", "8008"),
    ]
    assert "uri /replica?lag=1MB" in listen_section(config, "postgres_replicas")
    # A reload starts the new workers from the servers' saved states, not all UP.
    assert "server-state-file /var/lib/haproxy/server-state" in config
    assert "load-server-state-from-file global" in config
    # Patroni's REST API is HTTPS: each check verifies the member's certificate against the CA.
    ca = tmp_path / "pki" / "ca.crt"
    for section in (primary, listen_section(config, "postgres_replicas")):
        servers = re.findall(r"^\s+server .*$", section, re.MULTILINE)
        assert servers and all(line.endswith(f" check-ssl verify required ca-file {ca}") for line in servers), servers


def test_spilo_node_ports_follow_the_wiring(tmp_path):
    render(
        tmp_path,
        "inventory/servers.yaml",
        "haproxy_postgres_backend=spilo",
        "wiring_spilo_primary_node_port=31432",
        "wiring_spilo_restapi_node_port=31808",
    )
    primary = listen_section((tmp_path / "ubuntu-8gb-hil-1.cfg").read_text(), "postgres_primary")
    assert "192.0.2.11:31432 check port 31808" in primary


def test_no_postgres_frontend_when_asked(tmp_path):
    render(tmp_path, "inventory/servers.yaml", "haproxy_postgres_backend=none")
    config = (tmp_path / "ubuntu-8gb-hil-1.cfg").read_text()
    assert "listen postgres_primary" not in config
    assert "listen postgres_replicas" not in config
    haproxy_check(tmp_path / "ubuntu-8gb-hil-1.cfg")


def test_unknown_backend_is_refused_by_name(tmp_path):
    with pytest.raises(AssertionError, match="haproxy_postgres_backend must be patroni"):
        render(tmp_path, "inventory/servers.yaml", "haproxy_postgres_backend=k8s")


def test_ipv6_servers_get_bracketed_backends_and_a_dual_stack_bind(tmp_path):
    """molecule's cluster servers.yaml lists IPv6 addresses only: HAProxy binds [::] with v4v6 (the
    default "*" would serve IPv4 only) and writes each backend as [address]:port."""
    render(tmp_path, "molecule/cluster/servers.yaml")
    config = (tmp_path / "pg-1.cfg").read_text()
    haproxy_check(tmp_path / "pg-1.cfg")

    primary = listen_section(config, "postgres_primary")
    assert "bind [::]:5432 v4v6" in primary
    assert re.findall(r"server (\S+) (\S+) check port (\d+)", primary) == [
        ("pg-1", "[fd78::41]:5532", "8008"),
        ("pg-2", "[fd78::42]:5532", "8008"),
        ("pg-3", "[fd78::43]:5532", "8008"),
    ]
    replicas = listen_section(config, "postgres_replicas")
    assert "bind [::]:5433 v4v6" in replicas
    assert "server pg-2 [fd78::42]:5532 check port 8008" in replicas
    assert "bind [::]:8404 v4v6" in listen_section(config, "stats")


def test_ipv4_servers_keep_the_ipv4_bind(tmp_path):
    render(tmp_path, "inventory/servers.yaml")
    config = (tmp_path / "ubuntu-8gb-hil-1.cfg").read_text()
    assert re.findall(r"^\s+bind (.*)$", config, re.MULTILINE) == ["*:6443", "*:5432", "*:5433", "*:8404"]


def backend_section(config, name):
    match = re.search(rf"^backend {name}\n((?:[ \t]+.*\n?)*)", config, re.MULTILINE)
    assert match, f"no 'backend {name}' in:\n{config}"
    return match.group(1)


def test_sources_are_the_clients_and_the_admin_networks(tmp_path):
    """Only the cluster (its servers, K3s's pod network), the client and the admin networks reach the
    frontends; the admin networks go to the Patroni hosts' admin relay (5533), whose servers follow the
    checked ones; the stats page is the admin networks' and the host's."""
    render(
        tmp_path,
        "inventory/servers.yaml",
        json.dumps(
            {
                "gardenos_cluster_client_networks": ["203.0.113.0/24"],
                "gardenos_cluster_admin_networks": ["2001:db8:a::/48"],
            }
        ),
    )
    config = (tmp_path / "ubuntu-8gb-hil-1.cfg").read_text()
    haproxy_check(tmp_path / "ubuntu-8gb-hil-1.cfg")
    clients = "10.42.0.0/16 192.0.2.11/32 198.51.100.21/32 198.51.100.22/32 203.0.113.0/24"
    for name, admin_backend in (
        ("postgres_primary", "postgres_primary_admin"),
        ("postgres_replicas", "postgres_replicas_admin"),
    ):
        section = listen_section(config, name)
        assert f"acl client_network src {clients}\n" in section
        assert "acl admin_network src 2001:db8:a::/48\n" in section
        assert "tcp-request connection reject unless client_network or admin_network\n" in section
        assert f"use_backend {admin_backend} if admin_network\n" in section
        assert re.findall(r"server (\S+) (\S+) track (\S+)", backend_section(config, admin_backend)) == [
            ("ubuntu-8gb-ash-1", "198.51.100.21:5533", f"{name}/ubuntu-8gb-ash-1"),
            ("ubuntu-8gb-ash-2", "198.51.100.22:5533", f"{name}/ubuntu-8gb-ash-2"),
            ("ubuntu-8gb-hil-1", "192.0.2.11:5533", f"{name}/ubuntu-8gb-hil-1"),
        ]
    assert "use_backend" not in listen_section(config, "k3s_api")
    assert "reject unless client_network or admin_network" in listen_section(config, "k3s_api")
    stats = listen_section(config, "stats")
    assert "acl admin_network src 127.0.0.1/32 192.0.2.11/32 ::1/128 2001:db8:a::/48\n" in stats
    assert "tcp-request connection reject unless admin_network\n" in stats
