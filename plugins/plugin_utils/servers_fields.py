# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fields of a servers.yaml for the gardenos.cluster.servers inventory plugin: the keys, services, roles and
vars it knows, and the checks of the `cluster:` settings and of one server (name, address, region, role,
services, vars).

The checks take `error(msg, server=None, field=None)`, which returns the exception to raise (the plugin's
parse error naming the file, the server and the field)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import ipaddress
import re
from collections.abc import Mapping

from ansible.template import trust_as_template

PLUGIN_NAME = "gardenos.cluster.servers"
SERVICES = ("etcd", "k3s_server", "k3s_agent", "haproxy", "patroni", "backup")
ROLES = ("primary", "worker")
SERVER_FIELDS = ("ip", "region", "role", "services", "vars")
CLUSTER_FIELDS = ("name", "domain", "versions", "client_networks", "admin_networks", "vip", "backup")
# cluster.vip as a mapping: the address, and optionally the interface keepalived holds it on
VIP_FIELDS = ("address", "interface")
# the cluster fields that are lists of networks (addresses or CIDRs)
NETWORK_FIELDS = ("client_networks", "admin_networks")
DATA_KEYS = ("cluster", "servers")
CONSTRUCTED_KEYS = ("compose", "groups", "keyed_groups", "strict", "leading_separator", "use_extra_vars")
# groups every inventory has, which no host may be named as (region groups contain '_': never a host name)
GROUP_NAMES = ("all", "ungrouped", *SERVICES, "primary")
# host vars the plugin derives from a server's fields, which its `vars:` may not override
DERIVED_VARS = ("gardenos_ip", "gardenos_region", "gardenos_role", "gardenos_services")
# host vars that are the server's address to Ansible (ansible_host; the ssh and paramiko transports also read
# their own names for it), set from its `ip`: a server's `vars:` may not override them (`compose:` may)
ADDRESS_VARS = ("ansible_host", "ansible_ssh_host", "ansible_paramiko_host")
# how Ansible reaches a server: the same for every server of servers.yaml (`compose:` may set it for all of them);
# one server reached otherwise belongs in host_vars/<server>.yml beside the file
CONNECTION_VARS = ("ansible_connection",)
# the cluster's wiring (ports, controller directories: the wiring role's), one value for every server
WIRING_PREFIX = "wiring_"
# vars of the group `all` set from `cluster:`, which a server's `vars:` may not override, and their fields
CLUSTER_VARS = {
    "gardenos_cluster_name": "cluster.name",
    "gardenos_cluster_domain": "cluster.domain",
    "gardenos_versions": "cluster.versions",
    "gardenos_cluster_client_networks": "cluster.client_networks",
    "gardenos_cluster_admin_networks": "cluster.admin_networks",
    "gardenos_cluster_vip": "cluster.vip",
    "gardenos_cluster_vip_interface": "cluster.vip.interface",
    "gardenos_cluster_backup_s3": "cluster.backup.s3",
}

_HOST_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_REGION = re.compile(r"[a-z0-9_-]+")
_BROADCAST = ipaddress.ip_address("255.255.255.255")
# a Linux interface name: 1 to 15 characters, no '/', ':' or whitespace
_INTERFACE = re.compile(r"[^/:\s]{1,15}")
# what describe() calls a value of these types, the first that matches (bool before int, its base class)
_TYPE_NAMES = (
    (bool, "a boolean"),
    (Mapping, "a mapping"),
    ((list, tuple), "a list"),
    (str, "a string"),
    ((int, float), "a number"),
)


# ---- helpers of the messages and checks ----------------------------------------------------------


def is_valid_host_name(name):
    """True for an RFC 1123 host name: dot-separated labels of [a-z0-9-], 1-63 characters, no edge '-'."""
    if not isinstance(name, str) or not name or len(name) > 253:
        return False
    return all(_HOST_LABEL.fullmatch(label) for label in name.split("."))


# what a server's `vars:` may not set, by exact name or by prefix, and why
_ADDRESS_PROBLEM = (
    "would override the server's address, its 'ip': set 'ip' (or, for every server, use 'compose:' in a file "
    "with 'plugin: gardenos.cluster.servers')"
)
_CONNECTION_PROBLEM = (
    "would change how Ansible reaches this one server: use 'compose:' in a file with "
    "'plugin: gardenos.cluster.servers' for every server, or host_vars/<server>.yml beside the file"
)
_PREFIX_PROBLEMS = (
    (
        "gardenos_cluster_",
        "is a cluster variable (gardenos_cluster_*), set from 'cluster:'; a server may not have its own",
    ),
    (
        WIRING_PREFIX,
        "is the cluster's wiring (the wiring role's), one value for every server: set it in group_vars/all, "
        "where every role reads it",
    ),
)


def var_problem(var):
    """Why a server's `vars:` may not set this host var, or None."""
    if var in DERIVED_VARS:
        return "is set from the server's '%s' field; set that instead" % var[len("gardenos_") :]
    if var in CLUSTER_VARS:
        return "is set for every server from '%s'; a server may not have its own" % CLUSTER_VARS[var]
    if var in ADDRESS_VARS:
        return _ADDRESS_PROBLEM
    if var in CONNECTION_VARS:
        return _CONNECTION_PROBLEM
    return next((problem for prefix, problem in _PREFIX_PROBLEMS if var.startswith(prefix)), None)


def address_problem(address):
    """Why an IP address cannot be a server's, or None. Loopback addresses are allowed (tests run hosts on them)."""
    if address.is_unspecified:
        return "the unspecified address, not the address of a server"
    if address.is_multicast:
        return "a multicast address, not the address of a server"
    if address == _BROADCAST:
        return "the broadcast address, not the address of a server"
    if address.version == 6 and address.is_link_local:
        return (
            "an IPv6 link-local address, usable only with a zone ID (not allowed): use a global or unique local address"
        )
    return None


def describe(value):
    """A YAML-ish name for the type of a value, for messages."""
    if value is None:
        return "null"
    for types, name in _TYPE_NAMES:
        if isinstance(value, types):
            return name
    return "a %s" % type(value).__name__


def choices(value, allowed, label="allowed"):
    """The end of an 'unknown/invalid' message: the closest choice as a suggestion if any, then all the choices."""
    close = difflib.get_close_matches(value, allowed, n=1) if isinstance(value, str) else []
    listed = "(%s: %s)" % (label, ", ".join(allowed))
    return "; did you mean '%s'? %s" % (close[0], listed) if close else " " + listed


def check_keys(data, allowed, error, server=None, field=None):
    """Refuses a key of a mapping that is not allowed, suggesting the closest allowed one."""
    for key in data:
        if key not in allowed:
            if field is None:
                where = dict(server=server, field=key)
            else:
                where = dict(server=server, field="%s.%s" % (field, key))
            if key in CONSTRUCTED_KEYS and field is None and server is None:
                raise error(
                    "'%s' is a constructed option: it needs 'plugin: %s' in the file" % (key, PLUGIN_NAME), **where
                )
            raise error("unknown key%s" % choices(key, allowed), **where)


# ---- cluster: ------------------------------------------------------------------------------------


def check_cluster(cluster, error):
    """The `cluster:` settings, {} when absent."""
    if cluster is None:
        return {}
    if not isinstance(cluster, Mapping):
        raise error(
            "must be a mapping with the keys %s, got %s" % (", ".join(CLUSTER_FIELDS), describe(cluster)),
            field="cluster",
        )
    check_keys(cluster, CLUSTER_FIELDS, error, field="cluster")
    _check_cluster_names(cluster, error)
    _check_versions(cluster, error)
    checked = dict(cluster)
    for key in NETWORK_FIELDS:
        if key in cluster:
            checked[key] = _check_networks(cluster[key], error, "cluster.%s" % key)
    return checked


def _check_cluster_names(cluster, error):
    """cluster.name and cluster.domain, which reach unit files, config comments, backup file names and FQDNs."""
    for key in ("name", "domain"):
        value = cluster.get(key)
        if key in cluster and (not isinstance(value, str) or not value):
            raise error("must be a non-empty string, got %s" % describe(value), field="cluster.%s" % key)
    if "name" in cluster and not _HOST_LABEL.fullmatch(cluster["name"]):
        raise error(
            "'%s' is not a valid cluster name: use a DNS label (1 to 63 lowercase letters, digits and '-', "
            "neither first nor last)" % cluster["name"],
            field="cluster.name",
        )
    if "domain" in cluster and not is_valid_host_name(cluster["domain"]):
        raise error("'%s' is not a valid DNS domain" % cluster["domain"], field="cluster.domain")


def _check_versions(cluster, error):
    versions = cluster.get("versions")
    if versions is None:
        versions = {}
    if not isinstance(versions, Mapping):
        raise error("must be a mapping of component to version, got %s" % describe(versions), field="cluster.versions")
    for component, version in versions.items():
        if not isinstance(version, str) or not version:
            raise error(
                'must be a version string (quote it: "%s"), got %s' % (version, describe(version)),
                field="cluster.versions.%s" % component,
            )


def _check_networks(networks, error, field):
    """A list of networks (CIDRs) or addresses, normalised to CIDRs (an address becomes a /32 or /128 network)."""
    if not isinstance(networks, list):
        raise error(
            "must be a list of networks (CIDRs such as 10.0.0.0/24) or addresses, got %s" % describe(networks),
            field=field,
        )
    checked = []
    for index, value in enumerate(networks):
        where = "%s[%d]" % (field, index)
        if not isinstance(value, str) or not value:
            raise error("must be a network (CIDR) or an address as a string, got %s" % describe(value), field=where)
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise error(
                "'%s' is not an IP network (CIDR such as 10.0.0.0/24) or address" % value, field=where
            ) from None
        if network.network_address != ipaddress.ip_interface(value).ip and "/" in value:
            raise error("'%s' has host bits set: did you mean '%s'?" % (value, network.with_prefixlen), field=where)
        if network.with_prefixlen not in checked:
            checked.append(network.with_prefixlen)
    return checked


def check_vip(vip, servers, error):
    """cluster.vip, given the checked servers: {} when absent, else its normalised address and interface (or None).

    The address must be free (no server's) and of the HAProxy servers' family: keepalived announces it from their
    addresses, and VRRP carries one family."""
    if vip is None:
        return {}
    written = vip.get("address") if isinstance(vip, Mapping) else vip
    field = "cluster.vip.address" if isinstance(vip, Mapping) else "cluster.vip"
    if isinstance(vip, Mapping):
        check_keys(vip, VIP_FIELDS, error, field="cluster.vip")
    if not isinstance(written, str) or not written:
        raise error(
            "must be an IPv4 or IPv6 address, or a mapping of 'address' and optionally 'interface', got %s"
            % describe(written),
            field=field,
        )
    try:
        address = ipaddress.ip_address(written)
    except ValueError:
        raise error("'%s' is not a valid IPv4 or IPv6 address" % written, field=field) from None
    problem = address_problem(address) or (address.is_loopback and "a loopback address, not reachable by clients")
    if problem:
        raise error("%s is %s" % (written, problem), field=field)
    owner = next((name for name, server in servers.items() if server["address"] == address), None)
    if owner is not None:
        raise error(
            "%s is the address of server '%s': the VIP must be an address of its own" % (written, owner), field=field
        )
    proxies = [name for name, server in servers.items() if "haproxy" in server["services"]]
    if not proxies:
        raise error(
            "needs HAProxy: give at least one server (two for no single point of failure) the service 'haproxy'",
            field=field,
        )
    other_family = [name for name in proxies if servers[name]["address"].version != address.version]
    if other_family:
        raise error(
            "%s is an IPv%d address, but the HAProxy server%s %s ha%s IPv%d: the VIP and the addresses of the servers "
            "that hold it must be of one family"
            % (
                written,
                address.version,
                "s" if len(other_family) > 1 else "",
                ", ".join(other_family),
                "ve" if len(other_family) > 1 else "s",
                6 if address.version == 4 else 4,
            ),
            field=field,
        )
    interface = vip.get("interface") if isinstance(vip, Mapping) else None
    if interface is not None and (not isinstance(interface, str) or not _INTERFACE.fullmatch(interface)):
        raise error(
            "must be a network interface name (1 to 15 characters, no '/', ':' or whitespace), got %s"
            % (repr(interface) if isinstance(interface, str) else describe(interface)),
            field="cluster.vip.interface",
        )
    return dict(address=str(address), interface=interface)


# ---- one server ----------------------------------------------------------------------------------


def check_server(name, server, error):
    """The server's checked settings: its address as written and normalised, region, role, services, vars."""
    _check_name(name, error)
    if not isinstance(server, Mapping):
        raise error("must be a mapping with at least 'ip' and 'region', got %s" % describe(server), server=name)
    check_keys(server, SERVER_FIELDS, error, server=name)

    address = _check_ip(name, server.get("ip"), error)
    region = _check_region(name, server.get("region"), error)
    role = _check_role(name, server.get("role"), error)
    services = _check_services(name, server.get("services"), error)
    host_vars = _check_vars(name, server.get("vars"), error)

    written = server["ip"]
    # the value as loaded keeps its tags (origin, trust); a normalised one is trusted like the rest of the file
    return dict(
        ip=written if str(address) == written else trust_as_template(str(address)),
        written=written,
        address=address,
        region=region,
        role=role,
        services=list(services),
        vars=host_vars,
    )


def check_fqdn(name, domain, error):
    """The server's name in the cluster's domain (/etc/hosts, certificates) must be a host name too."""
    if domain and not is_valid_host_name("%s.%s" % (name, domain)):
        raise error("'%s.%s', its name in cluster.domain, is longer than 253 characters" % (name, domain), server=name)


def _check_name(name, error):
    if not is_valid_host_name(name):
        raise error(
            "invalid host name: use lowercase letters, digits and '-', with dots between labels of 1 to 63 "
            "characters that neither start nor end with '-', at most 253 characters (RFC 1123)",
            server=name,
        )
    if name in GROUP_NAMES:
        raise error(
            "invalid host name: '%s' is also the name of a group of the inventory (%s)"
            % (name, ", ".join(GROUP_NAMES)),
            server=name,
        )


def _check_ip(name, ip, error):
    """The server's address, an IPv4 address for an IPv4-mapped IPv6 one; refuses what no server can have."""
    if ip is None:
        raise error("missing; every server needs its IPv4 or IPv6 address", server=name, field="ip")
    if not isinstance(ip, str):
        raise error("must be an IPv4 or IPv6 address, got %s" % describe(ip), server=name, field="ip")
    if "%" in ip:
        raise error(
            "'%s' has a zone ID ('%s'): not allowed, use an address that needs none (a global or unique local one)"
            % (ip, ip[ip.index("%") :]),
            server=name,
            field="ip",
        )
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        raise error("'%s' is not a valid IPv4 or IPv6 address" % ip, server=name, field="ip") from None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    problem = address_problem(address)
    if problem:
        raise error("%s is %s" % (ip, problem), server=name, field="ip")
    return address


def _check_region(name, region, error):
    if region is None:
        raise error("missing; every server needs a region", server=name, field="region")
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise error(
            "'%s' is not a valid region: use lowercase letters, digits, '_' and '-'" % region,
            server=name,
            field="region",
        )
    return region


def _check_role(name, role, error):
    """The server's role, 'worker' when absent."""
    if role is None:
        role = "worker"
    if role not in ROLES:
        raise error("invalid role '%s'%s" % (role, choices(role, ROLES)), server=name, field="role")
    return role


def _check_services(name, services, error):
    """The server's services, [] when absent."""
    if services is None:
        services = []
    if not isinstance(services, list):
        raise error(
            "must be a list of services (%s), got %s" % (", ".join(SERVICES), describe(services)),
            server=name,
            field="services",
        )
    for service in services:
        if service not in SERVICES:
            raise error(
                "unknown service '%s'%s" % (service, choices(service, SERVICES, "known services")),
                server=name,
                field="services",
            )
        if services.count(service) > 1:
            raise error("service '%s' is listed twice" % service, server=name, field="services")
    if "k3s_server" in services and "k3s_agent" in services:
        raise error("a server runs either k3s_server or k3s_agent, not both", server=name, field="services")
    return services


def _check_vars(name, host_vars, error):
    """The server's extra host vars: anything but what the plugin sets (connection settings are allowed)."""
    if host_vars is None:
        return {}
    if not isinstance(host_vars, Mapping):
        raise error(
            "must be a mapping of host variable to value, got %s" % describe(host_vars), server=name, field="vars"
        )
    for var in host_vars:
        if not isinstance(var, str):
            raise error("variable names must be strings, got %s" % describe(var), server=name, field="vars")
        problem = var_problem(var)
        if problem:
            raise error("'%s' %s" % (var, problem), server=name, field="vars")
    return host_vars
