# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Patroni checks of the health report, from gardenos.cluster.patroni_check run once: the cluster
healthy, one leader, each member (running or streaming, its lag), members not in servers.yaml, maintenance
mode; then the patroni services."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.common import (
    as_dict,
    as_list,
    check,
    human_size,
    joined,
    not_in_servers_yaml,
)
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.services import service_checks

LEADER_ROLES = ("leader", "master", "standby_leader", "primary")


def patroni_checks(obs, settings):
    """The cluster and member checks, then the services; one skip without patroni hosts."""
    hosts = obs.group("patroni")
    if not hosts:
        return [check("patroni", "Patroni cluster", "skip", "no patroni hosts in the inventory")]
    return _cluster_checks(obs, hosts, settings) + service_checks(obs, "patroni")


def _cluster_checks(obs, hosts, settings):
    result = obs.first("patroni_check")
    runner = obs.first("patroni_runner")
    source = " (from %s)" % runner if runner else ""
    if not isinstance(result, dict):
        return [
            check(
                "patroni",
                "cluster healthy",
                "fail",
                "not checked: no patroni host was reachable to ask from",
                "make a patroni host reachable over SSH (see the hosts checks)",
            )
        ]
    if "healthy" not in result:
        return [
            check(
                "patroni",
                "cluster healthy",
                "fail",
                "no member answered%s: %s" % (source, result.get("msg", "")),
                "start Patroni on the members: systemctl start patroni; journalctl -u patroni -n 50",
            )
        ]
    members = [as_dict(m) for m in as_list(result.get("members"))]
    leaders = [m for m in members if m.get("role") in LEADER_ROLES]
    checks = [_healthy_check(result, members, source), _leader_check(result.get("leader"), leaders)]
    by_name = dict((m.get("name"), m) for m in members)
    checks.extend(_member_check(host, by_name, leaders, settings["patroni_max_lag"]) for host in hosts)
    checks.extend(
        not_in_servers_yaml("patroni", "members", by_name, hosts, "stop Patroni on them, or add them to servers.yaml")
    )
    if result.get("paused"):
        checks.append(
            check(
                "patroni",
                "automatic failover",
                "warn",
                "maintenance mode (paused): no automatic failover",
                "patronictl resume, once the maintenance is over",
            )
        )
    return checks


def _healthy_check(result, members, source):
    """'cluster <scope> healthy', as patroni_check judged it."""
    name = "cluster %s healthy" % (result.get("scope") or "?")
    if result.get("healthy"):
        timelines = sorted(set("%s" % m.get("timeline") for m in members if m.get("timeline") is not None))
        return check(
            "patroni",
            name,
            "pass",
            "%d members, leader %s, timeline %s%s"
            % (len(members), result.get("leader"), ", ".join(timelines) or "?", source),
        )
    if result.get("uninitialized"):
        fix = (
            "the members wait for a leader to bootstrap: if their data directories were wiped, run "
            "playbooks/patroni_recover_stale_dcs.yml"
        )
    else:
        fix = "on the member named: systemctl status patroni; journalctl -u patroni -n 50"
    problems = as_list(result.get("problems"))
    return check("patroni", name, "fail", "; ".join("%s" % p for p in problems) + source, fix)


def _leader_check(leader, leaders):
    if leader and len(leaders) == 1:
        return check(
            "patroni", "one leader", "pass", "%s (%s, %s)" % (leader, leaders[0].get("role"), leaders[0].get("state"))
        )
    return check(
        "patroni",
        "one leader",
        "fail",
        "leaders: %s" % joined(m.get("name") for m in leaders),
        "see the cluster check; a failover takes about Patroni's ttl (30 s)",
    )


def _member_check(host, by_name, leaders, max_lag):
    """'member <host>': registered, the leader running, a replica streaming within max_lag bytes."""
    member = by_name.get(host)
    name = "member %s" % host
    fix = "on %s: systemctl status patroni; journalctl -u patroni -n 50" % host
    if member is None:
        return check("patroni", name, "fail", "not registered in the DCS (members: %s)" % joined(by_name), fix)
    state, lag = member.get("state"), member.get("lag")
    where = "%s, %s, timeline %s" % (member.get("role"), state, member.get("timeline"))
    if member in leaders:
        return check("patroni", name, "pass" if state == "running" else "fail", where, fix)
    if state not in ("streaming", "running"):
        return check("patroni", name, "fail", where, fix)
    if lag is None:
        return check("patroni", name, "warn", "%s, lag unknown" % where, fix)
    if lag > max_lag:
        return check(
            "patroni",
            name,
            "fail",
            "%s, lag %s (more than %s)" % (where, human_size(lag), human_size(max_lag)),
            "on %s: is replay paused (SELECT pg_wal_replay_resume()) or the network slow?" % host,
        )
    return check("patroni", name, "pass", "%s, lag %s" % (where, human_size(lag)))
