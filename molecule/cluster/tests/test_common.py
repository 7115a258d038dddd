"""The common role: host name, /etc/hosts, base packages."""

import pytest
from conftest import scenario_cluster, scenario_servers

SERVERS = scenario_servers()
DOMAIN = scenario_cluster()["domain"]


def test_hostname_is_server_name(host):
    assert host.check_output("hostname") == host.backend.get_hostname()


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_every_server_resolves_by_name(host, name):
    assert host.addr(name).ipv4_addresses == [SERVERS[name]["ip"]]
    assert host.addr(f"{name}.{DOMAIN}").ipv4_addresses == [SERVERS[name]["ip"]]


def test_etc_hosts_block_is_marked_once(host):
    content = host.file("/etc/hosts").content_string
    assert content.count("# BEGIN gardenos.cluster") == 1
    assert content.count("# END gardenos.cluster") == 1


@pytest.mark.parametrize("package", ["ca-certificates", "curl", "python3-apt", "sudo"])
def test_base_packages_installed(host, package):
    assert host.package(package).is_installed


def test_systemd_is_running(host):
    assert host.check_output("systemctl is-system-running || true") == "running"
