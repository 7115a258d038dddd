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
      client_networks:
        description:
          - The networks besides the cluster's own that may use its services (PostgreSQL through HAProxy, the K3s
            API), as CIDRs or single addresses, set as C(gardenos_cluster_client_networks) (normalised CIDRs).
          - The cluster's own servers and K3s's pod network may always (the wiring role's
            C(wiring_client_networks) adds them). HAProxy refuses a connection from anywhere else, and the hosts'
            firewall drops it.
          - A network with host bits set (V(10.0.0.5/24)) is refused.
        type: list
        elements: string
      admin_networks:
        description:
          - The networks of the cluster's administrators, as CIDRs or single addresses, set as
            C(gardenos_cluster_admin_networks).
          - Only from these may PostgreSQL's superuser log in through HAProxy, HAProxy's stats page be read and
            etcd and Patroni's REST API be reached from outside the cluster. They may use the cluster's services
            too.
          - When absent, none; the superuser then logs in on the PostgreSQL hosts only.
        type: list
        elements: string
      vip:
        description:
          - The cluster's virtual IP address, the one address of its front door (PostgreSQL, the K3s API), set as
            C(gardenos_cluster_vip). keepalived holds it on one HAProxy server at a time and moves it to another
            within seconds when that server or its HAProxy fails (README "No single point of failure").
          - An IPv4 or IPv6 address of the HAProxy servers' family that no server has, or a mapping with
            C(address) and C(interface), the network interface to hold it on (set as
            C(gardenos_cluster_vip_interface); default the interface of the server's own address).
          - Needs at least one server with the service V(haproxy); two or more for no single point of failure.
          - When absent, clients use the HAProxy servers' own addresses.
        type: raw
      backup:
        description:
          - Where PostgreSQL's backups and archived WAL go besides the repository of the server with the service
            V(backup) (README "Backups").
        type: dict
        suboptions:
          s3:
            description:
              - An S3-compatible object store, set as C(gardenos_cluster_backup_s3) with its defaults filled in and
                C(endpoint) parsed into C(url), C(host) and C(port). Its access key and secret key are the
                cluster's secrets, never in this file.
            type: dict
            suboptions:
              endpoint:
                description:
                  - The object store's https URL, host and optionally port only (V(https://s3.example.com:9000)).
                type: string
                required: true
              bucket:
                description: The bucket (3 to 63 lowercase letters, digits, C(.) and C(-)).
                type: string
                required: true
              region:
                description: The bucket's region.
                type: string
                default: us-east-1
              uri_style:
                description:
                  - V(path) (V(https://endpoint/bucket), SeaweedFS, MinIO) or V(host) (V(https://bucket.endpoint), AWS).
                type: string
                choices: [path, host]
                default: path
              tls_ca:
                description:
                  - What the endpoint's certificate is checked against, the system's CAs or the cluster's own CA (an
                    object store the cluster's PKI issued its certificate).
                type: string
                choices: [system, cluster]
                default: system
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
          - V(backup) (pgBackRest's repository of PostgreSQL's backups) is for one server at most, and needs servers
            with V(patroni).
        type: list
        elements: string
        choices: [etcd, k3s_server, k3s_agent, haproxy, patroni, backup]
        default: []
      vars:
        description:
          - Extra host vars for this server, for example lab or connection settings (C(ansible_user),
            C(ansible_port), C(ansible_ssh_*), C(ansible_python_interpreter) ...) or role options. Any var is allowed
            but those below, which are refused with an error naming the server and the var.
          - The server's address, C(ansible_host) (and C(ansible_ssh_host), C(ansible_paramiko_host)), comes from
            O(servers.ip). To reach every server another way, use O(compose) in a file with the O(plugin) key.
          - C(ansible_connection) is not a server's own either. Set it for every server with O(compose), or for one
            server in C(host_vars/<server>.yml) beside the file.
          - C(wiring_*) variables (the wiring role's ports and controller directories) are the cluster's, set in
            C(group_vars/all).
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
  # Applications in this network use PostgreSQL through HAProxy; the operators' VPN may log in as the superuser.
  client_networks: [203.0.113.0/24]
  admin_networks: [198.51.100.0/28]
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
# No single point of failure: two HAProxy servers on one network share the VIP, which clients use.
cluster:
  name: gardenos
  vip: 192.0.2.10
servers:
  node-1: {ip: 192.0.2.11, region: hil, role: primary, services: [etcd, haproxy, patroni]}
  node-2: {ip: 192.0.2.12, region: hil, services: [etcd, haproxy, patroni]}
  node-3: {ip: 192.0.2.13, region: hil, services: [etcd, patroni]}

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

import os
from collections.abc import Mapping

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.utils.vars import combine_vars
from ansible_collections.gardenos.cluster.plugins.plugin_utils.servers_backup import check_backup
from ansible_collections.gardenos.cluster.plugins.plugin_utils.servers_fields import (
    CONSTRUCTED_KEYS,
    DATA_KEYS,
    NETWORK_FIELDS,
    PLUGIN_NAME,
    SERVICES,
    check_cluster,
    check_fqdn,
    check_keys,
    check_server,
    check_vip,
    describe,
)
from ansible_collections.gardenos.cluster.plugins.plugin_utils.servers_yaml import (
    check_size,
    check_yaml,
    top_level_plugin_key,
)

SEED_FILE_NAMES = ("servers.yaml", "servers.yml")
YAML_EXTENSIONS = (".yaml", ".yml")


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = PLUGIN_NAME

    # ---- which files are ours ----------------------------------------------------------------

    def _plugin_names(self):
        return getattr(self, "_redirected_names", None) or [self.NAME]

    def verify_file(self, path):
        """Claim servers.yaml/servers.yml without a `plugin:` key, and .yaml/.yml files naming this plugin."""
        if not super().verify_file(path):
            return False
        base = os.path.basename(path)
        if base in SEED_FILE_NAMES:
            return self._verify_seed_file(path)
        if base.endswith(YAML_EXTENSIONS):
            try:
                plugin = top_level_plugin_key(path)
            except Exception:
                return False
            if plugin in self._plugin_names():
                return True
        self.display.vvv("%s is neither servers.yaml/servers.yml nor a file with 'plugin: %s'" % (path, self.NAME))
        return False

    def _verify_seed_file(self, path):
        """A servers.yaml/servers.yml is ours unless its `plugin:` key names another plugin."""
        try:
            plugin = top_level_plugin_key(path)
        except Exception:
            # unreadable or broken YAML: it is still our file by name; parse() reports the problem
            return True
        if plugin is None or plugin in self._plugin_names():
            return True
        self.display.vvv("%s names the inventory plugin %r, not %s" % (path, plugin, self.NAME))
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

    def _load(self, path):
        """The file's data, checked for YAML problems first, loaded by Ansible (vault, trust for templates)."""
        try:
            check_size(os.path.getsize(path), self._error)
            text = self.loader.get_text_file_contents(path)
        except AnsibleParserError:
            raise
        except Exception as e:
            raise self._error("cannot read the file: %s" % to_native(e)) from e
        check_size(len(text.encode("utf-8", "surrogateescape")), self._error)  # once decrypted, when vaulted
        check_yaml(text, self._error)
        try:
            return self.loader.load_from_file(path, cache="none", trusted_as_template=True)
        except Exception as e:
            raise self._error("cannot load the file: %s" % to_native(e)) from e

    def _check(self, data, plugin_form):
        """The validated cluster settings and servers, or one AnsibleParserError for the first problem."""
        if not isinstance(data, Mapping):
            raise self._error(
                "the top level must be a mapping with the keys 'servers' and optionally 'cluster', got %s"
                % describe(data)
            )
        allowed = DATA_KEYS + (("plugin", *CONSTRUCTED_KEYS) if plugin_form else ())
        check_keys(data, allowed, self._error)
        cluster = check_cluster(data.get("cluster"), self._error)

        servers = data.get("servers")
        if servers is None:
            raise self._error(
                "missing; the file needs a 'servers:' mapping of server name to settings", field="servers"
            )
        if not isinstance(servers, Mapping):
            raise self._error(
                "must be a mapping of server name to settings, got %s" % describe(servers), field="servers"
            )
        if not servers:
            raise self._error("is empty; list at least one server", field="servers")

        checked = {}
        owners = {}
        for name, server in servers.items():
            entry = check_server(name, server, self._error)
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
            check_fqdn(name, cluster.get("domain"), self._error)
        cluster["vip"] = check_vip(cluster.get("vip"), checked, self._error)
        cluster["backup"] = check_backup(cluster.get("backup"), checked, self._error)
        return cluster, checked

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

    def _set_cluster_vars(self, cluster):
        """The group vars of `all` from `cluster:`."""
        self.inventory.set_variable("all", "gardenos_cluster_name", cluster.get("name") or "gardenos")
        if cluster.get("domain"):
            self.inventory.set_variable("all", "gardenos_cluster_domain", cluster["domain"])
        self.inventory.set_variable("all", "gardenos_versions", dict(cluster.get("versions") or {}))
        # Absent, the wiring role's defaults apply (the cluster's own addresses and K3s's pod network; no admins).
        for key in NETWORK_FIELDS:
            if key in cluster:
                self.inventory.set_variable("all", "gardenos_cluster_%s" % key, list(cluster[key]))
        # Absent, the cluster has no VIP: clients use the HAProxy servers' own addresses.
        if cluster["vip"]:
            self.inventory.set_variable("all", "gardenos_cluster_vip", cluster["vip"]["address"])
            if cluster["vip"]["interface"]:
                self.inventory.set_variable("all", "gardenos_cluster_vip_interface", cluster["vip"]["interface"])
        # Absent, backups go to the backup server's repository only, or nowhere without one.
        if (cluster["backup"] or {}).get("s3"):
            self.inventory.set_variable("all", "gardenos_cluster_backup_s3", cluster["backup"]["s3"])

    def _populate(self, cluster, servers):
        for group in (*SERVICES, "primary"):
            self.inventory.add_group(group)

        self._set_cluster_vars(cluster)

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
