# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HAProxy checks of the health report, from gardenos.cluster.haproxy_info ('show stat' on the stats
socket) on each haproxy host: every backend's state (the PostgreSQL primary's with exactly one server UP,
the one Patroni leads), the stats page with its credentials; then the haproxy services."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.common import (
    as_dict,
    as_int,
    as_list,
    check,
    fix_reach,
    joined,
    short_error,
)
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.services import running_check, service_checks

# The suffix of the backends that send the admin networks to the Patroni hosts' admin relay.
ADMIN_SUFFIX = "_admin"


class Peers:
    """What the backends are checked against: Patroni's leader and hosts, the K3s nodes."""

    def __init__(self, obs):
        self.patroni_leader = as_dict(obs.first("patroni_check")).get("leader")
        self.patroni_hosts = obs.group("patroni")
        self.k3s_nodes = obs.group("k3s_server") + obs.group("k3s_agent")


def haproxy_checks(obs):
    """Each host's backends and stats page, then the services; one skip without haproxy hosts."""
    hosts = obs.group("haproxy")
    if not hosts:
        return [check("haproxy", "HAProxy", "skip", "no haproxy hosts in the inventory")]
    peers = Peers(obs)
    checks = []
    for host in hosts:
        checks.extend(_socket_checks(obs, host, peers))
        checks.append(_stats_page_check(obs, host))
    checks.extend(service_checks(obs, "haproxy"))
    vip = obs.raw.get("vip")
    if vip:
        checks.append(_vip_check(obs, hosts, vip))
        checks.extend(running_check(obs, "haproxy", "keepalived", host) for host in hosts)
    return checks


def _vip_check(obs, hosts, vip):
    """'VIP <vip> held by one host': exactly one HAProxy host holds it (keepalived_vip of each)."""
    name = "VIP %s held by one host" % vip
    seen = dict((host, as_dict(obs.host(host).get("keepalived_vip"))) for host in hosts)
    holders = [host for host in hosts if seen[host].get("held") is True]
    unseen = [host for host in hosts if "held" not in seen[host]]
    not_seen = "; not checked on %s" % joined(obs.why_missing(host) for host in unseen) if unseen else ""
    if len(holders) > 1:
        return check(
            "haproxy",
            name,
            "fail",
            "held by %s at once: their keepalived do not hear each other" % joined(holders),
            "check VRRP (IP protocol 112) between %s: the hosts' firewall, the network; journalctl -u keepalived"
            % joined(holders),
        )
    if holders:
        return check(
            "haproxy",
            name,
            "warn" if unseen else "pass",
            "held by %s%s" % (holders[0], not_seen),
            fix_reach(unseen[0]) if unseen else None,
        )
    return check(
        "haproxy",
        name,
        "fail",
        "held by no host%s: clients of the VIP have no way in" % not_seen,
        "on the HAProxy hosts: systemctl status keepalived haproxy; %s holds the VIP only while its HAProxy runs"
        % joined(hosts),
    )


def _socket_checks(obs, host, peers):
    """The backend checks from haproxy_info, or why the stats socket did not answer."""
    result = obs.host(host).get("haproxy_info")
    name = "stats socket on %s" % host
    if not isinstance(result, dict):
        return [check("haproxy", name, "fail", "not checked: %s" % obs.why_missing(host), fix_reach(host))]
    if "stats" not in result:
        return [
            check(
                "haproxy",
                name,
                "fail",
                result.get("msg", "no answer"),
                "on %s: systemctl status haproxy; journalctl -u haproxy -n 50" % host,
            )
        ]
    return _backend_checks(host, result, peers)


def _stats_page_check(obs, host):
    """'stats page on <host> with the credentials': it answers 200 to the stats user."""
    auth = obs.host(host).get("haproxy_stats_auth")
    name = "stats page on %s with the credentials" % host
    if not isinstance(auth, dict):
        return check("haproxy", name, "fail", "not checked: %s" % obs.why_missing(host), fix_reach(host))
    if auth.get("status") == 200:
        return check("haproxy", name, "pass", "answered 200 to the stats user")
    if as_int(auth.get("status"), -1) < 0:
        return check(
            "haproxy",
            name,
            "fail",
            "did not answer: %s" % short_error(auth.get("msg", "")),
            "on %s: systemctl status haproxy; the stats page listens on haproxy_stats_port (8404)" % host,
        )
    return check(
        "haproxy",
        name,
        "fail",
        "answered %s: %s" % (auth.get("status"), auth.get("msg", "")),
        "the stats password on the controller (secrets/haproxy-stats-password or "
        "haproxy_stats_password) must be the one HAProxy runs with: run site.yml",
    )


def _server_up(row):
    status = row.get("status") or ""
    return status.startswith("UP") or status == "no check"


def _server_text(row):
    text = "%s %s" % (row.get("svname"), row.get("status"))
    if not _server_up(row) and row.get("check_status"):
        text += " (%s%s)" % (row.get("check_status"), (" " + row["check_code"]) if row.get("check_code") else "")
    return text


def _backend_checks(host, result, peers):
    """'backend <proxy> on <host>' for each proxy with a backend in 'show stat'."""
    checks = []
    proxies = {}
    for row in map(as_dict, as_list(result.get("stats"))):
        proxies.setdefault(row.get("pxname"), []).append(row)
    for proxy, rows in proxies.items():
        backend = next((row for row in rows if row.get("svname") == "BACKEND"), None)
        if backend is not None:
            checks.append(_backend_check(host, proxy, backend, rows, peers))
    if not checks:
        checks.append(
            check(
                "haproxy",
                "backends on %s" % host,
                "fail",
                "no backend in 'show stat'",
                "check /etc/haproxy/haproxy.cfg: run site.yml",
            )
        )
    return checks


def _primary_check(host, name, saw, up, peers):
    """The PostgreSQL primary's backend: exactly one server UP, Patroni's leader."""
    counted = up
    if len(up) > 1 and not peers.patroni_hosts and host in peers.k3s_nodes:
        # Spilo mode: the HAProxy host's own node answers through kube-proxy beside the leader's node.
        counted = [server for server in up if server != host]
    leader = peers.patroni_leader
    if len(counted) == 1 and leader and counted[0] in peers.patroni_hosts and counted[0] != leader:
        return check(
            "haproxy",
            name,
            "fail",
            "%s: sends to %s but Patroni's leader is %s" % (saw, counted[0], leader),
            "see the Patroni checks; HAProxy marks servers every 2 s",
        )
    if len(counted) == 1:
        return check("haproxy", name, "pass", "exactly one server UP (%s): %s" % (counted[0], saw))
    if not counted:
        return check(
            "haproxy",
            name,
            "fail",
            "no server UP, clients get no primary: %s" % saw,
            "no member answers 200 on Patroni's /primary: see the Patroni checks",
        )
    return check(
        "haproxy",
        name,
        "fail",
        "%d servers UP (%s), more than one primary: %s" % (len(counted), joined(counted), saw),
        "see the Patroni checks: only the leader may answer 200 on /primary",
    )


def _backend_check(host, proxy, backend, rows, peers):
    """A backend, from its rows in 'show stat': UP, with every server up (the replicas' backend: but the
    leader); the PostgreSQL primary's: see _primary_check."""
    servers = [row for row in rows if row.get("svname") not in ("FRONTEND", "BACKEND")]
    # The admin networks' backends (<proxy>_admin, to the admin relay) follow their proxy's servers.
    kind = proxy.removesuffix(ADMIN_SUFFIX)
    listing = "; servers: %s" % ", ".join(_server_text(row) for row in servers) if servers else ""
    name = "backend %s on %s" % (proxy, host)
    saw = "%s%s" % (backend.get("status"), listing)
    if kind == "postgres_primary":
        return _primary_check(host, name, saw, [row.get("svname") for row in servers if _server_up(row)], peers)
    if not (backend.get("status") or "").startswith("UP"):
        return check(
            "haproxy",
            name,
            "fail",
            saw,
            "no server of %s is up: see the checks of its servers (etcd, Patroni, K3s)" % proxy,
        )
    down = [row.get("svname") for row in servers if not _server_up(row)]
    if kind == "postgres_replicas" and peers.patroni_leader:
        # The leader is no replica: its DOWN is expected.
        down = [server for server in down if server != peers.patroni_leader]
    if down:
        return check(
            "haproxy",
            name,
            "warn",
            "%s; down: %s" % (saw, joined(down)),
            "see the checks of %s (a replica is down when it lags more than 1 MB or does not stream)" % joined(down),
        )
    return check("haproxy", name, "pass", saw)
