# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The etcd role's membership decisions: which member the API calls go through, which lost its data.

- ``etcd_healthy_member``: the role talks to the cluster through one member, the first by name whose
  etcd answered healthy when asked on its own host (``gardenos.cluster.etcd_info``), never one
  merely assumed alive: a member that is down, a learner, or a host that could not be reached is
  passed over, with the reason.
- ``etcd_lost_members``: the servers that hold no etcd data but that the cluster still lists as
  members lost their data (a wiped data directory, a replaced disk). Started under their old member
  ID they would crash-loop (``tocommit(N) is out of range [lastIndex(0)]``), so the role removes
  them and adds them back as new learners, one at a time; that needs a quorum of the voters that
  kept their data, or nothing is touched and a restore from a snapshot is the way back.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.plugin_utils.healthy_member import first_healthy


def _health_problem(_host, report):
    """Why a measured etcd_info report does not show a healthy member; None when it does."""
    if report.get("healthy") is True:
        return None
    # A failure registered under failed_when: false has failed false and its msg.
    errors = [e.get("error") for e in report.get("endpoints") or [] if isinstance(e, Mapping) and e.get("error")]
    return "; ".join(errors) or report.get("msg") or "unhealthy"


def etcd_healthy_member(candidates, reports):
    """The first candidate (by name) whose own etcd_info report is healthy, and why the others are not.

    ``candidates``: host names; ``reports``: {host: the etcd_info result registered on that host}.
    Returns ``{"member": <host> or None, "unhealthy": ["<host>: <reason>", ...]}``.
    """
    return first_healthy("etcd_healthy_member", candidates, reports, _health_problem)


def _listed_member(members, host, peer_url):
    """The member the cluster lists for this host: by name, or by peer URL (one added, never started)."""
    for member in members:
        if member.get("name") == host or peer_url in (member.get("peer_urls") or []):
            return member
    return None


def etcd_lost_members(hosts_without_data, members, peer_urls):
    """Which of the servers without etcd data the cluster still lists, and whether they can rejoin.

    ``hosts_without_data``: servers whose data directory holds no member data; ``members``: the
    cluster's members (etcd_info's ``members``); ``peer_urls``: {host: its peer URL}.
    Returns ``{"lost": [{"host", "id", "is_learner"}, ...], "refusal": ""}``; ``refusal`` says why
    the lost members cannot be re-added one by one (too few voters kept their data for a quorum).
    """
    if not isinstance(peer_urls, Mapping):
        raise AnsibleFilterError("etcd_lost_members expects a mapping of host names to peer URLs")
    lost = []
    for host in sorted(hosts_without_data or []):
        member = _listed_member(members or [], host, peer_urls.get(host))
        if member is not None:
            lost.append({"host": host, "id": member.get("id"), "is_learner": bool(member.get("is_learner"))})
    voters = [m for m in members or [] if not m.get("is_learner")]
    lost_voters = [m for m in lost if not m["is_learner"]]
    quorum = len(voters) // 2 + 1
    holding = len(voters) - len(lost_voters)
    refusal = ""
    if lost_voters and holding < quorum:
        refusal = (
            "%s lost their etcd data (member %s), and only %d of the %d voting members kept theirs, fewer than"
            " the quorum of %d: the cluster cannot remove and re-add them one at a time, and no member is"
            " touched. Restore the cluster from a snapshot (playbooks/etcd_restore.yml), which makes every"
            " member anew."
            % (
                ", ".join(m["host"] for m in lost_voters),
                ", ".join("%s" % m["id"] for m in lost_voters),
                holding,
                len(voters),
                quorum,
            )
        )
    return {"lost": lost, "refusal": refusal}


class FilterModule(object):
    def filters(self):
        return {
            "etcd_healthy_member": etcd_healthy_member,
            "etcd_lost_members": etcd_lost_members,
        }
