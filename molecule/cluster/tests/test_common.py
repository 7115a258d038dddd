"""The common role: host name, /etc/hosts, base packages."""

import pytest
from conftest import scenario_cluster, scenario_servers

SERVERS = scenario_servers()
DOMAIN = scenario_cluster()["domain"]


def test_hostname_is_server_name(host):
    assert host.check_output("hostname") == host.backend.get_hostname()


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_every_server_resolves_by_name(host, name):
    """To the address of servers.yaml, in its family (the scenario's are IPv6)."""
    ip = SERVERS[name]["ip"]
    family = "ipv6_addresses" if ":" in ip else "ipv4_addresses"
    assert getattr(host.addr(name), family) == [ip]
    assert getattr(host.addr(f"{name}.{DOMAIN}"), family) == [ip]


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_an_ipv6_server_has_no_ipv4_name(host, name):
    """The common role lists a server under its servers.yaml address only: no IPv4 address for an
    IPv6 server's FQDN, though its container has one (podman's own lines name only the container)."""
    if ":" not in SERVERS[name]["ip"]:
        pytest.skip("an IPv4 server")
    assert host.addr(f"{name}.{DOMAIN}").ipv4_addresses == []


def test_etc_hosts_block_is_marked_once(host):
    content = host.file("/etc/hosts").content_string
    assert content.count("# BEGIN gardenos.cluster") == 1
    assert content.count("# END gardenos.cluster") == 1


@pytest.mark.parametrize("package", ["ca-certificates", "curl", "python3-apt", "sudo"])
def test_base_packages_installed(host, package):
    assert host.package(package).is_installed


def test_systemd_is_running(host):
    assert host.check_output("systemctl is-system-running || true") == "running"
