"""keepalived.conf as the keepalived role renders it (real Ansible templating) for the lab's servers.yaml (IPv4 VIP,
two HAProxy hosts) and molecule cluster's (IPv6 VIP, three): one VRRPv3 instance, every host a non-preemptive
BACKUP, the other HAProxy hosts as unicast peers, the first host of the group with the highest priority, the VIP
on the given interface (an IPv6 one deprecated so that it is never a source address), HAProxy's check tracked.
keepalived itself checks this configuration in molecule cluster (the role's validate:, and test_vip.py)."""

import re

from renderlab import run_render


def render(tmp_path, inventory):
    # the controller has none of the hosts' addresses: the interface is given
    run_render("keepalived.yml", inventory, tmp_path, "gardenos_cluster_vip_interface=eth0")
    return {path.stem: path.read_text() for path in tmp_path.glob("*.conf")}


def setting(config, name):
    return re.findall(rf"^\s+{name} (.+)$", config, re.MULTILINE)


def block(config, name):
    match = re.search(rf"^\s+{name} \{{\n((?:.*\n)*?)\s+\}}", config, re.MULTILINE)
    assert match, f"no {name} block in:\n{config}"
    return [line.strip() for line in match.group(1).splitlines() if line.strip()]


def test_the_lab_holds_its_ipv4_vip_over_lab_1_and_lab_2(tmp_path):
    configs = render(tmp_path, "inventory/lab/servers.yaml")
    assert sorted(configs) == ["lab-1", "lab-2"]
    for host, peer in (("lab-1", "10.77.0.12"), ("lab-2", "10.77.0.11")):
        config = configs[host]
        assert setting(config, "state") == ["BACKUP"]
        assert "    nopreempt\n" in config
        assert setting(config, "version") == ["3"]
        assert setting(config, "interface") == ["eth0"]
        assert block(config, "unicast_peer") == [peer]
        assert block(config, "virtual_ipaddress") == ["10.77.0.10/32 dev eth0"]
        assert block(config, "track_script") == ["haproxy_ready"]
        assert 'script "/usr/local/lib/gardenos-haproxy-ready"' in config
        # the holder repeats its gratuitous ARPs while it holds the VIP (found after a healed partition)
        assert setting(config, "vrrp_garp_master_refresh") == ["1"]
    # the same router ID on both, the first host of the group first in a tie
    assert setting(configs["lab-1"], "virtual_router_id") == setting(configs["lab-2"], "virtual_router_id")
    assert int(setting(configs["lab-1"], "priority")[0]) > int(setting(configs["lab-2"], "priority")[0])


def test_the_molecule_cluster_holds_an_ipv6_vip_that_is_never_a_source_address(tmp_path):
    configs = render(tmp_path, "molecule/cluster/servers.yaml")
    assert sorted(configs) == ["pg-1", "pg-2", "pg-3"]
    assert block(configs["pg-2"], "unicast_peer") == ["fd78::41", "fd78::43"]
    assert setting(configs["pg-2"], "unicast_src_ip") == ["fd78::42"]
    assert block(configs["pg-2"], "virtual_ipaddress") == ["fd78::40/128 dev eth0 preferred_lft 0"]
