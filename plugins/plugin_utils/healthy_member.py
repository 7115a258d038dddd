# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The member a role's API calls go through: the first candidate by name whose own report, registered
on its own host, shows it healthy (``etcd_healthy_member``, ``patroni_healthy_member``). The choice
never falls on a host that is down or was not asked, and is the same on every run."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def unmeasured(report):
    """Why a registered result says nothing of the host's health (not asked, unreachable, skipped); None else."""
    if not isinstance(report, Mapping) or not report:
        return "not measured (not in the play)"
    if report.get("unreachable"):
        return "host unreachable: %s" % report.get("msg", "")
    if report.get("skipped"):
        return "not measured (skipped)"
    return None


def first_healthy(filter_name, candidates, reports, problem):
    """``{"member": <first candidate by name with no problem> or None, "unhealthy": ["<host>: <reason>", ...]}``.

    ``reports``: {host: result registered there}; ``problem(host, report)``: why that report does not show the
    host healthy, None when it does (called only for a measured report).
    """
    if not isinstance(reports, Mapping):
        raise AnsibleFilterError("%s expects a mapping of host names to registered results" % filter_name)
    unhealthy = []
    for host in sorted(candidates or []):
        report = reports.get(host)
        reason = unmeasured(report) or problem(host, report)
        if reason is None:
            return {"member": host, "unhealthy": unhealthy}
        unhealthy.append("%s: %s" % (host, reason))
    return {"member": None, "unhealthy": unhealthy}
