"""host_port and url: the one IPv6-safe builder of addresses the roles and templates use."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.wiring import host_port, url


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
