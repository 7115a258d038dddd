# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The service checks of the health report: the systemd unit of each service group runs on its hosts.

Each check goes to the report group of its service (etcd, k3s, patroni, haproxy), after that group's
own checks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.common import as_dict, check, fix_reach

# The systemd unit each service group runs, and the report group its check goes to.
SERVICE_UNITS = (
    ("etcd", "etcd", "etcd"),
    ("patroni", "patroni", "patroni"),
    ("haproxy", "haproxy", "haproxy"),
    ("k3s_server", "k3s", "k3s"),
    ("k3s_agent", "k3s-agent", "k3s"),
)


def service_checks(obs, report_group):
    """'<unit> service on <host> running' for the service groups that report to report_group."""
    checks = []
    for group, unit, target in SERVICE_UNITS:
        if target == report_group:
            checks.extend(running_check(obs, report_group, unit, host) for host in obs.group(group))
    return checks


def running_check(obs, report_group, unit, host):
    """'<unit> service on <host> running', from the host's service facts."""
    name = "%s service on %s running" % (unit, host)
    facts = obs.host(host).get("services")
    services = as_dict(as_dict(as_dict(facts).get("ansible_facts")).get("services"))
    if not services:
        reason = obs.why_missing(host) if facts is None else as_dict(facts).get("msg", "no service facts")
        return check(report_group, name, "fail", "not checked: %s" % reason, fix_reach(host))
    service = as_dict(services.get("%s.service" % unit))
    state = service.get("state")
    if state == "running":
        return check(report_group, name, "pass", "%s.service %s (%s)" % (unit, state, service.get("status", "?")))
    return check(
        report_group,
        name,
        "fail",
        "%s.service %s" % (unit, ("%s (%s)" % (state, service.get("status", "?"))) if service else "not installed"),
        "on %s: systemctl start %s; if it does not stay up: journalctl -u %s -n 50; "
        "if it is not installed: run site.yml" % (host, unit, unit),
    )
