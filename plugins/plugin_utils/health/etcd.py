# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The etcd checks of the health report, from gardenos.cluster.etcd_info run once over every member's
client URL: each member healthy, the member list against servers.yaml, quorum, one leader, the database
size against the quota, alarms; then the certificates of the etcd PKI (etcd_certs.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.common import (
    as_dict,
    as_int,
    as_list,
    check,
    human_size,
    joined,
)
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.etcd_certs import certificate_checks

# The cluster-wide checks, after each member's own.
CLUSTER_CHECKS = ("members match servers.yaml", "quorum", "one leader", "db size vs quota", "alarms")
MEMBER_BACK = "bring a member back (see the member checks)"


def etcd_checks(obs, settings):
    """The member and cluster checks, then the certificate checks; one skip without etcd hosts."""
    hosts = obs.group("etcd")
    if not hosts:
        return [check("etcd", "etcd cluster", "skip", "no etcd hosts in the inventory")]
    info = obs.first("etcd_info")
    if isinstance(info, dict):
        cluster = EtcdCluster(obs, hosts, info)
        checks = [_member_check(cluster, host) for host in hosts]
        checks.extend(
            [
                _membership_check(cluster),
                _quorum_check(cluster),
                _leader_check(cluster),
                _db_size_check(cluster, settings),
                _alarms_check(cluster),
            ]
        )
    else:
        checks = _unread_checks(hosts)
    return checks + certificate_checks(obs, settings)


class EtcdCluster:
    """etcd_info's answer (registered with failed_when: false), arranged for the checks."""

    def __init__(self, obs, hosts, info):
        self.hosts = hosts
        self.info = info
        self.members_cfg = as_dict(obs.first("etcd_members"))
        runner = obs.first("etcd_runner")
        self.source = " (from %s)" % runner if runner else ""
        self.endpoints = [as_dict(report) for report in as_list(info.get("endpoints"))]
        # A failed etcd_info has no member list.
        self.failed = "members" not in info
        self.members = [as_dict(member) for member in as_list(info.get("members"))]
        # member id -> name
        self.names = dict((member.get("id"), member.get("name") or "") for member in self.members)
        self.answered = [report for report in self.endpoints if report.get("member_id")]
        self.alarms = info.get("alarms")
        self.nospace = [alarm for alarm in as_list(self.alarms) if as_dict(alarm).get("alarm") == "NOSPACE"]
        by_url = dict((report.get("endpoint"), report) for report in self.endpoints)
        by_name = dict((report.get("name"), report) for report in self.endpoints if report.get("name"))
        # Each inventory member's report, through its own client URL (None: not asked).
        self.reports = dict((host, by_url.get(self.endpoint(host)) or by_name.get(host)) for host in hosts)

    def endpoint(self, host):
        """The client URL of an inventory member."""
        return as_dict(self.members_cfg.get(host)).get("endpoint")

    def quota(self, host, default):
        """The quota-backend-bytes of an inventory member."""
        return as_int(as_dict(self.members_cfg.get(host)).get("quota_bytes"), default)


def _unread_checks(hosts):
    """Every etcd check fails when no etcd host was reachable to run etcd_info."""
    reason = "not checked: no etcd host was reachable to read the cluster from"
    fix = "make an etcd host reachable over SSH (see the hosts checks)"
    checks = [check("etcd", "member %s healthy" % host, "fail", reason, fix) for host in hosts]
    checks.extend(check("etcd", name, "fail", reason, fix) for name in CLUSTER_CHECKS)
    return checks


def _member_fix(host):
    return (
        "on %s: systemctl status etcd and journalctl -u etcd -n 50; start it with systemctl start etcd. "
        "If it cannot rejoin, remove it (playbooks/etcd_remove_member.yml -e member=%s) and run site.yml to "
        "add it back" % (host, host)
    )


def _without_url(report):
    """An endpoint's error, without the endpoint's URL the message starts with."""
    error = "%s" % (report.get("error") or "no answer")
    prefix = "%s: " % report.get("endpoint")
    return error[len(prefix) :] if error.startswith(prefix) else error


def _member_check(cluster, host):
    """'member <host> healthy', through its own client URL."""
    report = cluster.reports[host]
    name = "member %s healthy" % host
    if report is None:
        saw = "%s was not asked: %s" % (
            cluster.endpoint(host) or "its endpoint",
            cluster.info.get("msg") or "etcd_info did not list it",
        )
        return check("etcd", name, "fail", saw + cluster.source, _member_fix(host))
    if not report.get("healthy"):
        return check(
            "etcd",
            name,
            "fail",
            "%s unhealthy%s: %s" % (report.get("endpoint"), cluster.source, _without_url(report)),
            _member_fix(host),
        )
    role = "leader" if report.get("is_leader") else ("learner" if report.get("is_learner") else "follower")
    return check(
        "etcd",
        name,
        "pass",
        "%s healthy%s: etcd %s, %s, raft term %s, applied index %s"
        % (
            report.get("endpoint"),
            cluster.source,
            report.get("version"),
            role,
            report.get("raft_term"),
            report.get("raft_applied_index"),
        ),
    )


def _membership_check(cluster):
    """'members match servers.yaml': the member list, as the cluster sees it, against the inventory."""
    name = "members match servers.yaml"
    members, hosts = cluster.members, cluster.hosts
    if cluster.failed or not members:
        return check(
            "etcd",
            name,
            "fail",
            "member list not read: %s" % cluster.info.get("msg", "no member answered"),
            MEMBER_BACK,
        )
    member_names = [member.get("name") for member in members if member.get("name")]
    missing = [host for host in hosts if host not in member_names]
    unstarted = [member for member in members if not member.get("name")]
    listed = "%d members: %s" % (
        len(members),
        joined(member_names + ["(unstarted %s)" % m.get("id") for m in unstarted]),
    )
    if missing:
        return check(
            "etcd",
            name,
            "fail",
            "%s; not a member: %s" % (listed, joined(missing)),
            "run site.yml: it adds %s as a learner and promotes it once caught up" % joined(missing),
        )
    problems, fixes = _membership_problems(
        extra=[member for member in member_names if member not in hosts],
        unstarted=unstarted,
        learners=[member.get("name") or member.get("id") for member in members if member.get("is_learner")],
    )
    if problems:
        return check("etcd", name, "warn", "%s; %s" % (listed, "; ".join(problems)), "; ".join(fixes))
    return check("etcd", name, "pass", "%s, all voting, as in servers.yaml" % listed)


def _membership_problems(extra, unstarted, learners):
    """(problems, fixes) of a member list that holds every inventory member: unknown, unstarted, learners."""
    problems = []
    fixes = []
    if extra:
        problems.append("not in servers.yaml: %s" % joined(extra))
        fixes.append(
            "remove %s with playbooks/etcd_remove_member.yml -e member=<name>, or put it back in "
            "servers.yaml" % joined(extra)
        )
    if unstarted:
        problems.append(
            "added but never started: %s"
            % joined("%s (%s)" % (m.get("id"), ", ".join(as_list(m.get("peer_urls")))) for m in unstarted)
        )
        fixes.append("run site.yml to start it, or etcdctl member remove <id>")
    if learners:
        problems.append("learners (not voting): %s" % joined(learners))
        fixes.append("run site.yml: it promotes learners once they have caught up")
    return problems, fixes


def _quorum_check(cluster):
    """'quorum': the voting members that answer healthy."""
    members, hosts = cluster.members, cluster.hosts
    voters = [member for member in members if not member.get("is_learner")] if members else []
    voter_ids = set(member.get("id") for member in voters)
    voter_count = len(voters) if voters else len(hosts)
    healthy = [
        report
        for report in cluster.endpoints
        if report.get("healthy") and (not voter_ids or report.get("member_id") in voter_ids)
    ]
    healthy_names = [report.get("name") or report.get("endpoint") for report in healthy]
    down = [host for host in hosts if not (cluster.reports.get(host) or {}).get("healthy")]
    quorum = voter_count // 2 + 1
    saw = "%d of %d voting members healthy (%s); quorum is %d" % (
        len(healthy),
        voter_count,
        joined(healthy_names),
        quorum,
    )
    if len(healthy) >= voter_count and voter_count:
        return check("etcd", "quorum", "pass", "%s, so it survives %d failure(s)" % (saw, voter_count - quorum))
    if len(healthy) >= quorum:
        return check(
            "etcd",
            "quorum",
            "warn",
            "%s: it holds, but survives %d more failure(s); down: %s" % (saw, len(healthy) - quorum, joined(down)),
            "bring %s back (see the member checks)" % joined(down),
        )
    return check(
        "etcd",
        "quorum",
        "fail",
        "%s: quorum lost, etcd refuses writes; down: %s" % (saw, joined(down)),
        "start the members that are down (see the member checks); if a majority is gone for good, "
        "restore the cluster from a snapshot (etcdutl snapshot restore)",
    )


def _leader_check(cluster):
    """'one leader', the same for every member that answers."""
    leaders = {}
    leaderless = []
    for report in cluster.answered:
        if report.get("leader_id"):
            leaders.setdefault(report["leader_id"], []).append(report.get("name") or report.get("endpoint"))
        else:
            leaderless.append(report.get("name") or report.get("endpoint"))
    names = cluster.names
    if len(leaders) == 1 and not leaderless:
        leader_id = next(iter(leaders))
        return check(
            "etcd",
            "one leader",
            "pass",
            "%s (%s) leads, and the %d answering member(s) agree"
            % (names.get(leader_id) or "?", leader_id, len(cluster.answered)),
        )
    if not leaders:
        return check(
            "etcd",
            "one leader",
            "fail",
            "no leader: %s"
            % ("no member answered" if not cluster.answered else "members without one: %s" % joined(leaderless)),
            "a leader needs quorum: see the quorum and member checks",
        )
    seen = "; ".join("%s sees %s" % (joined(who), names.get(lid) or lid) for lid, who in sorted(leaders.items()))
    if leaderless:
        seen += "; without a leader: %s" % joined(leaderless)
    return check(
        "etcd",
        "one leader",
        "fail",
        seen,
        "the members do not agree: check the peer network (port 2380) between them and their logs (journalctl -u etcd)",
    )


def _db_size_check(cluster, settings):
    """'db size vs quota': the fullest member's database against its quota-backend-bytes."""
    name = "db size vs quota"
    usage = []
    for host in cluster.hosts:
        report = cluster.reports.get(host) or {}
        quota = cluster.quota(host, settings["etcd_quota_bytes"])
        if report.get("db_size") is not None and quota:
            usage.append((float(report["db_size"]) / quota * 100.0, host, report, quota))
    if not usage:
        return check("etcd", name, "fail", "not measured: no member answered", MEMBER_BACK)
    percent, host, report, quota = max(usage, key=lambda item: item[0])
    saw = "largest on %s: %s of its %s quota (%.1f%%)" % (
        host,
        human_size(report["db_size"]),
        human_size(quota),
        percent,
    )
    if report.get("db_size_in_use") is not None:
        saw += ", %s in use" % human_size(report["db_size_in_use"])
    fix = (
        "compact and defragment one member at a time (etcdctl defrag), or raise etcd_quota_backend_bytes "
        "and run site.yml (members restart one at a time)"
    )
    if cluster.nospace:
        return check(
            "etcd",
            name,
            "fail",
            saw + "; NOSPACE alarm raised: etcd refuses writes",
            fix + ", then etcdctl alarm disarm",
        )
    if percent > settings["quota_fail_percent"]:
        return check("etcd", name, "fail", "%s, above %s%%" % (saw, settings["quota_fail_percent"]), fix)
    if percent > settings["quota_warn_percent"]:
        return check("etcd", name, "warn", "%s, above %s%%" % (saw, settings["quota_warn_percent"]), fix)
    return check("etcd", name, "pass", saw)


def _alarms_check(cluster):
    """'alarms': none raised."""
    alarms = cluster.alarms
    if cluster.failed:
        return check("etcd", "alarms", "fail", "not read: %s" % cluster.info.get("msg", ""), MEMBER_BACK)
    if alarms is None:
        return check(
            "etcd",
            "alarms",
            "warn",
            "the client may not read alarms",
            "read them as root on a member: etcdctl alarm list",
        )
    if not alarms:
        return check("etcd", "alarms", "pass", "no alarm raised")
    raised = ", ".join(
        "%s on %s" % (as_dict(a).get("alarm"), as_dict(a).get("member_name") or as_dict(a).get("member_id"))
        for a in alarms
    )
    fixes = []
    if cluster.nospace:
        fixes.append("NOSPACE: compact, defragment (etcdctl defrag), then etcdctl alarm disarm")
    if any(as_dict(a).get("alarm") == "CORRUPT" for a in alarms):
        fixes.append("CORRUPT: replace the corrupt member (remove it, wipe its data, run site.yml to add it back)")
    return check("etcd", "alarms", "fail", "raised: %s" % raised, "; ".join(fixes) or "etcdctl alarm list")
