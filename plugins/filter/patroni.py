# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one Patroni definition of gardenos.cluster.

Both the ``patroni`` role (Patroni on hosts) and the ``spilo`` role (Patroni in pods) build
their Patroni configuration with these filters, from the same cluster settings, so the two
cannot drift apart. Passwords never enter the configuration file: Patroni reads them from its
environment (``PATRONI_SUPERUSER_PASSWORD`` ...), which ``patroni_environment`` returns, so the
configuration can be shown in ``--diff`` output and logs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import ipaddress

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence
from ansible_collections.gardenos.cluster.plugins.module_utils import host_port as builder
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError

# The users Patroni needs, by their key in the settings and in Patroni's configuration.
USERS = ("superuser", "replication", "rewind")

# Settings every cluster gets unless the caller says otherwise. Values are Patroni's own names.
# Timing (README "Failover time"): a lost leader's key expires ttl seconds after its last renewal,
# at most loop_wait before the loss; Patroni needs loop_wait + 2 x retry_timeout <= ttl, and a leader
# that cannot renew its key within retry_timeout (less 1 s) demotes itself: 7 is the most that allows. The
# failsafe mode keeps the primary through an etcd outage while every member still answers it over
# the REST API. Synchronous replication (non-strict: with no synchronous standby left the primary
# goes on alone) means a failover loses no acknowledged commit.
DEFAULT_DCS = {
    "ttl": 20,
    "loop_wait": 5,
    "retry_timeout": 7,
    "maximum_lag_on_failover": 1048576,
    "failsafe_mode": True,
    "synchronous_mode": True,
    "synchronous_mode_strict": False,
    "postgresql": {
        "use_pg_rewind": True,
        "use_slots": True,
        "parameters": {
            "wal_level": "replica",
            "hot_standby": "on",
            "wal_log_hints": "on",
            "max_wal_senders": 10,
            "max_replication_slots": 10,
            "wal_keep_size": "256MB",
            "password_encryption": "scram-sha-256",
        },
    },
}
DEFAULT_INITDB = [{"encoding": "UTF8"}, "data-checksums"]


def _merge(base, override):
    """A deep merge of two mappings; ``override`` wins, mappings are merged key by key."""
    result = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _require(settings, path):
    """settings[a][b]... or an AnsibleFilterError naming the missing setting."""
    value = settings
    for part in path.split("."):
        if not isinstance(value, dict) or value.get(part) in (None, "", []):
            raise AnsibleFilterError("patroni_config: the Patroni settings have no %s" % path)
        value = value[part]
    return value


def _pg_hba(settings):
    """Patroni's pg_hba lines: local admin, replication and clients from the listed addresses only.

    The superuser connects over the socket as the postgres OS user (peer); every network
    connection needs a SCRAM password. Replication and rewind are allowed from the cluster's
    members only, applications from ``client_addresses`` (HAProxy forwards from its own address).
    A replica's Patroni reads its own timeline over a replication connection to 127.0.0.1 (its
    REST API's ``timeline``, the failover's healthiest-member choice, pg_rewind's check).

    With ``superuser_local_only`` the superuser logs in on the member itself only (the socket, and
    127.0.0.1, where the admin relay that HAProxy sends the admin networks to arrives): it is refused
    from every other address, the members' and HAProxy's included, since HAProxy forwards every
    client from its own address.
    """
    users = settings["users"]
    lines = [
        "local all %s peer" % users["superuser"]["username"],
        "local all all scram-sha-256",
        "host all all 127.0.0.1/32 scram-sha-256",
        "host replication %s 127.0.0.1/32 scram-sha-256" % users["replication"]["username"],
    ]
    local_only = bool(settings.get("superuser_local_only"))
    for address in settings.get("member_addresses") or []:
        cidr = _cidr(address)
        lines.append("host replication %s %s scram-sha-256" % (users["replication"]["username"], cidr))
        lines.append("host all %s %s scram-sha-256" % (users["rewind"]["username"], cidr))
        if not local_only:
            lines.append("host all %s %s scram-sha-256" % (users["superuser"]["username"], cidr))
    if local_only:
        lines.append("host all %s all reject" % users["superuser"]["username"])
    for address in settings.get("client_addresses") or []:
        lines.append("host all all %s scram-sha-256" % _cidr(address))
    lines.extend(settings.get("pg_hba_extra") or [])
    # The same address may be a member and a client: keep the first of each line.
    unique = []
    for line in lines:
        if line not in unique:
            unique.append(line)
    return unique


def _cidr(address):
    """A pg_hba address: one IP as a /32 (IPv4) or /128 (IPv6) network; a network or a host name as given."""
    address = builder.bare_host(address)
    try:
        return ipaddress.ip_network(address).with_prefixlen
    except ValueError:
        return address


def _address(build, hosts, port):
    """``build(hosts, port)`` of the one host:port builder, its error as a filter error."""
    try:
        return build(hosts, port)
    except GardenosClusterError as exc:
        raise AnsibleFilterError("patroni_config: %s" % exc) from exc


def _api_tls(member):
    """The REST API's HTTPS settings of ``member['api_tls']`` ({} for plain HTTP): members check each
    other's certificate against cafile (Patroni's request pool reads restapi.cafile); no client
    certificate is asked for."""
    api_tls = member.get("api_tls") or {}
    for key in ("certfile", "keyfile", "cafile") if api_tls else ():
        if not api_tls.get(key):
            raise AnsibleFilterError("patroni_config: the member's api_tls has no %s" % key)
    return {key: api_tls[key] for key in ("certfile", "keyfile", "cafile") if api_tls}


def patroni_config(settings, member=None):
    """The Patroni configuration (a dict, to be written as YAML) for one member, or the
    cluster-wide part of it when ``member`` is omitted (for Spilo, which names its members).

    ``settings`` (cluster-wide):
      scope, namespace, etcd: {hosts: [host:port], protocol, cacert, cert, key, username},
      users: {superuser|replication|rewind: {username}}, restapi: {username, port},
      postgresql: {port, parameters}, dcs: {...Patroni bootstrap.dcs overrides},
      initdb: [...], member_addresses: [...], client_addresses: [...], pg_hba_extra: [...]
    ``member`` (this member): name, address, data_dir, bin_dir, pgpass, and optionally
      listen_addresses (default: address and 127.0.0.1, the loopback every host has, which Patroni
      connects to as ``localhost``) and api_tls: {certfile, keyfile, cafile}, the REST API over HTTPS.
    An IPv6 address is written in brackets before a port. The REST API listens on the member's
    address only.
    """
    if not isinstance(settings, dict):
        raise AnsibleFilterError("patroni_config: the Patroni settings must be a mapping")
    scope = _require(settings, "scope")
    etcd_hosts = _require(settings, "etcd.hosts")
    if not is_sequence(etcd_hosts):
        raise AnsibleFilterError("patroni_config: etcd.hosts must be a list of host:port")
    for user in USERS:
        _require(settings, "users.%s.username" % user)
    _require(settings, "restapi.username")

    etcd = {"hosts": list(etcd_hosts), "protocol": settings["etcd"].get("protocol", "https")}
    # Its etcd user's password is never here: PATRONI_ETCD3_PASSWORD (patroni_environment).
    for key in ("cacert", "cert", "key", "username"):
        if settings["etcd"].get(key):
            etcd[key] = settings["etcd"][key]

    postgresql_settings = settings.get("postgresql") or {}
    dcs = _merge(DEFAULT_DCS, settings.get("dcs"))
    dcs["postgresql"]["parameters"] = _merge(dcs["postgresql"]["parameters"], postgresql_settings.get("parameters"))

    config = {
        "scope": scope,
        "namespace": settings.get("namespace", "/service/"),
        "etcd3": etcd,
        "bootstrap": {
            "dcs": dcs,
            "initdb": copy.deepcopy(settings.get("initdb", DEFAULT_INITDB)),
        },
        "restapi": {"authentication": {"username": settings["restapi"]["username"]}},
        "postgresql": {
            "authentication": dict((user, {"username": settings["users"][user]["username"]}) for user in USERS),
            "pg_hba": _pg_hba(settings),
            "parameters": {"unix_socket_directories": "/var/run/postgresql"},
        },
    }
    if member is None:
        return config

    for key in ("name", "address", "data_dir", "bin_dir"):
        if not member.get(key):
            raise AnsibleFilterError("patroni_config: the member has no %s" % key)
    port = int(postgresql_settings.get("port", 5432))
    api_port = int(settings["restapi"].get("port", 8008))
    listen = member.get("listen_addresses") or [member["address"], "127.0.0.1"]
    config["name"] = member["name"]
    # Bound to the member's address only: the REST API (switchover, configuration) is the cluster's.
    config["restapi"].update(
        listen=_address(builder.host_port, member["address"], api_port),
        connect_address=_address(builder.host_port, member["address"], api_port),
    )
    config["restapi"].update(_api_tls(member))
    config["postgresql"].update(
        listen=_address(builder.hosts_port, listen, port),
        connect_address=_address(builder.host_port, member["address"], port),
        data_dir=member["data_dir"],
        bin_dir=member["bin_dir"],
        pgpass=member.get("pgpass", "/var/lib/postgresql/.pgpass_patroni"),
    )
    return config


def _same(current, desired):
    """Whether a value Patroni reports equals a desired one: 10 and "10", True and "true" are the same."""
    if current == desired:
        return True
    return not isinstance(current, (dict, list)) and str(current).lower() == str(desired).lower()


def patroni_dcs_changes(current, desired):
    """The JSON merge patch (Patroni's PATCH /config) that gives a running cluster's dynamic configuration
    ``current`` the settings of ``desired`` (the bootstrap.dcs of patroni_config): the desired keys whose
    values differ, mappings compared key by key; {} when nothing differs. Keys only ``current`` has are kept."""
    if not isinstance(current, dict) or not isinstance(desired, dict):
        raise AnsibleFilterError("patroni_dcs_changes: expects two mappings, got %r and %r" % (current, desired))
    patch = {}
    for key, value in desired.items():
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            nested = patroni_dcs_changes(current[key], value)
            if nested:
                patch[key] = nested
        elif key not in current or not _same(current[key], value):
            patch[key] = copy.deepcopy(value)
    return patch


def patroni_environment(passwords, etcd_protocol="https"):
    """Patroni's environment with the passwords (PATRONI_<USER>_PASSWORD, PATRONI_RESTAPI_PASSWORD,
    and PATRONI_ETCD3_PASSWORD, its etcd user's, when given).

    ``passwords``: {superuser, replication, rewind, restapi}, each set, and optionally etcd3.
    Patroni 4.1 reads PATRONI_ETCD3_PASSWORD only when another PATRONI_ETCD3_* setting of its list
    is in the environment too (measured: alone, it logs "Username provided without password" and
    talks to etcd as nobody): PATRONI_ETCD3_PROTOCOL, the configuration's own ``etcd_protocol``.
    """
    env = {}
    for user in (*USERS, "restapi"):
        password = (passwords or {}).get(user)
        if not password:
            raise AnsibleFilterError("patroni_environment: no password for the Patroni %s user" % user)
        env["PATRONI_%s_PASSWORD" % user.upper()] = "%s" % password
    if (passwords or {}).get("etcd3"):
        env["PATRONI_ETCD3_PASSWORD"] = "%s" % passwords["etcd3"]
        env["PATRONI_ETCD3_PROTOCOL"] = etcd_protocol
    return env


class FilterModule:
    """The Patroni definition filters."""

    def filters(self):
        return {
            "patroni_config": patroni_config,
            "patroni_dcs_changes": patroni_dcs_changes,
            "patroni_environment": patroni_environment,
        }
