# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Patroni member the patroni role's removal talks through: the first by name that is healthy.

Each candidate host asks its own Patroni's REST API (``gardenos.cluster.patroni_check`` with its own
URL); a host counts as healthy when it answered and lists itself running (a leader) or streaming /
running (a replica). A host that could not be reached, or whose Patroni is stopped, is passed over
with the reason, so the choice never falls on a dead server and is the same on every run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

HEALTHY_STATES = ("running", "streaming")


def _problem(host, report):
    """Why this host's own patroni_check report does not show it healthy; None when it does."""
    if not isinstance(report, Mapping) or not report:
        return "not measured (not in the play)"
    if report.get("unreachable"):
        return "host unreachable: %s" % report.get("msg", "")
    if report.get("skipped"):
        return "not measured (skipped)"
    own = [m for m in report.get("members") or [] if isinstance(m, Mapping) and m.get("name") == host]
    if not own:
        return report.get("msg") or "its Patroni does not list it as a member"
    if own[0].get("state") not in HEALTHY_STATES:
        return "its Patroni is in state '%s'" % own[0].get("state")
    return None


def patroni_healthy_member(candidates, reports):
    """The first candidate (by name) whose own patroni_check report lists it running, and why the others are not.

    ``candidates``: host names (Patroni member names); ``reports``: {host: patroni_check result registered there}.
    Returns ``{"member": <host> or None, "unhealthy": ["<host>: <reason>", ...]}``.
    """
    if not isinstance(reports, Mapping):
        raise AnsibleFilterError("patroni_healthy_member expects a mapping of host names to patroni_check results")
    unhealthy = []
    for host in sorted(candidates or []):
        problem = _problem(host, reports.get(host))
        if problem is None:
            return {"member": host, "unhealthy": unhealthy}
        unhealthy.append("%s: %s" % (host, problem))
    return {"member": None, "unhealthy": unhealthy}


class FilterModule(object):
    def filters(self):
        return {"patroni_healthy_member": patroni_healthy_member}
