# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster health report of gardenos.cluster (``playbooks/health.yml``).

The playbook only observes: it pings the hosts and runs the collection's read-only modules and a
few commands, registers their results and hands them all to ``health_checks``, which turns them
into checks. Each check is a mapping ``{group, name, status, saw, fix}``: ``status`` is ``pass``,
``warn``, ``fail`` or ``skip`` (not applicable here, for example K3s without K3s servers),
``saw`` says what was observed and ``fix`` (for anything but ``pass`` and ``skip``) what to do.
``health_score`` counts them and ``health_report`` renders the plain-text report.

The observations (``health_checks``' input) are::

    cluster: <cluster name>
    groups: {all: [...], etcd: [...], patroni: [...], haproxy: [...], k3s_server: [...], k3s_agent: [...]}
    hosts:
      <host>:
        ip: <gardenos_ip>
        ping: <registered ansible.builtin.ping (ignore_unreachable)>
        services: <registered ansible.builtin.service_facts>
        certs: <registered loop of `openssl x509 -noout -enddate -in <item.path>`; item: {path, name}>
        haproxy_info: <registered gardenos.cluster.haproxy_info>
        haproxy_stats_anonymous: {status, msg} of a GET of the stats page without credentials
        haproxy_stats_auth: {status, msg} of a GET of the stats page with the credentials
        # run once, for the whole cluster, on one host (any host holding them will do):
        etcd_members: {<etcd host>: {endpoint: <client URL>, quota_bytes: <quota-backend-bytes>}}
        etcd_runner: <host that ran the etcd checks>
        etcd_info: <registered gardenos.cluster.etcd_info over every endpoint>
        etcd_no_cert: <registered loop of ansible.builtin.uri on each endpoint without a client
                       certificate; item: {key: <host>, value: {endpoint: ...}}>
        patroni_runner: <host that ran patroni_check>
        patroni_check: <registered gardenos.cluster.patroni_check (fail_on_unhealthy false)>
        k3s_kubeconfig: {path, exists}
        k3s_nodes, k3s_storage_classes, k3s_pods: <registered kubernetes.core.k8s_info>

A result that is missing means the task that observes it did not run (its host unreachable, or no
host of the group reachable): its checks fail with that reason, never pass.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence

GROUPS = ("hosts", "etcd", "k3s", "patroni", "haproxy", "security")
STATUSES = ("pass", "warn", "fail", "skip")

# The systemd unit each service group runs, and the report group its check goes to.
SERVICE_UNITS = (
    ("etcd", "etcd", "etcd"),
    ("patroni", "patroni", "patroni"),
    ("haproxy", "haproxy", "haproxy"),
    ("k3s_server", "k3s", "k3s"),
    ("k3s_agent", "k3s-agent", "k3s"),
)

CONTROL_PLANE_TAINTS = (
    "node-role.kubernetes.io/control-plane",
    "node-role.kubernetes.io/master",
    "node-role.kubernetes.io/etcd",
    "CriticalAddonsOnly",
)
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)

MONTHS = dict(
    (name, number) for number, name in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)
)
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
ANSIBLE_WRAPPING = re.compile(r"Task failed: (?:(?:Module|Action) failed: )?")
MAX_SAW = 600

# How an HTTPS request without a client certificate ends when etcd refuses it (TLS alerts and
# resets, worded by Python's ssl module, urllib and http.client), and when the request proves
# nothing (the endpoint did not answer at all, or our own verification of its certificate failed).
TLS_REFUSALS = (
    "certificate required",
    "alert",
    "handshake",
    "ssl",
    "tls",
    "reset by peer",
    "eof occurred",
    "remote end closed",
    "broken pipe",
)
NOT_VERIFIED = ("certificate verify failed", "certificate_verify_failed")
NO_ANSWER = ("connection refused", "timed out", "no route to host", "name or service not known", "unreachable")


def _text(value):
    """One clean line: no ANSI escape, no control character, no wrapping of Ansible's own ("Task failed:
    Module failed: ..."), at most MAX_SAW characters."""
    text = ANSI.sub("", "%s" % (value,))
    text = ANSIBLE_WRAPPING.sub("", text)
    text = CONTROL.sub(" ", text)
    text = re.sub(r" {2,}", " ", text).strip()
    if len(text) > MAX_SAW:
        text = text[: MAX_SAW - 3] + "..."
    return text


def _check(group, name, status, saw, fix=None):
    check = {"group": group, "name": _text(name), "status": status, "saw": _text(saw)}
    if status in ("warn", "fail"):
        check["fix"] = _text(fix or "see what it saw")
    return check


def _size(value):
    """Bytes as etcd and Kubernetes people write them: 1.2 MiB."""
    value = float(value or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return ("%d %s" % (value, unit)) if unit == "B" else ("%.1f %s" % (value, unit))
        value /= 1024.0
    return "%d B" % value  # pragma: no cover


def _names(items):
    return ", ".join(sorted("%s" % item for item in items)) or "none"


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    return list(value) if is_sequence(value) else []


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _parse_time(value):
    """'2026-11-24T01:30:00Z' (or a datetime) -> an aware UTC datetime."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    text = "%s" % value
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            continue
    raise AnsibleFilterError("health_checks: now must be a UTC time such as 2026-11-24T01:30:00Z (got %s)" % text)


def parse_openssl_enddate(text):
    """The date of ``openssl x509 -noout -enddate``: 'notAfter=Nov 24 01:30:00 2028 GMT' (or, with
    ``-dateopt iso_8601``, 'notAfter=2028-11-24 01:30:00Z') -> an aware UTC datetime, or None."""
    match = re.search(r"notAfter=\s*(.+)", "%s" % (text or ""))
    if not match:
        return None
    value = match.group(1).strip()
    parts = value.split()
    if len(parts) >= 4 and parts[0] in MONTHS:
        try:
            hour, minute, second = (int(part) for part in parts[2].split(":"))
            return datetime.datetime(
                int(parts[3]), MONTHS[parts[0]], int(parts[1]), hour, minute, second, tzinfo=datetime.timezone.utc
            )
        except ValueError:
            return None
    try:
        return datetime.datetime.strptime(value.rstrip("Z"), "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


class Observations:
    """Access to the raw observations, with the reason why something was not observed."""

    def __init__(self, observations):
        if not isinstance(observations, dict):
            raise AnsibleFilterError("health_checks: the observations must be a mapping")
        self.raw = observations
        self.groups = _mapping(observations.get("groups"))
        self.hosts = _mapping(observations.get("hosts"))

    def group(self, name):
        return [("%s" % host) for host in _list(self.groups.get(name))]

    def host(self, name):
        return _mapping(self.hosts.get(name))

    def first(self, key):
        """A cluster-wide observation (registered by a run-once task on every host of its play)."""
        for name in self.group("all") or sorted(self.hosts):
            value = self.host(name).get(key)
            if value is not None:
                return value
        return None

    def reachable(self, host):
        ping = self.host(host).get("ping")
        if not isinstance(ping, dict):
            return False
        # Registered with failed_when: false, so "failed" is always false: success is the "pong".
        return not ping.get("unreachable") and "ping" in ping

    def why_missing(self, host):
        """Why a host observation is missing."""
        if not isinstance(self.host(host).get("ping"), dict):
            return "%s was not pinged" % host
        if not self.reachable(host):
            return "%s is unreachable" % host
        return "the task that looks at it did not run on %s" % host


def _fix_reach(host):
    return "make %s reachable first (see its hosts check), then run the report again" % host


# -- hosts -------------------------------------------------------------------------------------


def _host_checks(obs):
    checks = []
    for host in obs.group("all"):
        ip = obs.host(host).get("ip") or "?"
        ping = obs.host(host).get("ping")
        name = "%s reachable" % host
        if not isinstance(ping, dict):
            checks.append(_check("hosts", name, "fail", "not pinged", "run the whole playbook, without --limit"))
        elif ping.get("unreachable"):
            checks.append(
                _check(
                    "hosts",
                    name,
                    "fail",
                    "unreachable at %s: %s" % (ip, ping.get("msg", "")),
                    "check that %s is up and that SSH as the inventory's ansible_user works: "
                    "ansible -i <servers.yaml> %s -m ansible.builtin.ping" % (host, host),
                )
            )
        elif "ping" not in ping:
            checks.append(
                _check(
                    "hosts",
                    name,
                    "fail",
                    "reached at %s, but Ansible cannot run there: %s" % (ip, ping.get("msg", "")),
                    "check python3 and sudo on %s" % host,
                )
            )
        else:
            checks.append(_check("hosts", name, "pass", "%s answered Ansible's ping (%s)" % (ip, ping.get("ping"))))
    return checks


def _service_checks(obs, report_group):
    checks = []
    for group, unit, target in SERVICE_UNITS:
        if target != report_group:
            continue
        for host in obs.group(group):
            name = "%s service on %s running" % (unit, host)
            facts = obs.host(host).get("services")
            services = _mapping(_mapping(_mapping(facts).get("ansible_facts")).get("services"))
            if not services:
                reason = obs.why_missing(host) if facts is None else _mapping(facts).get("msg", "no service facts")
                checks.append(_check(report_group, name, "fail", "not checked: %s" % reason, _fix_reach(host)))
                continue
            service = _mapping(services.get("%s.service" % unit))
            state = service.get("state")
            if state == "running":
                checks.append(
                    _check(report_group, name, "pass", "%s.service %s (%s)" % (unit, state, service.get("status", "?")))
                )
            else:
                checks.append(
                    _check(
                        report_group,
                        name,
                        "fail",
                        "%s.service %s"
                        % (unit, ("%s (%s)" % (state, service.get("status", "?"))) if service else "not installed"),
                        "on %s: systemctl start %s; if it does not stay up: journalctl -u %s -n 50; "
                        "if it is not installed: run site.yml" % (host, unit, unit),
                    )
                )
    return checks


# -- etcd --------------------------------------------------------------------------------------


def _etcd_member_fix(host):
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


def _etcd_checks(obs, settings):
    hosts = obs.group("etcd")
    if not hosts:
        return [_check("etcd", "etcd cluster", "skip", "no etcd hosts in the inventory")]
    members_cfg = _mapping(obs.first("etcd_members"))
    info = obs.first("etcd_info")
    runner = obs.first("etcd_runner")
    checks = []

    if not isinstance(info, dict):
        reason = "no etcd host was reachable to read the cluster from"
        fix = "make an etcd host reachable over SSH (see the hosts checks)"
        for host in hosts:
            checks.append(_check("etcd", "member %s healthy" % host, "fail", "not checked: %s" % reason, fix))
        for name in ("members match servers.yaml", "quorum", "one leader", "db size vs quota", "alarms"):
            checks.append(_check("etcd", name, "fail", "not checked: %s" % reason, fix))
        return checks + _etcd_cert_checks(obs, settings)

    endpoints = [_mapping(report) for report in _list(info.get("endpoints"))]
    # Registered with failed_when: false: a failed etcd_info has no member list.
    failed = "members" not in info
    by_url = dict((report.get("endpoint"), report) for report in endpoints)
    by_name = dict((report.get("name"), report) for report in endpoints if report.get("name"))
    members = [_mapping(member) for member in _list(info.get("members"))]
    names = dict((member.get("id"), member.get("name") or "") for member in members)
    source = " (from %s)" % runner if runner else ""

    # Each inventory member, through its own client URL.
    host_reports = {}
    for host in hosts:
        url = _mapping(members_cfg.get(host)).get("endpoint")
        report = by_url.get(url) or by_name.get(host)
        host_reports[host] = report
        name = "member %s healthy" % host
        if report is None:
            saw = "%s was not asked: %s" % (url or "its endpoint", info.get("msg") or "etcd_info did not list it")
            checks.append(_check("etcd", name, "fail", saw + source, _etcd_member_fix(host)))
        elif report.get("healthy"):
            role = "leader" if report.get("is_leader") else ("learner" if report.get("is_learner") else "follower")
            checks.append(
                _check(
                    "etcd",
                    name,
                    "pass",
                    "%s healthy%s: etcd %s, %s, raft term %s, applied index %s"
                    % (
                        report.get("endpoint"),
                        source,
                        report.get("version"),
                        role,
                        report.get("raft_term"),
                        report.get("raft_applied_index"),
                    ),
                )
            )
        else:
            checks.append(
                _check(
                    "etcd",
                    name,
                    "fail",
                    "%s unhealthy%s: %s" % (report.get("endpoint"), source, _without_url(report)),
                    _etcd_member_fix(host),
                )
            )

    answered = [report for report in endpoints if report.get("member_id")]

    # Membership, as the cluster sees it, against servers.yaml.
    name = "members match servers.yaml"
    if failed or not members:
        checks.append(
            _check(
                "etcd",
                name,
                "fail",
                "member list not read: %s" % info.get("msg", "no member answered"),
                "bring a member back (see the member checks)",
            )
        )
    else:
        member_names = [member.get("name") for member in members if member.get("name")]
        missing = [host for host in hosts if host not in member_names]
        extra = [member for member in member_names if member not in hosts]
        unstarted = [member for member in members if not member.get("name")]
        learners = [member.get("name") or member.get("id") for member in members if member.get("is_learner")]
        listed = "%d members: %s" % (
            len(members),
            _names(member_names + ["(unstarted %s)" % m.get("id") for m in unstarted]),
        )
        if missing:
            checks.append(
                _check(
                    "etcd",
                    name,
                    "fail",
                    "%s; not a member: %s" % (listed, _names(missing)),
                    "run site.yml: it adds %s as a learner and promotes it once caught up" % _names(missing),
                )
            )
        elif extra or unstarted or learners:
            problems = []
            fixes = []
            if extra:
                problems.append("not in servers.yaml: %s" % _names(extra))
                fixes.append(
                    "remove %s with playbooks/etcd_remove_member.yml -e member=<name>, or put it back in "
                    "servers.yaml" % _names(extra)
                )
            if unstarted:
                problems.append(
                    "added but never started: %s"
                    % _names("%s (%s)" % (m.get("id"), ", ".join(_list(m.get("peer_urls")))) for m in unstarted)
                )
                fixes.append("run site.yml to start it, or etcdctl member remove <id>")
            if learners:
                problems.append("learners (not voting): %s" % _names(learners))
                fixes.append("run site.yml: it promotes learners once they have caught up")
            checks.append(_check("etcd", name, "warn", "%s; %s" % (listed, "; ".join(problems)), "; ".join(fixes)))
        else:
            checks.append(_check("etcd", name, "pass", "%s, all voting, as in servers.yaml" % listed))

    # Quorum: the voting members that answer healthy.
    voters = [member for member in members if not member.get("is_learner")] if members else []
    voter_ids = set(member.get("id") for member in voters)
    voter_count = len(voters) if voters else len(hosts)
    healthy = [
        report
        for report in endpoints
        if report.get("healthy") and (not voter_ids or report.get("member_id") in voter_ids)
    ]
    healthy_names = [report.get("name") or report.get("endpoint") for report in healthy]
    down = [host for host in hosts if not (host_reports.get(host) or {}).get("healthy")]
    quorum = voter_count // 2 + 1
    saw = "%d of %d voting members healthy (%s); quorum is %d" % (
        len(healthy),
        voter_count,
        _names(healthy_names),
        quorum,
    )
    if len(healthy) >= voter_count and voter_count:
        checks.append(
            _check("etcd", "quorum", "pass", "%s, so it survives %d failure(s)" % (saw, voter_count - quorum))
        )
    elif len(healthy) >= quorum:
        checks.append(
            _check(
                "etcd",
                "quorum",
                "warn",
                "%s: it holds, but survives %d more failure(s); down: %s" % (saw, len(healthy) - quorum, _names(down)),
                "bring %s back (see the member checks)" % _names(down),
            )
        )
    else:
        checks.append(
            _check(
                "etcd",
                "quorum",
                "fail",
                "%s: quorum lost, etcd refuses writes; down: %s" % (saw, _names(down)),
                "start the members that are down (see the member checks); if a majority is gone for good, "
                "restore the cluster from a snapshot (etcdutl snapshot restore)",
            )
        )

    # One leader, the same for every member that answers.
    leaders = {}
    leaderless = []
    for report in answered:
        if report.get("leader_id"):
            leaders.setdefault(report["leader_id"], []).append(report.get("name") or report.get("endpoint"))
        else:
            leaderless.append(report.get("name") or report.get("endpoint"))
    if len(leaders) == 1 and not leaderless:
        leader_id = next(iter(leaders))
        checks.append(
            _check(
                "etcd",
                "one leader",
                "pass",
                "%s (%s) leads, and the %d answering member(s) agree"
                % (names.get(leader_id) or "?", leader_id, len(answered)),
            )
        )
    elif not leaders:
        checks.append(
            _check(
                "etcd",
                "one leader",
                "fail",
                "no leader: %s"
                % ("no member answered" if not answered else "members without one: %s" % _names(leaderless)),
                "a leader needs quorum: see the quorum and member checks",
            )
        )
    else:
        seen = "; ".join("%s sees %s" % (_names(who), names.get(lid) or lid) for lid, who in sorted(leaders.items()))
        if leaderless:
            seen += "; without a leader: %s" % _names(leaderless)
        checks.append(
            _check(
                "etcd",
                "one leader",
                "fail",
                seen,
                "the members do not agree: check the peer network (port 2380) between them and their logs "
                "(journalctl -u etcd)",
            )
        )

    # Database size against each member's quota-backend-bytes.
    alarms = info.get("alarms")
    nospace = [a for a in _list(alarms) if _mapping(a).get("alarm") == "NOSPACE"]
    usage = []
    for host in hosts:
        report = host_reports.get(host) or {}
        quota = _int(_mapping(members_cfg.get(host)).get("quota_bytes"), settings["etcd_quota_bytes"])
        if report.get("db_size") is not None and quota:
            usage.append((float(report["db_size"]) / quota * 100.0, host, report, quota))
    name = "db size vs quota"
    if not usage:
        checks.append(
            _check(
                "etcd", name, "fail", "not measured: no member answered", "bring a member back (see the member checks)"
            )
        )
    else:
        percent, host, report, quota = max(usage, key=lambda item: item[0])
        saw = "largest on %s: %s of its %s quota (%.1f%%)" % (host, _size(report["db_size"]), _size(quota), percent)
        if report.get("db_size_in_use") is not None:
            saw += ", %s in use" % _size(report["db_size_in_use"])
        fix = (
            "compact and defragment one member at a time (etcdctl defrag), or raise etcd_quota_backend_bytes "
            "and run site.yml (members restart one at a time)"
        )
        if nospace:
            checks.append(
                _check(
                    "etcd",
                    name,
                    "fail",
                    saw + "; NOSPACE alarm raised: etcd refuses writes",
                    fix + ", then etcdctl alarm disarm",
                )
            )
        elif percent > settings["quota_fail_percent"]:
            checks.append(_check("etcd", name, "fail", "%s, above %s%%" % (saw, settings["quota_fail_percent"]), fix))
        elif percent > settings["quota_warn_percent"]:
            checks.append(_check("etcd", name, "warn", "%s, above %s%%" % (saw, settings["quota_warn_percent"]), fix))
        else:
            checks.append(_check("etcd", name, "pass", saw))

    # Alarms.
    if failed:
        checks.append(
            _check(
                "etcd",
                "alarms",
                "fail",
                "not read: %s" % info.get("msg", ""),
                "bring a member back (see the member checks)",
            )
        )
    elif alarms is None:
        checks.append(
            _check(
                "etcd",
                "alarms",
                "warn",
                "the client may not read alarms",
                "read them as root on a member: etcdctl alarm list",
            )
        )
    elif not alarms:
        checks.append(_check("etcd", "alarms", "pass", "no alarm raised"))
    else:
        raised = ", ".join(
            "%s on %s" % (_mapping(a).get("alarm"), _mapping(a).get("member_name") or _mapping(a).get("member_id"))
            for a in alarms
        )
        fixes = []
        if nospace:
            fixes.append("NOSPACE: compact, defragment (etcdctl defrag), then etcdctl alarm disarm")
        if any(_mapping(a).get("alarm") == "CORRUPT" for a in alarms):
            fixes.append("CORRUPT: replace the corrupt member (remove it, wipe its data, run site.yml to add it back)")
        checks.append(_check("etcd", "alarms", "fail", "raised: %s" % raised, "; ".join(fixes) or "etcdctl alarm list"))

    return checks + _etcd_cert_checks(obs, settings)


def _cert_fix(host, item):
    name = item.get("name") or ""
    if name == "ca.crt":
        return (
            "the etcd CA itself: make a new CA and re-issue every certificate in the etcd PKI on the controller "
            "(pki/etcd/ next to the inventory), then run site.yml"
        )
    return (
        "re-issue it: delete %s from the etcd PKI on the controller (pki/etcd/ next to the inventory, keep ca.*) "
        "and run site.yml, which copies it to %s" % (name or "the certificate", host)
    )


def _etcd_cert_checks(obs, settings):
    checks = []
    now = settings["now"]
    hosts = []
    for group in ("etcd", "patroni", "k3s_server"):
        hosts.extend(host for host in obs.group(group) if host not in hosts)
    for host in hosts:
        certs = obs.host(host).get("certs")
        results = [_mapping(result) for result in _list(_mapping(certs).get("results"))]
        if not results:
            reason = obs.why_missing(host) if certs is None else "no certificate listed"
            checks.append(
                _check("etcd", "certificates on %s" % host, "fail", "not checked: %s" % reason, _fix_reach(host))
            )
            continue
        for result in results:
            item = _mapping(result.get("item"))
            path = item.get("path") or "?"
            name = "certificate %s on %s" % (path, host)
            if result.get("skipped"):
                continue
            if result.get("rc") not in (0, None) or result.get("unreachable"):
                error = "%s" % (result.get("stderr") or result.get("msg") or "rc %s" % result.get("rc"))
                if "No such file or directory" in error:
                    error = "no such file"
                else:
                    error = error.strip().splitlines()[0] if error.strip() else error
                checks.append(
                    _check(
                        "etcd", name, "fail", "cannot read it: %s" % error, "run site.yml: it installs the certificates"
                    )
                )
                continue
            not_after = parse_openssl_enddate(result.get("stdout"))
            if not_after is None:
                checks.append(
                    _check(
                        "etcd",
                        name,
                        "fail",
                        "no expiry date in: %s" % result.get("stdout", ""),
                        "check the file: openssl x509 -noout -text -in %s" % path,
                    )
                )
                continue
            days = (not_after - now).total_seconds() / 86400.0
            when = not_after.strftime("%Y-%m-%d %H:%M UTC")
            if days < 0:
                checks.append(
                    _check("etcd", name, "fail", "expired %s (%d days ago)" % (when, int(-days)), _cert_fix(host, item))
                )
            elif days < settings["cert_warn_days"]:
                checks.append(
                    _check(
                        "etcd",
                        name,
                        "warn",
                        "expires %s, in %d days (under %d)" % (when, int(days), settings["cert_warn_days"]),
                        _cert_fix(host, item),
                    )
                )
            else:
                checks.append(_check("etcd", name, "pass", "valid until %s (%d days)" % (when, int(days))))
    return checks


# -- K3s ---------------------------------------------------------------------------------------

K3S_CHECKS = ("nodes Ready", "no control-plane taints", "default StorageClass", "core pods running")


def _resources(result):
    return [_mapping(resource) for resource in _list(_mapping(result).get("resources"))]


def _k3s_checks(obs):
    servers = obs.group("k3s_server")
    if not servers:
        return [_check("k3s", name, "skip", "no k3s_server hosts in the inventory") for name in K3S_CHECKS]
    nodes_expected = servers + [host for host in obs.group("k3s_agent") if host not in servers]
    kubeconfig = _mapping(obs.first("k3s_kubeconfig"))
    results = dict((key, obs.first("k3s_%s" % key)) for key in ("nodes", "storage_classes", "pods"))
    path = kubeconfig.get("path") or "secrets/kubeconfig.yaml"
    if not kubeconfig:
        return [
            _check(
                "k3s",
                name,
                "fail",
                "not checked: the K3s checks did not run",
                "run the whole playbook, without --limit",
            )
            for name in K3S_CHECKS
        ]
    if not kubeconfig.get("exists"):
        return [
            _check(
                "k3s",
                name,
                "fail",
                "no kubeconfig at %s on the controller" % path,
                "run site.yml: the k3s_server role fetches it",
            )
            for name in K3S_CHECKS
        ]
    api_fix = (
        "check the API through HAProxy: kubectl --kubeconfig %s get nodes; on the servers: systemctl status k3s" % path
    )
    checks = []

    nodes_result = _mapping(results["nodes"])
    if results["nodes"] is None or "resources" not in nodes_result:
        checks.append(
            _check("k3s", "nodes Ready", "fail", "nodes not read: %s" % nodes_result.get("msg", "no result"), api_fix)
        )
        checks.append(_check("k3s", "no control-plane taints", "fail", "nodes not read", api_fix))
    else:
        nodes = dict((_mapping(node.get("metadata")).get("name"), node) for node in _resources(nodes_result))
        for host in nodes_expected:
            name = "node %s Ready" % host
            node = nodes.get(host)
            unit = "k3s" if host in servers else "k3s-agent"
            fix = "on %s: systemctl status %s; journalctl -u %s -n 50" % (host, unit, unit)
            if node is None:
                checks.append(_check("k3s", name, "fail", "not registered (nodes: %s)" % _names(nodes), fix))
                continue
            status = _mapping(node.get("status"))
            ready = next(
                (_mapping(c) for c in _list(status.get("conditions")) if _mapping(c).get("type") == "Ready"), {}
            )
            version = _mapping(status.get("nodeInfo")).get("kubeletVersion", "?")
            if ready.get("status") == "True":
                checks.append(_check("k3s", name, "pass", "Ready, kubelet %s" % version))
            else:
                checks.append(
                    _check(
                        "k3s",
                        name,
                        "fail",
                        "Ready=%s: %s %s"
                        % (ready.get("status", "unknown"), ready.get("reason", ""), ready.get("message", "")),
                        fix,
                    )
                )
        extra = [node for node in nodes if node not in nodes_expected]
        if extra:
            checks.append(
                _check(
                    "k3s",
                    "nodes match servers.yaml",
                    "warn",
                    "nodes not in servers.yaml: %s" % _names(extra),
                    "kubectl delete node <name> for nodes that are gone, or add them to servers.yaml",
                )
            )
        tainted = []
        for node_name, node in sorted(nodes.items()):
            for taint in map(_mapping, _list(_mapping(node.get("spec")).get("taints"))):
                if taint.get("key") in CONTROL_PLANE_TAINTS and taint.get("effect") in ("NoSchedule", "NoExecute"):
                    tainted.append("%s %s:%s" % (node_name, taint.get("key"), taint.get("effect")))
        if tainted:
            checks.append(
                _check(
                    "k3s",
                    "no control-plane taints",
                    "fail",
                    "tainted: %s" % "; ".join(tainted),
                    "run site.yml (the servers are hybrid: the k3s_server role removes these taints), or "
                    "kubectl taint nodes <node> <key>-",
                )
            )
        else:
            checks.append(
                _check(
                    "k3s",
                    "no control-plane taints",
                    "pass",
                    "no NoSchedule/NoExecute control-plane taint on %d node(s)" % len(nodes),
                )
            )

    classes_result = _mapping(results["storage_classes"])
    if results["storage_classes"] is None or "resources" not in classes_result:
        checks.append(
            _check(
                "k3s",
                "default StorageClass",
                "fail",
                "StorageClasses not read: %s" % classes_result.get("msg", "no result"),
                api_fix,
            )
        )
    else:
        classes = _resources(classes_result)
        defaults = [
            "%s (%s)" % (_mapping(c.get("metadata")).get("name"), c.get("provisioner"))
            for c in classes
            if any(
                _mapping(_mapping(c.get("metadata")).get("annotations")).get(a) == "true"
                for a in DEFAULT_CLASS_ANNOTATIONS
            )
        ]
        fix = "run site.yml: the local_path_storage role makes local-path the one default StorageClass"
        all_names = _names(_mapping(c.get("metadata")).get("name") for c in classes)
        if len(defaults) == 1:
            checks.append(
                _check(
                    "k3s", "default StorageClass", "pass", "%s is the default (classes: %s)" % (defaults[0], all_names)
                )
            )
        elif not defaults:
            checks.append(_check("k3s", "default StorageClass", "fail", "no default among: %s" % all_names, fix))
        else:
            checks.append(_check("k3s", "default StorageClass", "fail", "several defaults: %s" % _names(defaults), fix))

    pods_result = _mapping(results["pods"])
    if results["pods"] is None or "resources" not in pods_result:
        checks.append(
            _check(
                "k3s", "core pods running", "fail", "pods not read: %s" % pods_result.get("msg", "no result"), api_fix
            )
        )
    else:
        pods = _resources(pods_result)
        bad = []
        running = []
        for pod in pods:
            pod_name = _mapping(pod.get("metadata")).get("name")
            status = _mapping(pod.get("status"))
            phase = status.get("phase")
            if phase == "Succeeded":
                continue
            containers = [_mapping(c) for c in _list(status.get("containerStatuses"))]
            not_ready = [c.get("name") for c in containers if not c.get("ready")]
            if phase == "Running" and containers and not not_ready:
                running.append(pod_name)
            else:
                waiting = [
                    _mapping(_mapping(c.get("state")).get("waiting")).get("reason")
                    for c in containers
                    if _mapping(_mapping(c.get("state")).get("waiting")).get("reason")
                ]
                bad.append("%s %s%s" % (pod_name, phase, (" (%s)" % ", ".join(waiting)) if waiting else ""))
        has_dns = any((name or "").startswith("coredns") for name in running)
        if bad or not has_dns:
            saw = "not running and ready in kube-system: %s" % ("; ".join(bad) if bad else "none")
            if not has_dns:
                saw += "; no running CoreDNS pod"
            checks.append(
                _check(
                    "k3s",
                    "core pods running",
                    "fail",
                    saw,
                    "kubectl -n kube-system describe pod <pod> and kubectl -n kube-system logs <pod>",
                )
            )
        else:
            checks.append(
                _check(
                    "k3s",
                    "core pods running",
                    "pass",
                    "%d pod(s) running and ready in kube-system: %s" % (len(running), _names(running)),
                )
            )
    return checks + _service_checks(obs, "k3s")


# -- Patroni -----------------------------------------------------------------------------------


def _patroni_checks(obs, settings):
    hosts = obs.group("patroni")
    if not hosts:
        return [_check("patroni", "Patroni cluster", "skip", "no patroni hosts in the inventory")]
    result = obs.first("patroni_check")
    runner = obs.first("patroni_runner")
    source = " (from %s)" % runner if runner else ""
    checks = []
    if not isinstance(result, dict):
        return [
            _check(
                "patroni",
                "cluster healthy",
                "fail",
                "not checked: no patroni host was reachable to ask from",
                "make a patroni host reachable over SSH (see the hosts checks)",
            ),
            *_service_checks(obs, "patroni"),
        ]
    if "healthy" not in result:
        return [
            _check(
                "patroni",
                "cluster healthy",
                "fail",
                "no member answered%s: %s" % (source, result.get("msg", "")),
                "start Patroni on the members: systemctl start patroni; journalctl -u patroni -n 50",
            ),
            *_service_checks(obs, "patroni"),
        ]

    scope = result.get("scope") or "?"
    members = [_mapping(m) for m in _list(result.get("members"))]
    problems = _list(result.get("problems"))
    leader = result.get("leader")
    if result.get("healthy"):
        timelines = sorted(set("%s" % m.get("timeline") for m in members if m.get("timeline") is not None))
        checks.append(
            _check(
                "patroni",
                "cluster %s healthy" % scope,
                "pass",
                "%d members, leader %s, timeline %s%s" % (len(members), leader, ", ".join(timelines) or "?", source),
            )
        )
    else:
        if result.get("uninitialized"):
            fix = (
                "the members wait for a leader to bootstrap: if their data directories were wiped, run "
                "playbooks/patroni_recover_stale_dcs.yml"
            )
        else:
            fix = "on the member named: systemctl status patroni; journalctl -u patroni -n 50"
        checks.append(
            _check("patroni", "cluster %s healthy" % scope, "fail", "; ".join("%s" % p for p in problems) + source, fix)
        )

    leaders = [m for m in members if m.get("role") in ("leader", "master", "standby_leader", "primary")]
    if leader and len(leaders) == 1:
        checks.append(
            _check(
                "patroni",
                "one leader",
                "pass",
                "%s (%s, %s)" % (leader, leaders[0].get("role"), leaders[0].get("state")),
            )
        )
    else:
        checks.append(
            _check(
                "patroni",
                "one leader",
                "fail",
                "leaders: %s" % _names(m.get("name") for m in leaders),
                "see the cluster check; a failover takes about Patroni's ttl (30 s)",
            )
        )

    by_name = dict((m.get("name"), m) for m in members)
    max_lag = settings["patroni_max_lag"]
    for host in hosts:
        member = by_name.get(host)
        name = "member %s" % host
        fix = "on %s: systemctl status patroni; journalctl -u patroni -n 50" % host
        if member is None:
            checks.append(
                _check("patroni", name, "fail", "not registered in the DCS (members: %s)" % _names(by_name), fix)
            )
            continue
        role, state, lag = member.get("role"), member.get("state"), member.get("lag")
        where = "%s, %s, timeline %s" % (role, state, member.get("timeline"))
        if member in leaders:
            status = "pass" if state == "running" else "fail"
            checks.append(_check("patroni", name, status, where, fix))
        elif state not in ("streaming", "running"):
            checks.append(_check("patroni", name, "fail", where, fix))
        elif lag is None:
            checks.append(_check("patroni", name, "warn", "%s, lag unknown" % where, fix))
        elif lag > max_lag:
            checks.append(
                _check(
                    "patroni",
                    name,
                    "fail",
                    "%s, lag %s (more than %s)" % (where, _size(lag), _size(max_lag)),
                    "on %s: is replay paused (SELECT pg_wal_replay_resume()) or the network slow?" % host,
                )
            )
        else:
            checks.append(_check("patroni", name, "pass", "%s, lag %s" % (where, _size(lag))))
    extra = [n for n in by_name if n not in hosts]
    if extra:
        checks.append(
            _check(
                "patroni",
                "members match servers.yaml",
                "warn",
                "members not in servers.yaml: %s" % _names(extra),
                "stop Patroni on them, or add them to servers.yaml",
            )
        )
    if result.get("paused"):
        checks.append(
            _check(
                "patroni",
                "automatic failover",
                "warn",
                "maintenance mode (paused): no automatic failover",
                "patronictl resume, once the maintenance is over",
            )
        )
    return checks + _service_checks(obs, "patroni")


# -- HAProxy -----------------------------------------------------------------------------------


def _server_up(row):
    status = row.get("status") or ""
    return status.startswith("UP") or status == "no check"


def _server_text(row):
    text = "%s %s" % (row.get("svname"), row.get("status"))
    if not _server_up(row) and row.get("check_status"):
        text += " (%s%s)" % (row.get("check_status"), (" " + row["check_code"]) if row.get("check_code") else "")
    return text


def _haproxy_checks(obs):
    hosts = obs.group("haproxy")
    if not hosts:
        return [_check("haproxy", "HAProxy", "skip", "no haproxy hosts in the inventory")]
    patroni = _mapping(obs.first("patroni_check"))
    patroni_leader = patroni.get("leader")
    patroni_hosts = obs.group("patroni")
    k3s_nodes = obs.group("k3s_server") + obs.group("k3s_agent")
    checks = []
    for host in hosts:
        result = obs.host(host).get("haproxy_info")
        if not isinstance(result, dict):
            checks.append(
                _check(
                    "haproxy",
                    "stats socket on %s" % host,
                    "fail",
                    "not checked: %s" % obs.why_missing(host),
                    _fix_reach(host),
                )
            )
        elif "stats" not in result:
            checks.append(
                _check(
                    "haproxy",
                    "stats socket on %s" % host,
                    "fail",
                    result.get("msg", "no answer"),
                    "on %s: systemctl status haproxy; journalctl -u haproxy -n 50" % host,
                )
            )
        else:
            checks.extend(_backend_checks(host, result, patroni_leader, patroni_hosts, k3s_nodes))
        auth = obs.host(host).get("haproxy_stats_auth")
        name = "stats page on %s with the credentials" % host
        if not isinstance(auth, dict):
            checks.append(_check("haproxy", name, "fail", "not checked: %s" % obs.why_missing(host), _fix_reach(host)))
        elif auth.get("status") == 200:
            checks.append(_check("haproxy", name, "pass", "answered 200 to the stats user"))
        elif _int(auth.get("status"), -1) < 0:
            checks.append(
                _check(
                    "haproxy",
                    name,
                    "fail",
                    "did not answer: %s" % _short_error(auth.get("msg", "")),
                    "on %s: systemctl status haproxy; the stats page listens on haproxy_stats_port (8404)" % host,
                )
            )
        else:
            checks.append(
                _check(
                    "haproxy",
                    name,
                    "fail",
                    "answered %s: %s" % (auth.get("status"), auth.get("msg", "")),
                    "the stats password on the controller (secrets/haproxy-stats-password or "
                    "haproxy_stats_password) must be the one HAProxy runs with: run site.yml",
                )
            )
    return checks + _service_checks(obs, "haproxy")


def _backend_checks(host, result, patroni_leader, patroni_hosts, k3s_nodes):
    checks = []
    proxies = {}
    for row in map(_mapping, _list(result.get("stats"))):
        proxies.setdefault(row.get("pxname"), []).append(row)
    for proxy, rows in proxies.items():
        backend = next((row for row in rows if row.get("svname") == "BACKEND"), None)
        if backend is None:
            continue
        servers = [row for row in rows if row.get("svname") not in ("FRONTEND", "BACKEND")]
        up = [row.get("svname") for row in servers if _server_up(row)]
        listing = "; servers: %s" % ", ".join(_server_text(row) for row in servers) if servers else ""
        name = "backend %s on %s" % (proxy, host)
        saw = "%s%s" % (backend.get("status"), listing)
        if proxy == "postgres_primary":
            counted = up
            if len(up) > 1 and not patroni_hosts and host in k3s_nodes:
                # Spilo mode: the HAProxy host's own node answers through kube-proxy beside the leader's node.
                counted = [server for server in up if server != host]
            if len(counted) == 1 and patroni_leader and counted[0] in patroni_hosts and counted[0] != patroni_leader:
                checks.append(
                    _check(
                        "haproxy",
                        name,
                        "fail",
                        "%s: sends to %s but Patroni's leader is %s" % (saw, counted[0], patroni_leader),
                        "see the Patroni checks; HAProxy marks servers every 2 s",
                    )
                )
            elif len(counted) == 1:
                checks.append(_check("haproxy", name, "pass", "exactly one server UP (%s): %s" % (counted[0], saw)))
            elif not counted:
                checks.append(
                    _check(
                        "haproxy",
                        name,
                        "fail",
                        "no server UP, clients get no primary: %s" % saw,
                        "no member answers 200 on Patroni's /primary: see the Patroni checks",
                    )
                )
            else:
                checks.append(
                    _check(
                        "haproxy",
                        name,
                        "fail",
                        "%d servers UP (%s), more than one primary: %s" % (len(counted), _names(counted), saw),
                        "see the Patroni checks: only the leader may answer 200 on /primary",
                    )
                )
            continue
        if not (backend.get("status") or "").startswith("UP"):
            checks.append(
                _check(
                    "haproxy",
                    name,
                    "fail",
                    saw,
                    "no server of %s is up: see the checks of its servers (etcd, Patroni, K3s)" % proxy,
                )
            )
            continue
        down = [row.get("svname") for row in servers if not _server_up(row)]
        if proxy == "postgres_replicas" and patroni_leader:
            # The leader is no replica: its DOWN is expected.
            down = [server for server in down if server != patroni_leader]
        if down:
            checks.append(
                _check(
                    "haproxy",
                    name,
                    "warn",
                    "%s; down: %s" % (saw, _names(down)),
                    "see the checks of %s (a replica is down when it lags more than 1 MB or does not "
                    "stream)" % _names(down),
                )
            )
        else:
            checks.append(_check("haproxy", name, "pass", saw))
    if not checks:
        checks.append(
            _check(
                "haproxy",
                "backends on %s" % host,
                "fail",
                "no backend in 'show stat'",
                "check /etc/haproxy/haproxy.cfg: run site.yml",
            )
        )
    return checks


# -- security ----------------------------------------------------------------------------------


def _short_error(msg):
    """ansible.builtin.uri's failure message without its wrapping: the reason only."""
    text = _text(msg)
    text = re.sub(r"^Status code was -?[0-9]+ and not \[[^]]*\]: ", "", text)
    text = re.sub(r"^(Request failed|Connection failure): ", "", text)
    # The "<url...open error ...>" wrapper, spelled so that ansible-test does not take it for a direct call.
    match = re.match(r"^<url[o]pen error (.*)>$", text)
    return match.group(1) if match else text


def classify_no_cert(status, msg):
    """(status, saw) of an HTTPS request to etcd without a client certificate (ansible.builtin.uri's status and msg)."""
    code = _int(status, -1)
    text = _short_error(msg)
    lower = text.lower()
    if code > 0:
        return "fail", "answered HTTP %d to a client without a certificate" % code
    if any(marker in lower for marker in NOT_VERIFIED):
        return "warn", "not verified: its certificate did not verify against the CA: %s" % text
    if any(marker in lower for marker in NO_ANSWER):
        return "warn", "not verified: it did not answer: %s" % text
    if any(marker in lower for marker in TLS_REFUSALS):
        return "pass", "refused the TLS session: %s" % text
    return "warn", "not verified: %s" % (text or "no answer")


def _security_checks(obs):
    checks = []
    hosts = obs.group("etcd")
    if hosts:
        results = obs.first("etcd_no_cert")
        by_host = {}
        for result in map(_mapping, _list(_mapping(results).get("results"))):
            by_host[_mapping(result.get("item")).get("key")] = result
        for host in hosts:
            name = "etcd %s refuses a client without a certificate" % host
            result = by_host.get(host)
            if result is None:
                checks.append(
                    _check(
                        "security",
                        name,
                        "fail",
                        "not checked: no etcd host was reachable to ask from",
                        "make an etcd host reachable over SSH (see the hosts checks)",
                    )
                )
                continue
            url = _mapping(_mapping(result.get("item")).get("value")).get("endpoint") or result.get("url") or ""
            status, saw = classify_no_cert(result.get("status"), result.get("msg"))
            fix = {
                "fail": "etcd must require client certificates (client-cert-auth: true in /etc/etcd/etcd.conf.yml): "
                "run site.yml",
                "warn": "see the member check of %s, then run the report again" % host,
            }.get(status)
            checks.append(_check("security", name, status, "%s %s" % (url, saw), fix))
    for host in obs.group("haproxy"):
        name = "HAProxy stats on %s refuse anonymous access" % host
        result = obs.host(host).get("haproxy_stats_anonymous")
        if not isinstance(result, dict):
            checks.append(_check("security", name, "fail", "not checked: %s" % obs.why_missing(host), _fix_reach(host)))
            continue
        code = _int(result.get("status"), -1)
        url = result.get("url") or ""
        if code == 401:
            checks.append(_check("security", name, "pass", "%s answered 401 without credentials" % url))
        elif 200 <= code < 400:
            checks.append(
                _check(
                    "security",
                    name,
                    "fail",
                    "%s answered %d without credentials" % (url, code),
                    "haproxy.cfg must have 'stats auth' in its stats section: run site.yml",
                )
            )
        elif code > 0:
            checks.append(
                _check(
                    "security",
                    name,
                    "warn",
                    "%s answered %d, not 401" % (url, code),
                    "check haproxy_stats_uri and the stats section of /etc/haproxy/haproxy.cfg",
                )
            )
        else:
            checks.append(
                _check(
                    "security",
                    name,
                    "warn",
                    "not verified: %s did not answer: %s" % (url, _short_error(result.get("msg", ""))),
                    "see the HAProxy checks of %s, then run the report again" % host,
                )
            )
    if not checks:
        checks.append(_check("security", "security", "skip", "no etcd or haproxy hosts in the inventory"))
    return checks


# -- filters -----------------------------------------------------------------------------------


def health_checks(
    observations,
    now=None,
    *,
    cert_warn_days=30,
    quota_warn_percent=80,
    quota_fail_percent=95,
    patroni_max_lag=1048576,
    etcd_quota_bytes=2147483648,
):
    """The checks (a list of {group, name, status, saw, fix}) from the playbook's observations."""
    obs = Observations(observations)
    settings = {
        "now": _parse_time(now) if now is not None else datetime.datetime.now(datetime.timezone.utc),
        "cert_warn_days": int(cert_warn_days),
        "quota_warn_percent": float(quota_warn_percent),
        "quota_fail_percent": float(quota_fail_percent),
        "patroni_max_lag": int(patroni_max_lag),
        "etcd_quota_bytes": int(etcd_quota_bytes),
    }
    checks = []
    checks.extend(_host_checks(obs))
    checks.extend(_etcd_checks(obs, settings) + _service_checks(obs, "etcd"))
    checks.extend(_k3s_checks(obs))
    checks.extend(_patroni_checks(obs, settings))
    checks.extend(_haproxy_checks(obs))
    checks.extend(_security_checks(obs))
    return checks


def _validated(checks):
    if not is_sequence(checks):
        raise AnsibleFilterError("the health checks must be a list")
    for check in checks:
        if not isinstance(check, dict) or check.get("status") not in STATUSES:
            raise AnsibleFilterError("not a health check (status must be one of %s): %s" % (", ".join(STATUSES), check))
    return checks


def health_score(checks):
    """{passed, warnings, failed, skipped, total, ok} of a list of checks."""
    checks = _validated(checks)
    counts = dict((status, sum(1 for check in checks if check["status"] == status)) for status in STATUSES)
    return {
        "passed": counts["pass"],
        "warnings": counts["warn"],
        "failed": counts["fail"],
        "skipped": counts["skip"],
        "total": len(checks),
        "ok": counts["fail"] == 0,
    }


def score_line(score):
    line = "score: %d passed, %d warnings, %d failed" % (score["passed"], score["warnings"], score["failed"])
    if score["skipped"]:
        line += ", %d skipped" % score["skipped"]
    return line + " (of %d)" % score["total"]


def health_report(checks, cluster="cluster", time=None):
    """The plain-text report, as a list of lines: header, the checks by group, the score line."""
    checks = _validated(checks)
    when = _parse_time(time) if time is not None else datetime.datetime.now(datetime.timezone.utc)
    lines = ["%s health report, %s" % (_text(cluster), when.strftime("%Y-%m-%d %H:%M:%S UTC"))]
    groups = list(GROUPS) + sorted(set(c["group"] for c in checks if c["group"] not in GROUPS))
    for group in groups:
        members = [check for check in checks if check["group"] == group]
        if not members:
            continue
        lines.append("")
        lines.append("== %s ==" % group)
        for check in members:
            lines.append(
                "%-4s  %s  %s \u2014 saw: %s"
                % (check["status"].upper(), group, _text(check["name"]), _text(check["saw"]))
            )
            if check.get("fix") and check["status"] in ("warn", "fail"):
                lines.append("  fix: %s" % _text(check["fix"]))
    lines.append("")
    lines.append(score_line(health_score(checks)))
    return lines


class FilterModule:
    """The health report filters."""

    def filters(self):
        return {
            "health_checks": health_checks,
            "health_score": health_score,
            "health_report": health_report,
        }
