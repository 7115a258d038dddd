# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Inventory from the cluster's servers.yaml, the single source of truth of the cluster."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: servers
short_description: Inventory from the cluster's servers.yaml
version_added: 0.1.0
description:
  - Builds the inventory from one YAML file that lists the cluster's servers, their region, role and services.
  - A file is used by this plugin when its name is C(servers.yaml) or C(servers.yml) and it has no C(plugin) key,
    or when it is any C(.yaml)/C(.yml) file whose C(plugin) key is V(gardenos.cluster.servers); only the second
    form also accepts the constructed options (O(compose), O(groups), O(keyed_groups) ...).
  - Every server becomes a host named as the server, with the host vars C(ansible_host) and C(gardenos_ip)
    (both its O(servers.ip); C(gardenos_ip) stays the server's address when O(compose) changes C(ansible_host)),
    C(gardenos_region), C(gardenos_role), C(gardenos_services) and everything under its O(servers.vars).
  - Groups are one per known service (V(etcd), V(k3s_server), V(k3s_agent), V(haproxy), V(patroni)), always
    created even when empty; one per region, C(region_<region>) with C(-) turned into C(_); and V(primary) with the
    servers whose role is V(primary).
  - O(cluster) becomes group vars of C(all) (C(gardenos_cluster_name), C(gardenos_cluster_domain),
    C(gardenos_versions)).
  - >-
    The file is validated as a whole before anything is added to the inventory. A mistake fails the parse with one
    message naming the file, the server and the field, for example
    C(servers.yaml: server 'ubuntu-8gb-hil-1': field 'services': unknown service 'etdc'; did you mean 'etcd'?).
  - >-
    Before Ansible reads it, the file may be at most 1 MiB, nested at most 32 levels deep (the top-level mapping
    is the first, a server's O(servers.vars) the fourth), and its YAML aliases (C(*name), and merge keys
    C(<<: *name)) may copy at most 100000 nodes in all: normal use of anchors, such as one C(vars: &common)
    block aliased by other servers, is far below that; a "billion laughs" document is refused at once. An alias
    inside the node it names is refused too.
  - An even number of etcd members, or fewer than three, is allowed but warned about.
extends_documentation_fragment:
  - ansible.builtin.constructed
options:
  plugin:
    description:
      - The name of this plugin. Optional in a file named C(servers.yaml) or C(servers.yml); required to use this
        plugin with a file of any other name, and to use the constructed options.
    type: string
    required: false
    choices: ['gardenos.cluster.servers']
  cluster:
    description:
      - Cluster-wide settings, set as variables of the group C(all).
    type: dict
    default: {}
    suboptions:
      name:
        description:
          - The cluster's name, set as C(gardenos_cluster_name). It reaches unit files, configuration comments, the
            etcd cluster token and backup file names.
          - A DNS label, for example V(gardenos-lab) - 1 to 63 lowercase letters, digits and C(-), neither first nor
            last.
        type: string
        default: gardenos
      domain:
        description:
          - The cluster's DNS domain, set as C(gardenos_cluster_domain) when given.
          - A valid RFC 1123 host name; C(<server>.<domain>) must be one too (at most 253 characters).
        type: string
      versions:
        description:
          - Versions of the cluster's components, a mapping of component name to version string
            (quote versions such as V("3.5") so YAML keeps them strings), set as C(gardenos_versions).
        type: dict
        default: {}
  servers:
    description:
      - The servers, a mapping of server name to the server's settings described below.
      - A server name is the inventory host name and must be a valid RFC 1123 host name
        (lowercase letters, digits, C(-) and dots between labels of 1 to 63 characters, at most 253 characters).
    type: dict
    required: true
    suboptions:
      ip:
        description:
          - The server's IPv4 or IPv6 address, set as C(ansible_host) and C(gardenos_ip) in its normalised form
            (V(2001:0db8:0:0::1) becomes V(2001:db8::1), the IPv4-mapped V(::ffff:192.0.2.11) becomes
            V(192.0.2.11)).
          - No two servers may share one, however written.
          - Refused are zone IDs (V(fe80::1%eth0), anything with C(%)), IPv6 link-local addresses (usable only with a
            zone ID), the unspecified addresses V(0.0.0.0) and V(::), multicast addresses and V(255.255.255.255).
            Loopback addresses are allowed, for tests that reach hosts on this machine.
        type: string
        required: true
      region:
        description:
          - The server's region, set as C(gardenos_region); the server joins the group C(region_<region>).
          - Lowercase letters, digits, C(_) and C(-).
        type: string
        required: true
      role:
        description:
          - The server's role, set as C(gardenos_role); V(primary) servers join the group V(primary).
        type: string
        choices: [primary, worker]
        default: worker
      services:
        description:
          - The services the server runs, set as C(gardenos_services); the server joins the group of each.
          - A server runs V(k3s_server) or V(k3s_agent), not both.
        type: list
        elements: string
        choices: [etcd, k3s_server, k3s_agent, haproxy, patroni]
        default: []
      vars:
        description:
          - Extra host vars for this server, for example lab or connection settings (C(ansible_user),
            C(ansible_port), C(ansible_ssh_*), C(ansible_connection), C(ansible_python_interpreter) ...) or role
            options. Any var is allowed but those the plugin sets, which are refused with an error naming the var.
          - The server's address, C(ansible_host) (and C(ansible_ssh_host), C(ansible_paramiko_host)), comes from
            O(servers.ip). To reach every server another way, use O(compose) in a file with the O(plugin) key.
          - C(gardenos_ip), C(gardenos_region), C(gardenos_role) and C(gardenos_services) come from the fields above.
          - C(gardenos_cluster_name), C(gardenos_cluster_domain), C(gardenos_versions) and any other
            C(gardenos_cluster_*) var are the cluster's, from O(cluster).
        type: dict
        default: {}
"""

EXAMPLES = r"""
---
# inventory/servers.yaml: the plain format, recognised by its file name.
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
    services: [etcd, k3s_server, patroni]
  ubuntu-8gb-ash-2:
    ip: 2001:db8::22
    region: ash
    services: [etcd, k3s_server, patroni]
    vars:
      ansible_user: admin

---
# inventory/prod.yml: any name, with the plugin key, and the constructed options.
plugin: gardenos.cluster.servers
cluster:
  name: gardenos
  domain: example.net
servers:
  ubuntu-8gb-hil-1:
    ip: 192.0.2.11
    region: hil
    role: primary
    services: [etcd, k3s_server, haproxy, patroni]
compose:
  # reach the servers by name rather than by address
  ansible_host: inventory_hostname ~ '.' ~ gardenos_cluster_domain
keyed_groups:
  - key: gardenos_role
    prefix: role
groups:
  database: "'patroni' in gardenos_services"
strict: true
"""

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping

import yaml
from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.template import trust_as_template
from ansible.utils.vars import combine_vars

SERVICES = ("etcd", "k3s_server", "k3s_agent", "haproxy", "patroni")
ROLES = ("primary", "worker")
SERVER_FIELDS = ("ip", "region", "role", "services", "vars")
CLUSTER_FIELDS = ("name", "domain", "versions")
DATA_KEYS = ("cluster", "servers")
CONSTRUCTED_KEYS = ("compose", "groups", "keyed_groups", "strict", "leading_separator", "use_extra_vars")
SEED_FILE_NAMES = ("servers.yaml", "servers.yml")
YAML_EXTENSIONS = (".yaml", ".yml")
# groups every inventory has, which no host may be named as (region groups contain '_': never a host name)
GROUP_NAMES = ("all", "ungrouped", *SERVICES, "primary")
# host vars the plugin derives from a server's fields, which its `vars:` may not override
DERIVED_VARS = ("gardenos_ip", "gardenos_region", "gardenos_role", "gardenos_services")
# host vars that are the server's address to Ansible (ansible_host; the ssh and paramiko transports also read
# their own names for it), set from its `ip`: a server's `vars:` may not override them (`compose:` may)
ADDRESS_VARS = ("ansible_host", "ansible_ssh_host", "ansible_paramiko_host")
# vars of the group `all` set from `cluster:`, which a server's `vars:` may not override, and their fields
CLUSTER_VARS = {
    "gardenos_cluster_name": "cluster.name",
    "gardenos_cluster_domain": "cluster.domain",
    "gardenos_versions": "cluster.versions",
}

# Bounds on the file, checked before Ansible reads it: a servers.yaml is a few KB. Ansible copies every variable
# value as a tree, so a few lines of nested YAML aliases ("billion laughs") would otherwise run it for minutes.
MAX_FILE_BYTES = 1024 * 1024
# nodes that YAML aliases may add to the document once expanded (200 servers sharing a vars block of 100 entries
# through an alias add 40000)
MAX_ALIAS_NODES = 100000
# levels of nesting, the file's top-level mapping being the first and a server's `vars:` mapping the fourth
MAX_DEPTH = 32

_HOST_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_REGION = re.compile(r"[a-z0-9_-]+")
_BROADCAST = ipaddress.ip_address("255.255.255.255")
# the value of a top-level `plugin:` line, to tell whether a file too big to be parsed names this plugin
_PLUGIN_LINE = re.compile(rb"""^plugin:[ \t]*(["']?)([A-Za-z0-9_.]+)\1[ \t]*(?:#.*)?$""", re.MULTILINE)


def is_valid_host_name(name):
    """True for an RFC 1123 host name: dot-separated labels of [a-z0-9-], 1-63 characters, no edge '-'."""
    if not isinstance(name, str) or not name or len(name) > 253:
        return False
    return all(_HOST_LABEL.fullmatch(label) for label in name.split("."))


def _var_problem(var):
    """Why a server's `vars:` may not set this host var, or None."""
    if var in DERIVED_VARS:
        return "is set from the server's '%s' field; set that instead" % var[len("gardenos_") :]
    if var in ADDRESS_VARS:
        return (
            "would override the server's address, its 'ip': set 'ip' (or, for every server, use 'compose:' in a file "
            "with 'plugin: gardenos.cluster.servers')"
        )
    if var in CLUSTER_VARS:
        return "is set for every server from '%s'; a server may not have its own" % CLUSTER_VARS[var]
    if var.startswith("gardenos_cluster_"):
        return "is a cluster variable (gardenos_cluster_*), set from 'cluster:'; a server may not have its own"
    return None


def _address_problem(address):
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


def _describe(value):
    """A YAML-ish name for the type of a value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    return "a %s" % type(value).__name__


def _choices(value, choices, label="allowed"):
    """The end of an 'unknown/invalid' message: the closest choice as a suggestion if any, then all the choices."""
    close = difflib.get_close_matches(value, choices, n=1) if isinstance(value, str) else []
    listed = "(%s: %s)" % (label, ", ".join(choices))
    return "; did you mean '%s'? %s" % (close[0], listed) if close else " " + listed


def _node_name(node):
    """How a mapping key node is shown in messages."""
    return node.value if isinstance(node, yaml.ScalarNode) else "<%s>" % node.tag.rsplit(":", 1)[-1]


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "gardenos.cluster.servers"

    # ---- which files are ours ----------------------------------------------------------------

    def _plugin_names(self):
        return getattr(self, "_redirected_names", None) or [self.NAME]

    @staticmethod
    def _top_level_plugin_key(path):
        """The scalar value of the file's top-level `plugin:` key; None when absent; raises when unreadable.

        A file too big to be used is not parsed: its `plugin:` line is looked for instead (parse() refuses it).
        """
        with open(path, "rb") as f:
            text = f.read(MAX_FILE_BYTES + 1)
        if len(text) > MAX_FILE_BYTES:
            match = _PLUGIN_LINE.search(text)
            return match.group(2).decode("ascii") if match else None
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == "plugin":
                    return value_node.value if isinstance(value_node, yaml.ScalarNode) else ""
        return None

    def verify_file(self, path):
        """Claim servers.yaml/servers.yml without a `plugin:` key, and .yaml/.yml files naming this plugin."""
        if not super().verify_file(path):
            return False
        base = os.path.basename(path)
        if base in SEED_FILE_NAMES:
            try:
                plugin = self._top_level_plugin_key(path)
            except Exception:
                # unreadable or broken YAML: it is still our file by name; parse() reports the problem
                return True
            if plugin is None or plugin in self._plugin_names():
                return True
            self.display.vvv("%s names the inventory plugin %r, not %s" % (path, plugin, self.NAME))
            return False
        if base.endswith(YAML_EXTENSIONS):
            try:
                plugin = self._top_level_plugin_key(path)
            except Exception:
                return False
            if plugin in self._plugin_names():
                return True
        self.display.vvv("%s is neither servers.yaml/servers.yml nor a file with 'plugin: %s'" % (path, self.NAME))
        return False

    # ---- reading and checking ----------------------------------------------------------------

    def _error(self, msg, server=None, field=None):
        """The parse error: '<path>: server '<name>': field '<field>': <msg>', server and field when known."""
        prefix = [to_native(self._path)]
        if server is not None:
            prefix.append("server '%s'" % server)
        if field is not None:
            prefix.append("field '%s'" % field)
        return AnsibleParserError("%s: %s" % (": ".join(prefix), msg))

    def _check_yaml(self, text):
        """Syntax errors with their line and column, emptiness, duplicate keys, and what aliases expand to.

        All from the YAML node tree, where an alias is the node it names (not a copy), before Ansible loads the file.
        """
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except RecursionError:
            raise self._error("the YAML is nested too deeply to be read (at most %d levels)" % MAX_DEPTH) from None
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark else ""
            what = ": ".join(part for part in (e.context, e.problem) if part)
            raise self._error("YAML syntax error%s: %s" % (where, what)) from None
        except yaml.YAMLError as e:
            raise self._error("YAML error: %s" % to_native(e)) from None
        if root is None:
            raise self._error("the file is empty; it needs a 'servers:' mapping")
        if not isinstance(root, yaml.MappingNode):
            raise self._error(
                "the top level must be a mapping with the keys 'servers' and optionally 'cluster', got %s"
                % ("a list" if isinstance(root, yaml.SequenceNode) else "a scalar")
            )
        self._check_duplicate_keys(root, (), set())
        self._check_expansion(root, (), 1, dict(shapes={}, open=set(), added=0))

    def _check_expansion(self, node, keys, depth, state):
        """The node's (nodes, height) once YAML aliases are expanded, the nodes capped at MAX_ALIAS_NODES + 1.

        Each node is walked once: reaching it again is an alias (or a merge key) copying it, which adds its nodes
        to state['added']. Refuses more than MAX_ALIAS_NODES added nodes, nesting deeper than MAX_DEPTH (aliases
        included), and an alias inside the node it names.
        """
        if depth > MAX_DEPTH:  # before going deeper: the walk's own recursion stays short
            raise self._error("nested more than %d levels deep" % MAX_DEPTH, **self._where(keys))
        ident = id(node)
        if ident in state["open"]:
            raise self._error(
                "a YAML alias refers to the node on line %d, which contains it: recursive structures are not allowed"
                % (node.start_mark.line + 1),
                **self._where(keys),
            )
        shape = state["shapes"].get(ident)
        if shape is None:
            shape = self._expand_children(node, keys, depth, state)
            state["shapes"][ident] = shape
        else:
            state["added"] += shape[0]
            if state["added"] > MAX_ALIAS_NODES:
                raise self._error(
                    "YAML aliases copy more than %d nodes (here an alias of the node on line %d); repeat less "
                    "through anchors and aliases" % (MAX_ALIAS_NODES, node.start_mark.line + 1),
                    **self._where(keys),
                )
        if depth + shape[1] - 1 > MAX_DEPTH:
            raise self._error("nested more than %d levels deep" % MAX_DEPTH, **self._where(keys))
        return shape

    def _expand_children(self, node, keys, depth, state):
        """(nodes, height) of a node reached for the first time, from its children's."""
        if isinstance(node, yaml.SequenceNode):
            children = [(item, keys) for item in node.value]
        elif isinstance(node, yaml.MappingNode):
            children = []
            for key_node, value_node in node.value:
                children += [(key_node, keys), (value_node, (*keys, _node_name(key_node)))]
        else:
            return 1, 1
        state["open"].add(id(node))
        nodes, height = 1, 1
        for child, child_keys in children:
            child_nodes, child_height = self._check_expansion(child, child_keys, depth + 1, state)
            nodes, height = min(nodes + child_nodes, MAX_ALIAS_NODES + 1), max(height, child_height + 1)
        state["open"].discard(id(node))
        return nodes, height

    def _check_duplicate_keys(self, node, keys, visited):
        """A YAML mapping keeps the last of duplicate keys silently: refuse them, naming both lines."""
        if id(node) in visited:  # an alias of a node already checked
            return
        visited.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                self._check_duplicate_keys(item, keys, visited)
            return
        if not isinstance(node, yaml.MappingNode):
            return
        seen = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                ident = (key_node.tag, key_node.value)
                if ident in seen:
                    self._raise_duplicate(keys, key_node.value, seen[ident], key_node.start_mark.line + 1)
                seen[ident] = key_node.start_mark.line + 1
            self._check_duplicate_keys(value_node, (*keys, _node_name(key_node)), visited)

    @staticmethod
    def _where(keys):
        """The server and field of a place in the file, from the mapping keys that lead to it."""
        if len(keys) >= 2 and keys[0] == "servers":
            return dict(server=keys[1], field=".".join(keys[2:]) or None)
        return dict(field=".".join(keys) or None)

    def _raise_duplicate(self, keys, key, first, second):
        lines = "on lines %d and %d; YAML would silently keep only the last" % (first, second)
        if keys == ("servers",):
            raise self._error("the server is defined twice, %s" % lines, server=key)
        raise self._error("duplicate key %s" % lines, **self._where((*keys, key)))

    def _check_size(self, size):
        if size > MAX_FILE_BYTES:
            raise self._error(
                "the file is %d bytes, more than the %d (1 MiB) a servers.yaml may have" % (size, MAX_FILE_BYTES)
            )

    def _load(self, path):
        """The file's data, checked for YAML problems first, loaded by Ansible (vault, trust for templates)."""
        try:
            self._check_size(os.path.getsize(path))
            text = self.loader.get_text_file_contents(path)
        except AnsibleParserError:
            raise
        except Exception as e:
            raise self._error("cannot read the file: %s" % to_native(e)) from e
        self._check_size(len(text.encode("utf-8", "surrogateescape")))  # once decrypted, when vaulted
        self._check_yaml(text)
        try:
            return self.loader.load_from_file(path, cache="none", trusted_as_template=True)
        except Exception as e:
            raise self._error("cannot load the file: %s" % to_native(e)) from e

    def _check_keys(self, data, allowed, server=None, field=None):
        for key in data:
            if key not in allowed:
                if field is None:
                    where = dict(server=server, field=key)
                else:
                    where = dict(server=server, field="%s.%s" % (field, key))
                if key in CONSTRUCTED_KEYS and field is None and server is None:
                    raise self._error(
                        "'%s' is a constructed option: it needs 'plugin: %s' in the file" % (key, self.NAME), **where
                    )
                raise self._error("unknown key%s" % _choices(key, allowed), **where)

    def _check_cluster(self, cluster):
        if cluster is None:
            return {}
        if not isinstance(cluster, Mapping):
            raise self._error(
                "must be a mapping with the keys %s, got %s" % (", ".join(CLUSTER_FIELDS), _describe(cluster)),
                field="cluster",
            )
        self._check_keys(cluster, CLUSTER_FIELDS, field="cluster")
        self._check_cluster_names(cluster)
        self._check_versions(cluster)
        return cluster

    def _check_cluster_names(self, cluster):
        """cluster.name and cluster.domain, which reach unit files, config comments, backup file names and FQDNs."""
        for key in ("name", "domain"):
            value = cluster.get(key)
            if key in cluster and (not isinstance(value, str) or not value):
                raise self._error("must be a non-empty string, got %s" % _describe(value), field="cluster.%s" % key)
        if "name" in cluster and not _HOST_LABEL.fullmatch(cluster["name"]):
            raise self._error(
                "'%s' is not a valid cluster name: use a DNS label (1 to 63 lowercase letters, digits and '-', "
                "neither first nor last)" % cluster["name"],
                field="cluster.name",
            )
        if "domain" in cluster and not is_valid_host_name(cluster["domain"]):
            raise self._error("'%s' is not a valid DNS domain" % cluster["domain"], field="cluster.domain")

    def _check_versions(self, cluster):
        versions = cluster.get("versions")
        if versions is None:
            versions = {}
        if not isinstance(versions, Mapping):
            raise self._error(
                "must be a mapping of component to version, got %s" % _describe(versions), field="cluster.versions"
            )
        for component, version in versions.items():
            if not isinstance(version, str) or not version:
                raise self._error(
                    'must be a version string (quote it: "%s"), got %s' % (version, _describe(version)),
                    field="cluster.versions.%s" % component,
                )

    def _check_server(self, name, server):
        if not is_valid_host_name(name):
            raise self._error(
                "invalid host name: use lowercase letters, digits and '-', with dots between labels of 1 to 63 "
                "characters that neither start nor end with '-', at most 253 characters (RFC 1123)",
                server=name,
            )
        if name in GROUP_NAMES:
            raise self._error(
                "invalid host name: '%s' is also the name of a group of the inventory (%s)"
                % (name, ", ".join(GROUP_NAMES)),
                server=name,
            )
        if not isinstance(server, Mapping):
            raise self._error(
                "must be a mapping with at least 'ip' and 'region', got %s" % _describe(server), server=name
            )
        self._check_keys(server, SERVER_FIELDS, server=name)

        address = self._check_ip(name, server.get("ip"))

        region = server.get("region")
        if region is None:
            raise self._error("missing; every server needs a region", server=name, field="region")
        if not isinstance(region, str) or not _REGION.fullmatch(region):
            raise self._error(
                "'%s' is not a valid region: use lowercase letters, digits, '_' and '-'" % region,
                server=name,
                field="region",
            )

        role = server.get("role")
        if role is None:
            role = "worker"
        if role not in ROLES:
            raise self._error(
                "invalid role '%s'%s" % (role, _choices(role, ROLES)),
                server=name,
                field="role",
            )

        services = server.get("services")
        if services is None:
            services = []
        if not isinstance(services, list):
            raise self._error(
                "must be a list of services (%s), got %s" % (", ".join(SERVICES), _describe(services)),
                server=name,
                field="services",
            )
        for service in services:
            if service not in SERVICES:
                raise self._error(
                    "unknown service '%s'%s" % (service, _choices(service, SERVICES, "known services")),
                    server=name,
                    field="services",
                )
            if services.count(service) > 1:
                raise self._error("service '%s' is listed twice" % service, server=name, field="services")
        if "k3s_server" in services and "k3s_agent" in services:
            raise self._error("a server runs either k3s_server or k3s_agent, not both", server=name, field="services")

        host_vars = self._check_vars(name, server.get("vars"))

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

    def _check_vars(self, name, host_vars):
        """The server's extra host vars: anything but what the plugin sets (connection settings are allowed)."""
        if host_vars is None:
            return {}
        if not isinstance(host_vars, Mapping):
            raise self._error(
                "must be a mapping of host variable to value, got %s" % _describe(host_vars), server=name, field="vars"
            )
        for var in host_vars:
            if not isinstance(var, str):
                raise self._error("variable names must be strings, got %s" % _describe(var), server=name, field="vars")
            problem = _var_problem(var)
            if problem:
                raise self._error("'%s' %s" % (var, problem), server=name, field="vars")
        return host_vars

    def _check_ip(self, name, ip):
        """The server's address, an IPv4 address for an IPv4-mapped IPv6 one; refuses what no server can have."""
        if ip is None:
            raise self._error("missing; every server needs its IPv4 or IPv6 address", server=name, field="ip")
        if not isinstance(ip, str):
            raise self._error("must be an IPv4 or IPv6 address, got %s" % _describe(ip), server=name, field="ip")
        if "%" in ip:
            raise self._error(
                "'%s' has a zone ID ('%s'): not allowed, use an address that needs none (a global or unique local one)"
                % (ip, ip[ip.index("%") :]),
                server=name,
                field="ip",
            )
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            raise self._error("'%s' is not a valid IPv4 or IPv6 address" % ip, server=name, field="ip") from None
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        problem = _address_problem(address)
        if problem:
            raise self._error("%s is %s" % (ip, problem), server=name, field="ip")
        return address

    def _check(self, data, plugin_form):
        """The validated cluster settings and servers, or one AnsibleParserError for the first problem."""
        if not isinstance(data, Mapping):
            raise self._error(
                "the top level must be a mapping with the keys 'servers' and optionally 'cluster', got %s"
                % _describe(data)
            )
        allowed = DATA_KEYS + (("plugin", *CONSTRUCTED_KEYS) if plugin_form else ())
        self._check_keys(data, allowed)
        cluster = self._check_cluster(data.get("cluster"))

        servers = data.get("servers")
        if servers is None:
            raise self._error(
                "missing; the file needs a 'servers:' mapping of server name to settings", field="servers"
            )
        if not isinstance(servers, Mapping):
            raise self._error(
                "must be a mapping of server name to settings, got %s" % _describe(servers), field="servers"
            )
        if not servers:
            raise self._error("is empty; list at least one server", field="servers")

        checked = {}
        owners = {}
        for name, server in servers.items():
            entry = self._check_server(name, server)
            owner = owners.get(entry["address"])
            if owner is not None:
                # the same address, maybe written differently (2001:db8::1 / 2001:0db8:0:0::1, ::ffff:192.0.2.1)
                written = checked[owner]["written"]
                raise self._error(
                    "%s is already the address of server '%s'%s"
                    % (entry["written"], owner, "" if written == entry["written"] else ", written there as " + written),
                    server=name,
                    field="ip",
                )
            owners[entry["address"]] = name
            checked[name] = entry
            self._check_fqdn(name, cluster.get("domain"))
        return cluster, checked

    def _check_fqdn(self, name, domain):
        """The server's name in the cluster's domain (/etc/hosts, certificates) must be a host name too."""
        if domain and not is_valid_host_name("%s.%s" % (name, domain)):
            raise self._error(
                "'%s.%s', its name in cluster.domain, is longer than 253 characters" % (name, domain), server=name
            )

    def _warn_about_etcd(self, servers):
        members = [name for name, server in servers.items() if "etcd" in server["services"]]
        count = len(members)
        if not count:
            return
        if count < 3:
            self.display.warning(
                "%s: etcd has %d member%s (%s); with fewer than 3 the cluster does not survive the loss of one"
                % (self._path, count, "" if count == 1 else "s", ", ".join(members))
            )
        if count % 2 == 0:
            self.display.warning(
                "%s: etcd has an even number of members (%d); it tolerates no more failures than %d members, "
                "use an odd number" % (self._path, count, count - 1)
            )

    # ---- building the inventory --------------------------------------------------------------

    def _populate(self, cluster, servers):
        for group in (*SERVICES, "primary"):
            self.inventory.add_group(group)

        self.inventory.set_variable("all", "gardenos_cluster_name", cluster.get("name") or "gardenos")
        if cluster.get("domain"):
            self.inventory.set_variable("all", "gardenos_cluster_domain", cluster["domain"])
        self.inventory.set_variable("all", "gardenos_versions", dict(cluster.get("versions") or {}))

        for name, server in servers.items():
            host = self.inventory.add_host(name)
            self.inventory.set_variable(host, "ansible_host", server["ip"])
            self.inventory.set_variable(host, "gardenos_ip", server["ip"])
            self.inventory.set_variable(host, "gardenos_region", server["region"])
            self.inventory.set_variable(host, "gardenos_role", server["role"])
            self.inventory.set_variable(host, "gardenos_services", list(server["services"]))
            for var, value in server["vars"].items():
                self.inventory.set_variable(host, var, value)

            region_group = self.inventory.add_group("region_%s" % server["region"].replace("-", "_"))
            self.inventory.add_child(region_group, host)
            for service in server["services"]:
                self.inventory.add_child(service, host)
            if server["role"] == "primary":
                self.inventory.add_child("primary", host)

        strict = self.get_option("strict")
        all_vars = self.inventory.groups["all"].get_vars()
        for name in servers:
            host = self.inventory.get_host(name)
            self._set_composite_vars(
                self.get_option("compose"), combine_vars(all_vars, host.get_vars()), name, strict=strict
            )
            # refetch: groups and keyed groups may use the composed vars
            variables = combine_vars(all_vars, host.get_vars())
            self._add_host_to_composed_groups(
                self.get_option("groups"), variables, name, strict=strict, fetch_hostvars=False
            )
            self._add_host_to_keyed_groups(
                self.get_option("keyed_groups"), variables, name, strict=strict, fetch_hostvars=False
            )

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        self._path = path

        data = self._load(path)
        # _read_config_data would refuse a file without `plugin:`: the plain format is read here instead
        plugin_form = isinstance(data, Mapping) and "plugin" in data
        if plugin_form and data["plugin"] not in self._plugin_names():
            raise self._error("'%s' is not this plugin (%s)" % (data["plugin"], self.NAME), field="plugin")
        cluster, servers = self._check(data, plugin_form)
        self._warn_about_etcd(servers)

        # the constructed options (and the data, documented as options); a null `key:` means the default
        self.set_options(direct=dict((k, v) for k, v in data.items() if v is not None), var_options=self._vars)
        self._populate(cluster, servers)
