"""host_port and url: the one IPv6-safe builder of addresses the roles and templates use."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.wiring import host_port, url
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError
from ansible_collections.gardenos.cluster.plugins.module_utils.host_port import hosts_port


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("192.0.2.11", 2379, "192.0.2.11:2379"),
        ("2001:db8::11", 2379, "[2001:db8::11]:2379"),
        ("[2001:db8::11]", "2380", "[2001:db8::11]:2380"),
        ("::ffff:192.0.2.11", 5432, "[::ffff:192.0.2.11]:5432"),
        ("etcd-1.example.org", 2379, "etcd-1.example.org:2379"),
        (" 10.0.0.1 ", 1, "10.0.0.1:1"),
    ],
)
def test_host_port_brackets_ipv6_only(host, port, expected):
    assert host_port(host, port) == expected


@pytest.mark.parametrize(
    ("host", "port", "message"),
    [
        ("", 2379, "empty"),
        ("10.0.0.1", "http", "not a number"),
        ("10.0.0.1", 0, "between 1 and 65535"),
        ("10.0.0.1", 65536, "between 1 and 65535"),
        ("[]", 2379, "empty"),
    ],
)
def test_host_port_refuses_what_no_server_could_listen_on(host, port, message):
    with pytest.raises(AnsibleFilterError, match=message):
        host_port(host, port)


def test_url_default_scheme_is_https():
    assert url("2001:db8::11", 2379) == "https://[2001:db8::11]:2379"


def test_url_with_scheme_and_path():
    assert url("10.0.0.1", 8008, scheme="http", path="health") == "http://10.0.0.1:8008/health"
    assert url("::1", 8008, scheme="HTTP", path="/readiness") == "http://[::1]:8008/readiness"


def test_url_refuses_other_schemes():
    with pytest.raises(AnsibleFilterError, match="neither http nor https"):
        url("10.0.0.1", 2379, scheme="unix")


def test_hosts_port_brackets_each_ipv6_host_before_one_port():
    """Patroni's postgresql.listen form: several hosts, the port after the last."""
    assert hosts_port(["fd78::41", "127.0.0.1"], 5532) == "[fd78::41],127.0.0.1:5532"
    assert hosts_port(["10.0.0.1"], "5532") == "10.0.0.1:5532"


@pytest.mark.parametrize(
    ("hosts", "port", "message"),
    [
        ("10.0.0.1", 5532, "needs a list of hosts"),
        ([], 5532, "needs a list of hosts"),
        (["10.0.0.1", ""], 5532, "empty"),
        (["10.0.0.1"], 0, "between 1 and 65535"),
    ],
)
def test_hosts_port_refuses_what_postgresql_could_not_listen_on(hosts, port, message):
    with pytest.raises(GardenosClusterError, match=message):
        hosts_port(hosts, port)
