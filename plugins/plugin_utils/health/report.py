# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""health_score and health_report: the score of a list of checks and the plain-text report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.common import (
    GROUPS,
    STATUSES,
    one_line,
    parse_time,
)


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
    when = parse_time(time) if time is not None else datetime.datetime.now(datetime.timezone.utc)
    lines = ["%s health report, %s" % (one_line(cluster), when.strftime("%Y-%m-%d %H:%M:%S UTC"))]
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
                % (check["status"].upper(), group, one_line(check["name"]), one_line(check["saw"]))
            )
            if check.get("fix") and check["status"] in ("warn", "fail"):
                lines.append("  fix: %s" % one_line(check["fix"]))
    lines.append("")
    lines.append(score_line(health_score(checks)))
    return lines
