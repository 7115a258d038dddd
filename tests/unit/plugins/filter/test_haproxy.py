"""haproxy_port_clashes: the haproxy role's preflight names every port HAProxy could not bind."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.haproxy import haproxy_port_clashes

from .role_templating import role_variables, template

FRONTENDS = [
    {"name": "wiring_k3s_api_port", "port": 6443},
    {"name": "haproxy_postgres_port", "port": 5432},
    {"name": "haproxy_postgres_replicas_port", "port": 5433},
    {"name": "haproxy_stats_port", "port": 7000},
]
PATRONI_BACKENDS = [
    {"name": "wiring_patroni_postgresql_port", "port": 5532, "group": "patroni"},
    {"name": "wiring_patroni_restapi_port", "port": 8008, "group": "patroni"},
]


def test_no_clash_on_distinct_ports():
    assert haproxy_port_clashes(FRONTENDS, PATRONI_BACKENDS) == []


def test_two_frontends_on_one_port():
    frontends = [*FRONTENDS[:3], {"name": "haproxy_stats_port", "port": "5432"}]
    assert haproxy_port_clashes(frontends, []) == [
        "haproxy_postgres_port = haproxy_stats_port = 5432 (two frontends on one port)"
    ]


def test_a_frontend_on_a_port_this_hosts_backend_listens_on():
    frontends = [{"name": "haproxy_postgres_port", "port": 5532}, {"name": "haproxy_stats_port", "port": 8008}]
    assert haproxy_port_clashes(frontends, PATRONI_BACKENDS) == [
        "haproxy_postgres_port = wiring_patroni_postgresql_port = 5532 (this host is in group patroni,"
        " so that port is taken here by its own backend)",
        "haproxy_stats_port = wiring_patroni_restapi_port = 8008 (this host is in group patroni,"
        " so that port is taken here by its own backend)",
    ]


def test_every_clash_in_frontend_order():
    frontends = [{"name": "a", "port": 1}, {"name": "b", "port": 1}, {"name": "c", "port": 1}]
    backends = [{"name": "k", "port": 1, "group": "k3s_server"}]
    clashes = haproxy_port_clashes(frontends, backends)
    assert [clash.split(" (")[0] for clash in clashes] == [
        "a = b = 1",
        "a = c = 1",
        "a = k = 1",
        "b = c = 1",
        "b = k = 1",
        "c = k = 1",
    ]


@pytest.mark.parametrize(
    ("frontends", "backends", "message"),
    [
        ({}, [], "lists of frontends and backends"),
        ([{"name": "a", "port": "http"}], [], "frontend without a numeric port"),
        ([{"name": "a", "port": 1}], [{"name": "k", "group": "g"}], "backend without a numeric port"),
    ],
)
def test_wrong_input_is_refused(frontends, backends, message):
    with pytest.raises(AnsibleFilterError, match=message):
        haproxy_port_clashes(frontends, backends)


def haproxy_variables(host, **overrides):
    """The haproxy role's defaults and vars on ``host`` of an inventory where node-1 runs Patroni and K3s."""
    inventory = {
        "inventory_hostname": host,
        "groups": {"patroni": ["node-1"], "k3s_server": ["node-1"], "haproxy": ["node-1", "node-2"]},
    }
    inventory.update(overrides)
    return role_variables("wiring/defaults", "wiring/vars", "haproxy/defaults", "haproxy/vars", **inventory)


def test_the_haproxy_role_finds_no_clash_with_its_defaults():
    for host in ("node-1", "node-2"):
        loader, variables = haproxy_variables(host)
        assert template(loader, variables, "{{ _haproxy_port_clashes }}") == []


def test_the_haproxy_role_finds_a_frontend_on_its_hosts_patroni_port():
    loader, variables = haproxy_variables("node-1", haproxy_stats_port=8008)
    assert template(loader, variables, "{{ _haproxy_port_clashes }}") == [
        "haproxy_stats_port = wiring_patroni_restapi_port = 8008 (this host is in group patroni,"
        " so that port is taken here by its own backend)"
    ]
    loader, variables = haproxy_variables("node-2", haproxy_stats_port=8008)
    assert template(loader, variables, "{{ _haproxy_port_clashes }}") == []
