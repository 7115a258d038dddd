"""The gardenos.cluster.servers inventory plugin, with a real InventoryData and DataLoader."""

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from unittest import mock

import pytest
from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader
from ansible.template import is_trusted_as_template

REPO = Path(__file__).resolve().parents[4]
BIN = Path(sys.executable).parent

CLUSTER = """\
cluster:
  name: gardenos
  domain: example.net
  versions:
    etcd: "3.5.17"
servers:
  ubuntu-8gb-hil-1:
    ip: 192.0.2.11
    region: hil
    role: primary
    services: [etcd, k3s_server, haproxy, patroni]
  ubuntu-8gb-ash-1:
    ip: 198.51.100.21
    region: ash
    role: worker
    services: [etcd, k3s_server, patroni]
  ubuntu-8gb-ash-2:
    ip: 2001:db8::22
    region: ash-east
    services: [etcd, k3s_server, patroni]
    vars:
      ansible_user: admin
      ansible_port: 2222
"""


def yaml_text(text):
    return textwrap.dedent(text).lstrip("\n")


@pytest.fixture
def plugin():
    """The plugin as Ansible loads it, with its display replaced so warnings can be asserted."""
    module = inventory_loader.get("gardenos.cluster.servers")
    assert module is not None
    module.display = mock.MagicMock()
    return module


def warnings_of(plugin):
    return [c.args[0] if c.args else c.kwargs["msg"] for c in plugin.display.warning.call_args_list]


@pytest.fixture
def parse(plugin, tmp_path):
    """parse(text, name='servers.yaml') -> InventoryData, after the plugin claimed and parsed the file."""

    def _parse(text, name="servers.yaml", check_claimed=True):
        path = tmp_path / name
        path.write_text(yaml_text(text), encoding="utf-8")
        if check_claimed:
            assert plugin.verify_file(str(path))
        inventory = InventoryData()
        plugin.parse(inventory, DataLoader(), str(path), cache=False)
        return inventory

    _parse.path = lambda name="servers.yaml": str(tmp_path / name)
    return _parse


def hosts_of(inventory, group):
    return sorted(h.name for h in inventory.groups[group].get_hosts())


# ---- the good path ---------------------------------------------------------------------------


def test_hosts_and_host_vars(parse):
    inventory = parse(CLUSTER)

    assert sorted(inventory.hosts) == ["ubuntu-8gb-ash-1", "ubuntu-8gb-ash-2", "ubuntu-8gb-hil-1"]
    hil = inventory.get_host("ubuntu-8gb-hil-1").get_vars()
    assert hil["ansible_host"] == "192.0.2.11"
    assert hil["gardenos_ip"] == "192.0.2.11"
    assert hil["gardenos_region"] == "hil"
    assert hil["gardenos_role"] == "primary"
    assert hil["gardenos_services"] == ["etcd", "k3s_server", "haproxy", "patroni"]
    ash2 = inventory.get_host("ubuntu-8gb-ash-2").get_vars()
    assert ash2["ansible_host"] == "2001:db8::22"
    assert ash2["gardenos_role"] == "worker"  # the default
    assert ash2["ansible_user"] == "admin"
    assert ash2["ansible_port"] == 2222


def test_groups(parse):
    inventory = parse(CLUSTER)

    all_three = ["ubuntu-8gb-ash-1", "ubuntu-8gb-ash-2", "ubuntu-8gb-hil-1"]
    assert hosts_of(inventory, "etcd") == all_three
    assert hosts_of(inventory, "k3s_server") == all_three
    assert hosts_of(inventory, "patroni") == all_three
    assert hosts_of(inventory, "haproxy") == ["ubuntu-8gb-hil-1"]
    assert hosts_of(inventory, "k3s_agent") == []  # exists, even empty
    assert hosts_of(inventory, "primary") == ["ubuntu-8gb-hil-1"]
    assert hosts_of(inventory, "region_hil") == ["ubuntu-8gb-hil-1"]
    assert hosts_of(inventory, "region_ash") == ["ubuntu-8gb-ash-1"]
    # '-' is not valid in a group name: the region's group has '_' instead
    assert hosts_of(inventory, "region_ash_east") == ["ubuntu-8gb-ash-2"]
    assert "region_ash-east" not in inventory.groups


def test_service_groups_always_exist(parse):
    inventory = parse("""
        servers:
          solo:
            ip: 192.0.2.1
            region: hil
    """)
    for group in ("etcd", "k3s_server", "k3s_agent", "haproxy", "patroni", "primary"):
        assert hosts_of(inventory, group) == []
    solo = inventory.get_host("solo").get_vars()
    assert solo["gardenos_services"] == []
    assert solo["gardenos_role"] == "worker"


def test_cluster_becomes_vars_of_all(parse):
    all_vars = parse(CLUSTER).groups["all"].get_vars()
    assert all_vars["gardenos_cluster_name"] == "gardenos"
    assert all_vars["gardenos_cluster_domain"] == "example.net"
    assert all_vars["gardenos_versions"] == {"etcd": "3.5.17"}


def test_cluster_defaults(parse):
    all_vars = (
        parse("""
        servers:
          solo: {ip: 192.0.2.1, region: hil}
    """)
        .groups["all"]
        .get_vars()
    )
    assert all_vars["gardenos_cluster_name"] == "gardenos"
    assert "gardenos_cluster_domain" not in all_vars
    assert all_vars["gardenos_versions"] == {}
    # absent networks leave the wiring role's defaults in force
    assert "gardenos_cluster_client_networks" not in all_vars
    assert "gardenos_cluster_admin_networks" not in all_vars


def test_networks_are_stored_as_cidrs(parse):
    all_vars = (
        parse("""
        cluster:
          client_networks: [203.0.113.0/24, 192.0.2.7, "2001:DB8::/32", 203.0.113.0/24]
          admin_networks: ["2001:db8:0:0::9", 198.51.100.0/28]
          # an empty list is kept: nobody besides the cluster's own
        servers:
          solo: {ip: 192.0.2.1, region: hil}
    """)
        .groups["all"]
        .get_vars()
    )
    assert all_vars["gardenos_cluster_client_networks"] == ["203.0.113.0/24", "192.0.2.7/32", "2001:db8::/32"]
    assert all_vars["gardenos_cluster_admin_networks"] == ["2001:db8::9/128", "198.51.100.0/28"]


def test_vip_is_stored_normalised_with_its_interface(parse):
    text = (
        "cluster: {vip: {address: '2001:DB8:0::10', interface: ens3}}\nservers:\n"
        "  node-1: {ip: 2001:db8::1, region: hil, services: [haproxy]}\n"
        "  node-2: {ip: 2001:db8::2, region: hil, services: [haproxy]}\n"
    )
    all_vars = parse(text).groups["all"].get_vars()
    assert all_vars["gardenos_cluster_vip"] == "2001:db8::10"
    assert all_vars["gardenos_cluster_vip_interface"] == "ens3"


def test_vip_as_an_address_has_no_interface(parse):
    text = "cluster: {vip: 192.0.2.10}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil, services: [haproxy]}\n"
    all_vars = parse(text).groups["all"].get_vars()
    assert all_vars["gardenos_cluster_vip"] == "192.0.2.10"
    assert "gardenos_cluster_vip_interface" not in all_vars


def test_no_vip_sets_nothing(parse):
    all_vars = parse(CLUSTER).groups["all"].get_vars()
    assert "gardenos_cluster_vip" not in all_vars


def test_empty_admin_networks_are_kept(parse):
    all_vars = parse("cluster: {admin_networks: []}\nservers:\n  solo: {ip: 192.0.2.1, region: hil}\n").groups["all"]
    assert all_vars.get_vars()["gardenos_cluster_admin_networks"] == []


def test_compose_may_override_ansible_host_and_connection(parse):
    # a server's `vars:` may not (see the errors below); `compose:` of the plugin form may, for every server
    inventory = parse(
        """
        plugin: gardenos.cluster.servers
        compose:
          ansible_connection: "'ssh'"
          ansible_host: "'127.0.0.1'"
        servers:
          lab-1:
            ip: 10.77.0.11
            region: lab
        """,
        name="lab.yml",
    )
    host_vars = inventory.get_host("lab-1").get_vars()
    assert host_vars["ansible_host"] == "127.0.0.1"
    assert host_vars["ansible_connection"] == "ssh"
    assert host_vars["gardenos_ip"] == "10.77.0.11"


def test_vars_may_set_connection_settings(parse):
    inventory = parse("""
        servers:
          here:
            ip: 127.0.0.11
            region: it
            vars:
              ansible_user: admin
              ansible_port: 2222
              ansible_ssh_common_args: -o ProxyJump=bastion
              ansible_python_interpreter: /usr/bin/python3
              etcd_install_method: package
    """)
    host_vars = inventory.get_host("here").get_vars()
    # loopback addresses are allowed: tests/integration/test_health_playbook.py runs hosts on 127.0.0.x
    assert host_vars["ansible_host"] == host_vars["gardenos_ip"] == "127.0.0.11"
    assert host_vars["ansible_ssh_common_args"] == "-o ProxyJump=bastion"
    assert host_vars["etcd_install_method"] == "package"


def test_addresses_are_stored_normalised(parse):
    inventory = parse("""
        servers:
          node-1: {ip: "2001:0DB8:0:0::0001", region: hil}
          node-2: {ip: "::ffff:192.0.2.11", region: hil}
          node-3: {ip: "::ffff:c000:20c", region: hil}
          node-4: {ip: "127.0.0.1", region: hil}
          node-5: {ip: "::1", region: hil}
          node-6: {ip: "169.254.0.1", region: hil}
    """)
    stored = {name: host.get_vars()["ansible_host"] for name, host in inventory.hosts.items()}
    assert stored == {
        "node-1": "2001:db8::1",
        "node-2": "192.0.2.11",
        "node-3": "192.0.2.12",
        "node-4": "127.0.0.1",
        "node-5": "::1",
        "node-6": "169.254.0.1",
    }
    assert all(host.get_vars()["gardenos_ip"] == stored[name] for name, host in inventory.hosts.items())
    # trusted as the rest of the file is: `ansible-inventory --list` shows no {"__ansible_unsafe": ...} for them
    assert all(is_trusted_as_template(value) for value in stored.values())


def test_constructable_options_with_plugin_key(parse):
    inventory = parse(
        CLUSTER
        + yaml_text("""
            plugin: gardenos.cluster.servers
            strict: true
            compose:
              ansible_host: inventory_hostname ~ '.' ~ gardenos_cluster_domain
              fqdn: inventory_hostname ~ '.' ~ gardenos_cluster_domain
            groups:
              database: "'patroni' in gardenos_services"
              load_balancer: "'haproxy' in gardenos_services"
            keyed_groups:
              - key: gardenos_role
                prefix: role
              - key: fqdn
                prefix: name
        """),
        name="production.yml",
    )
    hil = inventory.get_host("ubuntu-8gb-hil-1").get_vars()
    assert hil["ansible_host"] == "ubuntu-8gb-hil-1.example.net"
    assert hil["gardenos_ip"] == "192.0.2.11"
    assert hosts_of(inventory, "database") == ["ubuntu-8gb-ash-1", "ubuntu-8gb-ash-2", "ubuntu-8gb-hil-1"]
    assert hosts_of(inventory, "load_balancer") == ["ubuntu-8gb-hil-1"]
    assert hosts_of(inventory, "role_primary") == ["ubuntu-8gb-hil-1"]
    assert hosts_of(inventory, "role_worker") == ["ubuntu-8gb-ash-1", "ubuntu-8gb-ash-2"]
    # keyed groups see the composed vars
    assert hosts_of(inventory, "name_ubuntu_8gb_hil_1_example_net") == ["ubuntu-8gb-hil-1"]


def test_compose_not_strict_skips_what_fails(parse):
    inventory = parse(
        """
        plugin: gardenos.cluster.servers
        compose:
          broken: no_such_variable ~ 'x'
          good: gardenos_region | upper
        servers:
          solo: {ip: 192.0.2.1, region: hil}
        """,
        name="anything.yaml",
    )
    host_vars = inventory.get_host("solo").get_vars()
    assert "broken" not in host_vars
    assert host_vars["good"] == "HIL"


def test_compose_strict_fails(parse):
    with pytest.raises(AnsibleError, match="broken"):
        parse(
            """
            plugin: gardenos.cluster.servers
            strict: true
            compose:
              broken: no_such_variable ~ 'x'
            servers:
              solo: {ip: 192.0.2.1, region: hil}
            """,
            name="anything.yaml",
        )


def test_repository_inventory(plugin):
    """inventory/servers.yaml, the cluster the project ships."""
    inventory = InventoryData()
    path = REPO / "inventory" / "servers.yaml"
    assert plugin.verify_file(str(path))
    plugin.parse(inventory, DataLoader(), str(path), cache=False)

    assert hosts_of(inventory, "primary") == ["ubuntu-8gb-hil-1"]
    assert hosts_of(inventory, "etcd") == ["ubuntu-8gb-ash-1", "ubuntu-8gb-ash-2", "ubuntu-8gb-hil-1"]
    assert hosts_of(inventory, "region_ash") == ["ubuntu-8gb-ash-1", "ubuntu-8gb-ash-2"]
    assert inventory.groups["all"].get_vars()["gardenos_cluster_name"] == "gardenos"
    assert warnings_of(plugin) == []


SERVERS_FILES = sorted(
    str(path.relative_to(REPO))
    for pattern in ("inventory/**/servers*.yaml", "molecule/*/servers*.yaml")
    for path in REPO.glob(pattern)
)


def test_servers_files_found():
    assert "inventory/lab/servers.yaml" in SERVERS_FILES
    assert "molecule/cluster/servers-grown.yaml" in SERVERS_FILES


@pytest.mark.parametrize("name", SERVERS_FILES)
def test_every_servers_file_of_the_repository_loads(plugin, name):
    """The shipped and lab files, and molecule's, which alias one `vars:` (&package_etcd) and compose ansible_host."""
    inventory = InventoryData()
    path = REPO / name
    assert plugin.verify_file(str(path))
    plugin.parse(inventory, DataLoader(), str(path), cache=False)
    assert inventory.hosts
    for host in inventory.hosts.values():
        host_vars = host.get_vars()
        assert host_vars["ansible_host"] == host_vars["gardenos_ip"]
    if name.startswith("molecule/"):
        assert {h.get_vars()["ansible_connection"] for h in inventory.hosts.values()} == {"ssh"}


def test_anchors_and_aliases_of_vars(parse):
    inventory = parse("""
        servers:
          pg-1:
            ip: 10.78.0.41
            region: zone-a
            vars: &package_etcd
              etcd_install_method: package
              etcd_extra: {a: [1, 2], b: {c: d}}
          pg-2:
            ip: 10.78.0.42
            region: zone-b
            vars: *package_etcd
          pg-3:
            ip: 10.78.0.43
            region: zone-c
            vars:
              <<: *package_etcd
              etcd_install_method: local
    """)
    assert inventory.get_host("pg-2").get_vars()["etcd_extra"] == {"a": [1, 2], "b": {"c": "d"}}
    assert inventory.get_host("pg-3").get_vars()["etcd_install_method"] == "local"
    assert inventory.get_host("pg-3").get_vars()["etcd_extra"] == {"a": [1, 2], "b": {"c": "d"}}


def test_many_aliases_of_a_large_vars_block(parse):
    """Aliases under the bound: 200 servers sharing one vars mapping of 100 entries (~40000 copied nodes)."""
    lines = ["servers:"]
    for i in range(200):
        lines += [f"  node-{i}:", f"    ip: 10.0.{i // 200}.{i % 200 + 1}", "    region: r"]
        if i == 0:
            lines.append("    vars: &common {" + ", ".join(f"v{n}: x" for n in range(100)) + "}")
        else:
            lines.append("    vars: *common")
    inventory = parse("\n".join(lines) + "\n")
    assert len(inventory.hosts) == 200
    assert inventory.get_host("node-199").get_vars()["v99"] == "x"


# ---- which files are claimed -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "claimed"),
    [
        ("servers.yaml", "servers: {}\n", True),
        ("servers.yml", "servers: {}\n", True),
        ("servers.yaml", "plugin: gardenos.cluster.servers\nservers: {}\n", True),
        ("servers.yaml", "plugin: community.general.linode\n", False),
        ("servers.yaml", "plugin: [not, a, name]\n", False),
        ("servers.yaml", "servers:\n  a: [unclosed\n", True),  # broken YAML: ours by name, parse() reports it
        ("servers.yaml", "", True),
        ("production.yml", "plugin: gardenos.cluster.servers\nservers: {}\n", True),
        ("production.yaml", "plugin: gardenos.cluster.servers\nservers: {}\n", True),
        ("production.yml", "servers: {}\n", False),
        ("production.yml", "plugin: constructed\n", False),
        ("production.yml", "plugin: [unclosed\n", False),
        ("servers.json", '{"servers": {}}\n', False),
        ("servers.yaml.orig", "servers: {}\n", False),
        ("hosts.ini", "[etcd]\nnode-1\n", False),
        ("my-servers.yaml", "servers: {}\n", False),
    ],
)
def test_verify_file(plugin, tmp_path, name, text, claimed):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert plugin.verify_file(str(path)) is claimed


def test_verify_file_missing(plugin, tmp_path):
    assert plugin.verify_file(str(tmp_path / "servers.yaml")) is False


def test_plugin_key_of_another_plugin_is_refused_by_parse(parse):
    # verify_file declines such a file; parse, if called anyway, says why
    with pytest.raises(AnsibleParserError, match=r"field 'plugin': 'constructed' is not this plugin"):
        parse("plugin: constructed\nservers: {a: {ip: 192.0.2.1, region: x}}\n", check_claimed=False)


# ---- errors: one message naming the file, the server and the field --------------------------

ERRORS = [
    pytest.param(
        """
        servers:
          node-1:
            ip: 192.0.2.1
           region: hil
        """,
        [r"YAML syntax error at line 4, column 4:"],
        id="yaml-syntax",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: [hil}\n",
        [r"YAML syntax error at line 2, column 39: while parsing a flow sequence: expected .,. or .]., but got .}."],
        id="yaml-syntax-flow",
    ),
    pytest.param("", [r": the file is empty"], id="empty"),
    pytest.param("# nothing but a comment\n", [r": the file is empty"], id="only-comments"),
    pytest.param("- node-1\n- node-2\n", [r": the top level must be a mapping .*got a list"], id="top-level-list"),
    pytest.param("just a string\n", [r": the top level must be a mapping .*got a scalar"], id="top-level-scalar"),
    pytest.param("cluster:\n  name: x\n", [r": field 'servers': missing"], id="servers-missing"),
    pytest.param("servers:\n", [r": field 'servers': missing"], id="servers-null"),
    pytest.param("servers: {}\n", [r": field 'servers': is empty"], id="servers-empty"),
    pytest.param("servers: [node-1]\n", [r": field 'servers': must be a mapping .*got a list"], id="servers-list"),
    pytest.param(
        "servers:\n  node-1: {region: hil}\n",
        [r"server 'node-1': field 'ip': missing"],
        id="ip-missing",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.300, region: hil}\n",
        [r"server 'node-1': field 'ip': '192.0.2.300' is not a valid IPv4 or IPv6 address"],
        id="ip-invalid-v4",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: '2001:db8:::1', region: hil}\n",
        [r"server 'node-1': field 'ip': '2001:db8:::1' is not a valid IPv4 or IPv6 address"],
        id="ip-invalid-v6",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: node-1.example.net, region: hil}\n",
        [r"server 'node-1': field 'ip': 'node-1.example.net' is not a valid IPv4 or IPv6 address"],
        id="ip-host-name",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 10, region: hil}\n",
        [r"server 'node-1': field 'ip': must be an IPv4 or IPv6 address, got a number"],
        id="ip-number",
    ),
    pytest.param(
        """
        servers:
          node-1: {ip: 192.0.2.1, region: hil}
          node-2: {ip: 192.0.2.1, region: hil}
        """,
        [r"server 'node-2': field 'ip': 192.0.2.1 is already the address of server 'node-1'"],
        id="ip-duplicate",
    ),
    pytest.param(
        """
        servers:
          node-1: {ip: "2001:db8::1", region: hil}
          node-2: {ip: "2001:DB8:0:0::1", region: hil}
        """,
        [r"server 'node-2': field 'ip': 2001:DB8:0:0::1 is already the address of server 'node-1'"],
        id="ip-duplicate-v6-spelling",
    ),
    pytest.param(
        """
        servers:
          node-1:
            ip: 192.0.2.1
            region: hil
          node-2:
            ip: 192.0.2.2
            region: hil
          node-1:
            ip: 192.0.2.3
            region: hil
        """,
        [r"server 'node-1': the server is defined twice, on lines 2 and 8"],
        id="server-duplicate",
    ),
    pytest.param(
        """
        servers:
          node-1:
            ip: 192.0.2.1
            region: hil
            ip: 192.0.2.2
        """,
        [r"server 'node-1': field 'ip': duplicate key on lines 3 and 5"],
        id="field-duplicate",
    ),
    pytest.param(
        """
        servers:
          node-1:
            ip: 192.0.2.1
            region: hil
            vars:
              ansible_user: a
              ansible_user: b
        """,
        [r"server 'node-1': field 'vars.ansible_user': duplicate key on lines 6 and 7"],
        id="vars-duplicate",
    ),
    pytest.param(
        """
        servers:
          node-1: {ip: 192.0.2.1, region: hil}
        cluster: {name: a}
        cluster: {name: b}
        """,
        [r": field 'cluster': duplicate key on lines 3 and 4"],
        id="top-level-duplicate",
    ),
    pytest.param(
        "servers:\n  Node-1: {ip: 192.0.2.1, region: hil}\n",
        [r"server 'Node-1': invalid host name"],
        id="name-uppercase",
    ),
    pytest.param(
        "servers:\n  node_1: {ip: 192.0.2.1, region: hil}\n",
        [r"server 'node_1': invalid host name"],
        id="name-underscore",
    ),
    pytest.param(
        "servers:\n  -node: {ip: 192.0.2.1, region: hil}\n",
        [r"server '-node': invalid host name"],
        id="name-leading-dash",
    ),
    pytest.param(
        "servers:\n  node-.example: {ip: 192.0.2.1, region: hil}\n",
        [r"server 'node-.example': invalid host name"],
        id="name-label-trailing-dash",
    ),
    pytest.param(
        "servers:\n  node..example: {ip: 192.0.2.1, region: hil}\n",
        [r"server 'node..example': invalid host name"],
        id="name-empty-label",
    ),
    pytest.param(
        "servers:\n  " + "a" * 64 + ": {ip: 192.0.2.1, region: hil}\n",
        [r"server 'a{64}': invalid host name"],
        id="name-label-too-long",
    ),
    pytest.param(
        "servers:\n  " + ".".join(["a" * 63] * 4) + ": {ip: 192.0.2.1, region: hil}\n",
        [r"server '(a{63}\.){3}a{63}': invalid host name"],
        id="name-too-long",
    ),
    pytest.param(
        "servers:\n  42: {ip: 192.0.2.1, region: hil}\n",
        [r"server '42': invalid host name"],
        id="name-number",
    ),
    pytest.param(
        "servers:\n  etcd: {ip: 192.0.2.1, region: hil}\n",
        [r"server 'etcd': invalid host name: 'etcd' is also the name of a group"],
        id="name-of-a-group",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, services: [etcd, etdc]}\n",
        [r"server 'node-1': field 'services': unknown service 'etdc'; did you mean 'etcd'\?"],
        id="service-unknown",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, services: [nginx]}\n",
        [r"server 'node-1': field 'services': unknown service 'nginx' \(known services: etcd, k3s_server, "],
        id="service-unknown-no-suggestion",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, services: etcd}\n",
        [r"server 'node-1': field 'services': must be a list .*got a string"],
        id="services-not-list",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, services: [etcd, etcd]}\n",
        [r"server 'node-1': field 'services': service 'etcd' is listed twice"],
        id="service-twice",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, services: [k3s_server, k3s_agent]}\n",
        [r"server 'node-1': field 'services': .*k3s_server or k3s_agent, not both"],
        id="k3s-server-and-agent",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, role: primray}\n",
        [
            r"server 'node-1': field 'role': invalid role 'primray'; did you mean 'primary'\? "
            r"\(allowed: primary, worker\)"
        ],
        id="role-invalid",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1}\n",
        [r"server 'node-1': field 'region': missing"],
        id="region-missing",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: Hil}\n",
        [r"server 'node-1': field 'region': 'Hil' is not a valid region"],
        id="region-uppercase",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: us.east}\n",
        [r"server 'node-1': field 'region': 'us.east' is not a valid region"],
        id="region-dot",
    ),
    pytest.param(
        'servers:\n  node-1: {ip: 192.0.2.1, region: "hil\\n"}\n',
        [r"server 'node-1': field 'region': 'hil\n' is not a valid region"],
        id="region-newline",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, regoin: hil}\n",
        [
            r"server 'node-1': field 'regoin': unknown key; did you mean 'region'\? "
            r"\(allowed: ip, region, role, services, vars\)"
        ],
        id="server-unknown-key",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, colour: red}\n",
        [r"server 'node-1': field 'colour': unknown key \(allowed: ip, region, role, services, vars\)"],
        id="server-unknown-key-no-suggestion",
    ),
    pytest.param(
        "server:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'server': unknown key; did you mean 'servers'\? \(allowed: cluster, servers\)"],
        id="top-level-unknown-key",
    ),
    pytest.param(
        "compose: {x: y}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'compose': 'compose' is a constructed option: it needs 'plugin: gardenos.cluster.servers'"],
        id="constructed-option-without-plugin-key",
    ),
    pytest.param(
        "cluster: {nmae: x}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster.nmae': unknown key; did you mean 'name'\? \(allowed: name, domain, versions, client_"],
        id="cluster-unknown-key",
    ),
    pytest.param(
        "cluster: {client_networks: 10.0.0.0/8}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster.client_networks': must be a list of networks \(CIDRs such as 10.0.0.0/24\) or addr"],
        id="client-networks-not-list",
    ),
    pytest.param(
        "cluster: {admin_networks: [10.0.0.0/8, 10.0.0.5/24]}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster.admin_networks\[1\]': '10.0.0.5/24' has host bits set: did you mean '10.0.0.0/24'\?"],
        id="admin-networks-host-bits",
    ),
    pytest.param(
        "cluster: {client_networks: [office]}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster.client_networks\[0\]': 'office' is not an IP network"],
        id="client-networks-not-network",
    ),
    pytest.param(
        "cluster: {client_networks: [24]}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster.client_networks\[0\]': must be a network \(CIDR\) or an address as a string, got a number"],
        id="client-networks-number",
    ),
    pytest.param(
        "cluster: {vip: 192.0.2.1}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil, services: [haproxy]}\n",
        [r": field 'cluster.vip': 192.0.2.1 is the address of server 'node-1': the VIP must be an address of its own"],
        id="vip-is-a-server",
    ),
    pytest.param(
        "cluster: {vip: 192.0.2.10}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil, services: [etcd]}\n",
        [r": field 'cluster.vip': needs HAProxy: give at least one server \(two for no single point of failure\)"],
        id="vip-without-haproxy",
    ),
    pytest.param(
        "cluster: {vip: 2001:db8::10}\nservers:\n"
        "  node-1: {ip: 2001:db8::1, region: hil, services: [haproxy]}\n"
        "  node-2: {ip: 192.0.2.2, region: hil, services: [haproxy]}\n",
        [r": field 'cluster.vip': 2001:db8::10 is an IPv6 address, but the HAProxy server node-2 has IPv4: the VIP"],
        id="vip-other-family",
    ),
    pytest.param(
        "cluster: {vip: {address: 192.0.2.10, interface: eth0/1}}\nservers:\n"
        "  node-1: {ip: 192.0.2.1, region: hil, services: [haproxy]}\n",
        [r": field 'cluster.vip.interface': must be a network interface name \(1 to 15 characters, no '/', ':' or wh"],
        id="vip-interface-invalid",
    ),
    pytest.param(
        "cluster: {vip: {adress: 192.0.2.10}}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil, services: [haproxy]}\n",
        [r": field 'cluster.vip.adress': unknown key; did you mean 'address'\? \(allowed: address, interface\)"],
        id="vip-unknown-key",
    ),
    pytest.param(
        "cluster: {vip: [192.0.2.10]}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil, services: [haproxy]}\n",
        [r": field 'cluster.vip': must be an IPv4 or IPv6 address, or a mapping of 'address' and optionally 'interf"],
        id="vip-list",
    ),
    pytest.param(
        "cluster: {vip: 127.0.0.10}\nservers:\n  node-1: {ip: 127.0.0.1, region: hil, services: [haproxy]}\n",
        [r": field 'cluster.vip': 127.0.0.10 is a loopback address, not reachable by clients"],
        id="vip-loopback",
    ),
    pytest.param(
        "cluster: {vip: 192.0.2.300}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil, services: [haproxy]}\n",
        [r": field 'cluster.vip': '192.0.2.300' is not a valid IPv4 or IPv6 address"],
        id="vip-invalid",
    ),
    pytest.param(
        "cluster: [gardenos]\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster': must be a mapping"],
        id="cluster-not-mapping",
    ),
    pytest.param(
        "cluster: {name: ''}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster.name': must be a non-empty string"],
        id="cluster-name-empty",
    ),
    pytest.param(
        "cluster: {domain: Example_Net}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster.domain': 'Example_Net' is not a valid DNS domain"],
        id="cluster-domain-invalid",
    ),
    pytest.param(
        "cluster: {versions: [etcd]}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster.versions': must be a mapping"],
        id="cluster-versions-not-mapping",
    ),
    pytest.param(
        "cluster: {versions: {k3s: 1.31}}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster.versions.k3s': must be a version string \(quote it"],
        id="cluster-version-number",
    ),
    pytest.param(
        "servers:\n  node-1: 192.0.2.1\n",
        [r"server 'node-1': must be a mapping with at least 'ip' and 'region', got a string"],
        id="server-not-mapping",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, vars: [ansible_user]}\n",
        [r"server 'node-1': field 'vars': must be a mapping .*got a list"],
        id="vars-not-mapping",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, vars: {gardenos_role: primary}}\n",
        [r"server 'node-1': field 'vars': 'gardenos_role' is set from the server's 'role' field"],
        id="vars-override-derived",
    ),
    # ---- cluster.name, cluster.domain: they reach unit files, config comments, backup file names
    pytest.param(
        'cluster: {name: "gardenos\\nExecStartPre=/bin/sh"}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n',
        [
            r": field 'cluster\.name': 'gardenos\nExecStartPre=/bin/sh' is not a valid cluster name: use a DNS label "
            r"\(1 to 63 lowercase letters, digits and '-', neither first nor last\)$"
        ],
        id="cluster-name-newline",
    ),
    pytest.param(
        "cluster: {name: ../../etc/cron.d/x}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster\.name': '\.\./\.\./etc/cron\.d/x' is not a valid cluster name: use a DNS label"],
        id="cluster-name-path",
    ),
    pytest.param(
        "cluster: {name: Gardenos}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster\.name': 'Gardenos' is not a valid cluster name"],
        id="cluster-name-uppercase",
    ),
    pytest.param(
        "cluster: {name: garden_os}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster\.name': 'garden_os' is not a valid cluster name"],
        id="cluster-name-underscore",
    ),
    pytest.param(
        "cluster: {name: gardenos.lab}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster\.name': 'gardenos\.lab' is not a valid cluster name"],
        id="cluster-name-dot",
    ),
    pytest.param(
        "cluster: {name: -gardenos}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster\.name': '-gardenos' is not a valid cluster name"],
        id="cluster-name-leading-dash",
    ),
    pytest.param(
        "cluster: {name: gardenos-}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster\.name': 'gardenos-' is not a valid cluster name"],
        id="cluster-name-trailing-dash",
    ),
    pytest.param(
        "cluster: {name: " + "a" * 64 + "}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster\.name': 'a{64}' is not a valid cluster name"],
        id="cluster-name-too-long",
    ),
    pytest.param(
        "cluster: {name: 42}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster\.name': must be a non-empty string, got a number"],
        id="cluster-name-number",
    ),
    pytest.param(
        'cluster: {domain: "example.net\\n"}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n',
        [r": field 'cluster\.domain': 'example\.net\n' is not a valid DNS domain"],
        id="cluster-domain-newline",
    ),
    pytest.param(
        "cluster: {domain: ../example.net}\nservers:\n  node-1: {ip: 192.0.2.1, region: hil}\n",
        [r": field 'cluster\.domain': '\.\./example\.net' is not a valid DNS domain"],
        id="cluster-domain-path",
    ),
    pytest.param(
        "cluster: {domain: " + ".".join(["d" * 63] * 3) + "}\n"
        "servers:\n  " + "n" * 63 + ": {ip: 192.0.2.1, region: hil}\n",
        [
            r"server 'n{63}': '" + "n" * 63 + r"\.(d{63}\.){2}d{63}', its name in cluster\.domain, is longer than "
            r"253 characters"
        ],
        id="name-in-domain-too-long",
    ),
    pytest.param(
        'servers:\n  "node-1\\n": {ip: 192.0.2.1, region: hil}\n',
        [r"server 'node-1\n': invalid host name"],
        id="name-newline",
    ),
    pytest.param(
        "servers:\n  ../node-1: {ip: 192.0.2.1, region: hil}\n",
        [r"server '\.\./node-1': invalid host name"],
        id="name-path",
    ),
    # ---- ip: zone IDs, addresses no server has, the same address written twice
    pytest.param(
        "servers:\n  node-1: {ip: 'fe80::1%eth0', region: hil}\n",
        [
            r"server 'node-1': field 'ip': 'fe80::1%eth0' has a zone ID \('%eth0'\): not allowed, "
            r"use an address that needs none \(a global or unique local one\)$"
        ],
        id="ip-zone-id",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: '2001:db8::1%eth0', region: hil}\n",
        [r"server 'node-1': field 'ip': '2001:db8::1%eth0' has a zone ID \('%eth0'\): not allowed"],
        id="ip-zone-id-global",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: '2001:db8::1%', region: hil}\n",
        [r"server 'node-1': field 'ip': '2001:db8::1%' has a zone ID \('%'\): not allowed"],
        id="ip-zone-id-empty",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: '192.0.2.1%eth0', region: hil}\n",
        [r"server 'node-1': field 'ip': '192\.0\.2\.1%eth0' has a zone ID \('%eth0'\): not allowed"],
        id="ip-zone-id-v4",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 'fe80::1%eth0/64 junk', region: hil}\n",
        [r"server 'node-1': field 'ip': 'fe80::1%eth0/64 junk' has a zone ID \('%eth0/64 junk'\): not allowed"],
        id="ip-zone-id-junk",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 'fe80::1', region: hil}\n",
        [
            r"server 'node-1': field 'ip': fe80::1 is an IPv6 link-local address, usable only with a zone ID "
            r"\(not allowed\): use a global or unique local address$"
        ],
        id="ip-link-local-v6",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 0.0.0.0, region: hil}\n",
        [r"server 'node-1': field 'ip': 0\.0\.0\.0 is the unspecified address, not the address of a server$"],
        id="ip-unspecified-v4",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: '::', region: hil}\n",
        [r"server 'node-1': field 'ip': :: is the unspecified address, not the address of a server$"],
        id="ip-unspecified-v6",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: '0:0::0', region: hil}\n",
        [r"server 'node-1': field 'ip': 0:0::0 is the unspecified address"],
        id="ip-unspecified-v6-spelling",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: '::ffff:0.0.0.0', region: hil}\n",
        [r"server 'node-1': field 'ip': ::ffff:0\.0\.0\.0 is the unspecified address"],
        id="ip-unspecified-v4-mapped",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 224.0.0.1, region: hil}\n",
        [r"server 'node-1': field 'ip': 224\.0\.0\.1 is a multicast address, not the address of a server$"],
        id="ip-multicast-v4",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 'ff02::1', region: hil}\n",
        [r"server 'node-1': field 'ip': ff02::1 is a multicast address, not the address of a server$"],
        id="ip-multicast-v6",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 255.255.255.255, region: hil}\n",
        [r"server 'node-1': field 'ip': 255\.255\.255\.255 is the broadcast address, not the address of a server$"],
        id="ip-broadcast",
    ),
    pytest.param(
        """
        servers:
          node-1: {ip: 192.0.2.11, region: hil}
          node-2: {ip: "::ffff:192.0.2.11", region: hil}
        """,
        [
            r"server 'node-2': field 'ip': ::ffff:192\.0\.2\.11 is already the address of server 'node-1', "
            r"written there as 192\.0\.2\.11$"
        ],
        id="ip-duplicate-v4-mapped",
    ),
    pytest.param(
        """
        servers:
          node-1: {ip: "::ffff:c000:20b", region: hil}
          node-2: {ip: 192.0.2.11, region: hil}
        """,
        [
            r"server 'node-2': field 'ip': 192\.0\.2\.11 is already the address of server 'node-1', "
            r"written there as ::ffff:c000:20b$"
        ],
        id="ip-duplicate-v4-mapped-first",
    ),
    pytest.param(
        """
        servers:
          node-1: {ip: "2001:db8::1", region: hil}
          node-2: {ip: "2001:0db8:0:0::1", region: hil}
        """,
        [
            r"server 'node-2': field 'ip': 2001:0db8:0:0::1 is already the address of server 'node-1', "
            r"written there as 2001:db8::1$"
        ],
        id="ip-duplicate-v6-leading-zeros",
    ),
    # ---- vars: what the plugin sets is not overridden per server
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, vars: {ansible_host: 127.0.0.1}}\n",
        [
            r"server 'node-1': field 'vars': 'ansible_host' would override the server's address, its 'ip': set 'ip' "
            r"\(or, for every server, use 'compose:' in a file with 'plugin: gardenos\.cluster\.servers'\)$"
        ],
        id="vars-ansible-host",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, vars: {ansible_ssh_host: 127.0.0.1}}\n",
        [r"server 'node-1': field 'vars': 'ansible_ssh_host' would override the server's address, its 'ip'"],
        id="vars-ansible-ssh-host",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, vars: {ansible_paramiko_host: 127.0.0.1}}\n",
        [r"server 'node-1': field 'vars': 'ansible_paramiko_host' would override the server's address, its 'ip'"],
        id="vars-ansible-paramiko-host",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, vars: {gardenos_ip: 192.0.2.2}}\n",
        [r"server 'node-1': field 'vars': 'gardenos_ip' is set from the server's 'ip' field; set that instead$"],
        id="vars-gardenos-ip",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, vars: {gardenos_services: [etcd]}}\n",
        [r"server 'node-1': field 'vars': 'gardenos_services' is set from the server's 'services' field"],
        id="vars-gardenos-services",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, vars: {gardenos_cluster_name: other}}\n",
        [
            r"server 'node-1': field 'vars': 'gardenos_cluster_name' is set for every server from 'cluster\.name'; "
            r"a server may not have its own$"
        ],
        id="vars-gardenos-cluster-name",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, vars: {gardenos_cluster_domain: example.org}}\n",
        [r"server 'node-1': field 'vars': 'gardenos_cluster_domain' is set for every server from 'cluster\.domain'"],
        id="vars-gardenos-cluster-domain",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, vars: {gardenos_versions: {etcd: '3.6.0'}}}\n",
        [r"server 'node-1': field 'vars': 'gardenos_versions' is set for every server from 'cluster\.versions'"],
        id="vars-gardenos-versions",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, vars: {gardenos_cluster_size: 3}}\n",
        [
            r"server 'node-1': field 'vars': 'gardenos_cluster_size' is a cluster variable \(gardenos_cluster_\*\), "
            r"set from 'cluster:'; a server may not have its own$"
        ],
        id="vars-gardenos-cluster-prefix",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, vars: {ansible_connection: local}}\n",
        [
            r"server 'node-1': field 'vars': 'ansible_connection' would change how Ansible reaches this one server: "
            r"use 'compose:'.* or host_vars/<server>\.yml beside the file$"
        ],
        id="vars-ansible-connection",
    ),
    pytest.param(
        "servers:\n  node-1: {ip: 192.0.2.1, region: hil, vars: {wiring_etcd_client_port: 12379}}\n",
        [
            r"server 'node-1': field 'vars': 'wiring_etcd_client_port' is the cluster's wiring .*: "
            r"set it in group_vars/all"
        ],
        id="vars-wiring",
    ),
]


@pytest.mark.parametrize(("text", "patterns"), ERRORS)
def test_errors(parse, text, patterns):
    with pytest.raises(AnsibleParserError) as error:
        parse(text)
    message = str(error.value)
    # always '<path>: ...', with the file's full path first
    assert message.startswith(parse.path() + ": "), message
    for pattern in patterns:
        assert re.search(pattern, message), f"{pattern!r} not in {message!r}"


def test_error_leaves_inventory_untouched(plugin, tmp_path):
    """The whole file is checked before any host or group is added."""
    path = tmp_path / "servers.yaml"
    path.write_text(
        yaml_text("""
            servers:
              node-1: {ip: 192.0.2.1, region: hil, services: [etcd]}
              node-2: {ip: 192.0.2.2, region: hil, services: [etdc]}
        """),
        encoding="utf-8",
    )
    inventory = InventoryData()
    with pytest.raises(AnsibleParserError):
        plugin.parse(inventory, DataLoader(), str(path), cache=False)
    assert inventory.hosts == {}
    assert sorted(inventory.groups) == ["all", "ungrouped"]


def test_error_in_plugin_form_file(parse):
    with pytest.raises(AnsibleParserError) as error:
        parse(
            """
            plugin: gardenos.cluster.servers
            keyed_groups: [{key: gardenos_role}]
            servers:
              node-1: {ip: 192.0.2.1, region: hil, rolle: primary}
            """,
            name="production.yml",
        )
    assert str(error.value).startswith(
        parse.path("production.yml") + ": server 'node-1': field 'rolle': unknown key; did you mean 'role'?"
    )


# ---- bad input refused fast: YAML aliases and file size ------------------------------------

# Fifteen lines that expand to 9**9 strings: ansible-inventory ran for minutes on it (Ansible copies every
# variable value as a tree) and --list printed hundreds of MB.
BILLION_LAUGHS = """\
servers:
  lol-1:
    ip: 192.0.2.1
    region: hil
    vars:
      a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
      f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
      g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
      h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
      i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


@pytest.mark.timing
def test_alias_bomb_is_refused_fast(parse):
    started = time.monotonic()
    with pytest.raises(AnsibleParserError) as error:
        parse(BILLION_LAUGHS)
    assert time.monotonic() - started < 0.5
    assert str(error.value) == (
        parse.path() + ": server 'lol-1': field 'vars.f': YAML aliases copy more than 100000 nodes "
        "(here an alias of the node on line 10); repeat less through anchors and aliases"
    )


def test_alias_bomb_outside_the_servers_is_refused(parse):
    # the aliases are checked in the YAML itself, wherever they are: here before any key is checked
    laughs = [line[6:] for line in BILLION_LAUGHS.splitlines()[5:]]
    text = "cluster:\n  versions:\n" + "".join(f"    x-{line}\n" for line in laughs)
    with pytest.raises(AnsibleParserError, match=r": field 'cluster\.versions\.x-f': YAML aliases copy more than"):
        parse(text + "servers:\n  lol-1: {ip: 192.0.2.1, region: hil}\n")


def test_alias_bomb_through_merge_keys_is_refused(parse):
    # a merge key (<<: *x) copies the mapping it names too
    lines = ["servers:", "  lol-1:", "    ip: 192.0.2.1", "    region: hil", "    vars:"]
    lines.append("      a: &a {" + ", ".join(f"k{n}: lol" for n in range(9)) + "}")
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"      {name}: &{name} {{<<: *{prev}, " + ", ".join(f"x{n}: *{prev}" for n in range(8)) + "}")
    with pytest.raises(AnsibleParserError, match=r"server 'lol-1': field 'vars\.e\.x4': YAML aliases copy more than"):
        parse("\n".join(lines) + "\n")


def test_recursive_alias_is_refused(parse):
    with pytest.raises(AnsibleParserError) as error:
        parse("servers:\n  lol-1:\n    ip: 192.0.2.1\n    region: hil\n    vars:\n      a: &a [1, *a]\n")
    assert str(error.value) == (
        parse.path() + ": server 'lol-1': field 'vars.a': a YAML alias refers to the node on line 6, "
        "which contains it: recursive structures are not allowed"
    )


def test_deep_nesting_is_refused(parse):
    # PyYAML itself reads this only up to Python's recursion limit: the error was 'maximum recursion depth exceeded'
    text = "servers:\n  lol-1:\n    ip: 192.0.2.1\n    region: hil\n    vars:\n      a: " + "[" * 1000 + "]" * 1000
    with pytest.raises(AnsibleParserError) as error:
        parse(text + "\n")
    assert str(error.value) == parse.path() + ": the YAML is nested too deeply to be read (at most 32 levels)"


def test_nesting_through_aliases_is_bounded(parse):
    lines = ["servers:", "  lol-1:", "    ip: 192.0.2.1", "    region: hil", "    vars:", "      a0: &a0 [x]"]
    lines += [f"      a{n}: &a{n} [*a{n - 1}]" for n in range(1, 40)]
    with pytest.raises(AnsibleParserError) as error:
        parse("\n".join(lines) + "\n")
    assert str(error.value) == parse.path() + ": server 'lol-1': field 'vars.a27': nested more than 32 levels deep"


def test_nesting_within_the_bound(parse):
    # 4 levels to a server's vars (the file, servers, the server, vars), 27 lists, the string: 32
    value = "[" * 27 + "x" + "]" * 27
    inventory = parse(f"servers:\n  node-1:\n    ip: 192.0.2.1\n    region: hil\n    vars:\n      deep: {value}\n")
    expected = "x"
    for _level in range(27):
        expected = [expected]
    assert inventory.get_host("node-1").get_vars()["deep"] == expected


def test_nesting_over_the_bound(parse):
    value = "[" * 28 + "x" + "]" * 28  # the string on level 33
    with pytest.raises(AnsibleParserError) as error:
        parse(f"servers:\n  node-1:\n    ip: 192.0.2.1\n    region: hil\n    vars:\n      deep: {value}\n")
    assert str(error.value) == parse.path() + ": server 'node-1': field 'vars.deep': nested more than 32 levels deep"


def big_file(size, head="servers:\n  node-1: {ip: 192.0.2.1, region: hil}\n"):
    """A valid file of exactly `size` bytes: the servers, then one long comment."""
    comment = "# " + "x" * (size - len(head) - 3) + "\n"
    return head + comment


def test_file_of_one_mib_is_read(parse):
    inventory = parse(big_file(1024 * 1024))
    assert list(inventory.hosts) == ["node-1"]


def test_file_over_one_mib_is_refused(parse):
    with pytest.raises(AnsibleParserError) as error:
        parse(big_file(1024 * 1024 + 1))
    assert str(error.value) == (
        parse.path() + ": the file is 1048577 bytes, more than the 1048576 (1 MiB) a servers.yaml may have"
    )


def test_file_over_one_mib_with_the_plugin_key_is_claimed_then_refused(parse):
    text = big_file(2 * 1024 * 1024, head="plugin: gardenos.cluster.servers  # ours\nservers: {}\n")
    with pytest.raises(AnsibleParserError, match=r": the file is 2097152 bytes, more than the 1048576"):
        parse(text, name="production.yml")


@pytest.mark.parametrize(
    ("name", "head", "claimed"),
    [
        ("servers.yaml", "servers: {}\n", True),
        ("servers.yaml", "plugin: constructed\n", False),
        ("other.yaml", "servers: {}\n", False),
        ("other.yaml", "plugin: 'gardenos.cluster.servers'\n", True),
    ],
)
def test_verify_file_reads_at_most_one_mib(plugin, tmp_path, name, head, claimed):
    path = tmp_path / name
    path.write_text(big_file(3 * 1024 * 1024, head=head), encoding="utf-8")
    with mock.patch("yaml.compose", side_effect=AssertionError("the big file was parsed")):
        assert plugin.verify_file(str(path)) is claimed


# ---- warnings ----------------------------------------------------------------------------------


def etcd_cluster(members, others=0):
    lines = ["servers:"]
    for i in range(members + others):
        services = "[etcd, k3s_server]" if i < members else "[k3s_agent]"
        lines.append(f"  node-{i + 1}: {{ip: 192.0.2.{i + 1}, region: hil, services: {services}}}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        (0, []),
        (1, ["fewer than 3"]),
        (2, ["fewer than 3", "even number of members (2)"]),
        (3, []),
        (4, ["even number of members (4)"]),
        (5, []),
    ],
)
def test_etcd_member_count_warnings(plugin, parse, members, expected):
    inventory = parse(etcd_cluster(members, others=1))
    warnings = warnings_of(plugin)
    assert len(warnings) == len(expected), warnings
    for warning, fragment in zip(warnings, expected):
        assert fragment in warning
        assert warning.startswith(parse.path() + ": etcd has ")
    # a warning, not an error: the inventory is built
    assert len(hosts_of(inventory, "etcd")) == members


def test_warning_names_the_members(plugin, parse):
    parse(etcd_cluster(1, others=2))
    assert "(node-1)" in warnings_of(plugin)[0]


# ---- the CLI: a bad file fails the run, with the plugin's message ---------------------------


# The yaml plugin takes a servers.yaml without `plugin:` for a YAML inventory of groups `cluster` and
# `servers` with no hosts, and *succeeds* (with warnings) after our plugin refused the file: the run then
# goes on with an empty inventory and our message is never shown. The repo's ansible.cfg keeps it off;
# this test fails if it comes back.
BAD_SERVERS = """\
servers:
  ubuntu-8gb-hil-1:
    ip: 192.0.2.11
    region: hil
    services: [etcd, k3s_server]
  ubuntu-8gb-ash-1:
    ip: 198.51.100.300
    region: ash
    services: [etcd, k3s_server]
"""


def run_cli(args, cwd):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def check_cli_failure(tmp_path, text):
    bad = tmp_path / "bad" / "servers.yaml"
    bad.parent.mkdir()
    bad.write_text(text, encoding="utf-8")
    playbook = tmp_path / "play.yml"
    playbook.write_text("- hosts: all\n  gather_facts: false\n  tasks: []\n", encoding="utf-8")
    expected = f"{bad}: server 'ubuntu-8gb-ash-1': field 'ip': '198.51.100.300' is not a valid IPv4 or IPv6 address"

    for args in (
        [str(BIN / "ansible-inventory"), "-i", "bad/servers.yaml", "--list"],
        [str(BIN / "ansible-playbook"), "-i", "bad/servers.yaml", str(playbook)],
    ):
        result = run_cli(args, tmp_path)
        output = result.stdout + result.stderr
        assert result.returncode != 0, output
        assert expected in output, output
        assert f"Completely failed to parse inventory source {bad}" in output, output


def test_cli_fails_on_bad_file_with_plugin_key(tmp_path):
    check_cli_failure(tmp_path, "plugin: gardenos.cluster.servers\n" + BAD_SERVERS)


def test_cli_fails_on_bad_servers_yaml(tmp_path):
    check_cli_failure(tmp_path, BAD_SERVERS)
