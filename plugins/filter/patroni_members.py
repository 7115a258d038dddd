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

from ansible_collections.gardenos.cluster.plugins.plugin_utils.healthy_member import first_healthy

HEALTHY_STATES = ("running", "streaming")


def _problem(host, report):
    """Why this host's own measured patroni_check report does not show it healthy; None when it does."""
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
    return first_healthy("patroni_healthy_member", candidates, reports, _problem)


class FilterModule(object):
    def filters(self):
        return {"patroni_healthy_member": patroni_healthy_member}
