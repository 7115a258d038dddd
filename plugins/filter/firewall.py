# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Networks and the hosts' firewall rules (the nftables table inet gardenos; README "Exposure")."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible.errors import AnsibleFilterError

# The table every rule goes into, and its one chain (roles/common/templates/firewall.nft.j2 makes them).
TABLE = "inet gardenos"
CHAIN = "input"
# The named sets of that table a rule may allow, each of an IPv4 and an IPv6 half (<name>4, <name>6).
SETS = ("cluster", "clients", "operators", "admin", "haproxy")
_PORT_PROTOCOLS = ("tcp", "udp")
# protocols without ports, by their IP protocol number (nftables' meta l4proto)
_PORTLESS_PROTOCOLS = {"vrrp": 112}


def networks(values, version=None):
    """Addresses and CIDRs -> the fewest CIDRs that cover them, IPv4 first (an address becomes a /32 or
    /128, overlapping and adjacent networks are merged); with ``version`` (4 or 6) only that family's."""
    if not isinstance(values, (list, tuple)):
        raise AnsibleFilterError("networks: expects a list of addresses or networks, got %r" % (values,))
    parsed = {4: [], 6: []}
    for value in values:
        if not isinstance(value, str) or not value:
            raise AnsibleFilterError("networks: %r is not an address or network" % (value,))
        try:
            network = ipaddress.ip_network(value.strip("[]"), strict=False)
        except ValueError:
            raise AnsibleFilterError("networks: '%s' is not an IP address or network (CIDR)" % value) from None
        parsed[network.version].append(network)
    versions = (4, 6) if version is None else (int(version),)
    return [str(net) for family in versions for net in ipaddress.collapse_addresses(parsed.get(family, []))]


def nft_port_rules(rules, owner):
    """The nftables rules of one role's ports: for each rule ({ports, allow, protocol=tcp}), traffic to its
    ports from outside the set ``allow`` (of the table's SETS) is dropped, IPv4 and IPv6 alike. A rule of a
    protocol without ports (vrrp) has no ``ports``: all its traffic from outside the set is dropped."""
    lines = []
    for rule in rules or []:
        protocol = rule.get("protocol", "tcp") if isinstance(rule, dict) else None
        if protocol in _PORTLESS_PROTOCOLS:
            match = "meta l4proto %d" % _PORTLESS_PROTOCOLS[protocol]
            if "ports" in rule:
                raise AnsibleFilterError("nft_port_rules: %s: %s has no ports, got %r" % (owner, protocol, rule))
        else:
            match = "%s dport { %s }" % (protocol, ", ".join(str(port) for port in _ports(rule, owner)))
        if rule.get("allow") not in SETS:
            raise AnsibleFilterError(
                "nft_port_rules: %s: a rule needs 'allow' (one of %s), got %r" % (owner, ", ".join(SETS), rule)
            )
        for family, address in ((4, "ip"), (6, "ip6")):
            lines.append(
                'add rule %s %s %s %s saddr != @%s%d drop comment "%s"'
                % (TABLE, CHAIN, match, address, rule["allow"], family, owner)
            )
    return lines


def _ports(rule, owner):
    """A port rule's protocol and ports, checked: sorted, unique, each 1-65535."""
    if not isinstance(rule, dict) or not rule.get("ports"):
        raise AnsibleFilterError(
            "nft_port_rules: %s: a rule needs 'ports' and 'allow' (one of %s), got %r" % (owner, ", ".join(SETS), rule)
        )
    protocol = rule.get("protocol", "tcp")
    if protocol not in _PORT_PROTOCOLS:
        raise AnsibleFilterError(
            "nft_port_rules: %s: protocol must be %s, got %r"
            % (owner, ", ".join(_PORT_PROTOCOLS + tuple(_PORTLESS_PROTOCOLS)), protocol)
        )
    try:
        ports = sorted({int(port) for port in rule["ports"]})
    except (TypeError, ValueError):
        raise AnsibleFilterError("nft_port_rules: %s: ports must be numbers, got %r" % (owner, rule["ports"])) from None
    if not all(0 < port < 65536 for port in ports):
        raise AnsibleFilterError("nft_port_rules: %s: a port is out of 1-65535: %r" % (owner, ports))
    return ports


class FilterModule(object):
    def filters(self):
        return {"networks": networks, "nft_port_rules": nft_port_rules}
