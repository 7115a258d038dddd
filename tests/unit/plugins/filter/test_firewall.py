"""networks and nft_port_rules: the cluster's networks and the hosts' firewall rules."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.firewall import networks, nft_port_rules


def test_networks_merge_and_order_ipv4_first():
    given = ["2001:db8::1", "10.0.0.11", "10.0.0.0/24", "10.0.1.0/24", "[2001:db8::2]", "192.0.2.7"]
    assert networks(given) == ["10.0.0.0/23", "192.0.2.7/32", "2001:db8::1/128", "2001:db8::2/128"]
    assert networks(given, version=4) == ["10.0.0.0/23", "192.0.2.7/32"]
    assert networks(given, version=6) == ["2001:db8::1/128", "2001:db8::2/128"]
    assert networks([]) == []


@pytest.mark.parametrize("bad", [["db.example.org"], [""], [24], "10.0.0.0/8"])
def test_networks_refuse_what_is_no_network(bad):
    with pytest.raises(AnsibleFilterError, match="networks: "):
        networks(bad)


def test_port_rules_drop_outside_the_set_for_both_families():
    lines = nft_port_rules([{"ports": [2380, 2379, 2379], "allow": "operators"}], "etcd")
    assert lines == [
        'add rule inet gardenos input tcp dport { 2379, 2380 } ip saddr != @operators4 drop comment "etcd"',
        'add rule inet gardenos input tcp dport { 2379, 2380 } ip6 saddr != @operators6 drop comment "etcd"',
    ]
    assert nft_port_rules([{"ports": ["8472"], "allow": "cluster", "protocol": "udp"}], "k3s")[0].startswith(
        "add rule inet gardenos input udp dport { 8472 } ip saddr != @cluster4"
    )


def test_a_portless_protocol_is_dropped_whole_outside_the_set():
    assert nft_port_rules([{"protocol": "vrrp", "allow": "haproxy"}], "keepalived") == [
        'add rule inet gardenos input meta l4proto 112 ip saddr != @haproxy4 drop comment "keepalived"',
        'add rule inet gardenos input meta l4proto 112 ip6 saddr != @haproxy6 drop comment "keepalived"',
    ]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"ports": [5432], "allow": "world"}, "one of cluster, clients"),
        ({"ports": [], "allow": "admin"}, "needs 'ports'"),
        ({"ports": ["ssh"], "allow": "admin"}, "ports must be numbers"),
        ({"ports": [70000], "allow": "admin"}, "out of 1-65535"),
        ({"ports": [53], "allow": "admin", "protocol": "icmp"}, "protocol must be tcp, udp, vrrp"),
        ({"ports": [112], "allow": "haproxy", "protocol": "vrrp"}, "vrrp has no ports"),
        ({"allow": "world", "protocol": "vrrp"}, "needs 'allow'"),
        ("haproxy", "needs 'ports' and 'allow'"),
    ],
)
def test_port_rules_refuse_bad_rules(rule, message):
    with pytest.raises(AnsibleFilterError, match=message):
        nft_port_rules([rule], "haproxy")
