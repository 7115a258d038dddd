# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An etcd cluster's state as gardenos.cluster.etcd_info reports it: members, leader, versions, database
size, alarms, and the status and health of each endpoint (``etcdctl member list``, ``endpoint status``
and ``endpoint health`` together).

Standard library and ``ansible.module_utils`` only: it runs on the managed node.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_members import member_id_to_hex

# gRPC codes of an alarm list the user may not read (PERMISSION_DENIED, UNAUTHENTICATED): reported
# as unknown alarms, not as a failure.
ALARMS_FORBIDDEN_CODES = (7, 16)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _empty_report(endpoint):
    return dict(
        endpoint=endpoint,
        healthy=False,
        error=None,
        member_id=None,
        name=None,
        version=None,
        db_size=None,
        db_size_in_use=None,
        is_leader=False,
        is_learner=False,
        leader_id=None,
        raft_index=None,
        raft_term=None,
        raft_applied_index=None,
        errors=[],
    )


def endpoint_report(client, endpoint):
    """(report, status answer or None) of one endpoint's status and health; never raises for an
    endpoint that is down."""
    report = _empty_report(endpoint)
    try:
        status = client.status(endpoint)
    except GardenosClusterError as exc:
        report["error"] = exc.msg
        return report, None
    member_id = member_id_to_hex(status.get("header", {}).get("member_id", "0"))
    leader = status.get("leader")
    report.update(
        member_id=member_id,
        version=status.get("version"),
        db_size=_int(status.get("dbSize")),
        db_size_in_use=_int(status.get("dbSizeInUse")) if "dbSizeInUse" in status else None,
        leader_id=member_id_to_hex(leader) if leader and leader != "0" else None,
        raft_index=_int(status.get("raftIndex")),
        raft_term=_int(status.get("raftTerm")),
        raft_applied_index=_int(status.get("raftAppliedIndex")),
        is_learner=bool(status.get("isLearner", False)),
        errors=list(status.get("errors") or []),
    )
    report["is_leader"] = report["leader_id"] == member_id
    healthy, reason = client.health(endpoint)
    report["healthy"] = healthy and not report["errors"] and report["leader_id"] is not None
    if not report["healthy"]:
        report["error"] = reason or "; ".join(report["errors"]) or "no leader"
    return report, status


def majority_leader(answered, names):
    """The leader most answering endpoints agree on (normally all of them), as dict(id, name); or None."""
    votes = {}
    for report in answered:
        if report["leader_id"]:
            votes[report["leader_id"]] = votes.get(report["leader_id"], 0) + 1
    if not votes:
        return None
    leader_id = sorted(votes.items(), key=lambda item: (-item[1], item[0]))[0][0]
    return dict(id=leader_id, name=names.get(leader_id, ""))


def read_alarms(client, names, warn):
    """The active alarms with their members' names; None (and a warning) when the user may not read them."""
    try:
        alarms = client.alarms()
    except GardenosClusterError as exc:
        if exc.details.get("grpc_code") not in ALARMS_FORBIDDEN_CODES:
            raise
        warn("cannot read etcd alarms: %s" % exc.msg)
        return None
    for alarm in alarms:
        alarm["member_name"] = names.get(alarm["member_id"], "")
    return alarms


def cluster_status(client, warn):
    """The cluster's state as etcd_info returns it; ``warn(text)`` reports what could not be read.

    Raises GardenosClusterError when no endpoint answers.
    """
    reports = []
    answered = []
    header = None
    for endpoint in client.endpoints:
        report, status = endpoint_report(client, endpoint)
        reports.append(report)
        if status is not None:
            answered.append(report)
            header = header or status.get("header", {})
    if not answered:
        raise GardenosClusterError(
            "no etcd endpoint answered: %s" % "; ".join("%s" % r["error"] for r in reports),
            endpoints=reports,
        )

    members = client.member_list()
    names = dict((m["id"], m["name"]) for m in members)
    for report in reports:
        if report["member_id"]:
            report["name"] = names.get(report["member_id"])
    leader = majority_leader(answered, names)
    # The database figures of the leader, or else of the first endpoint that answered.
    source = next((r for r in answered if leader and r["member_id"] == leader["id"]), answered[0])
    alarms = read_alarms(client, names, warn)
    return dict(
        cluster_id=member_id_to_hex(header.get("cluster_id", "0")),
        members=members,
        leader=leader,
        version=client.versions(),
        db_size=source["db_size"],
        db_size_in_use=source["db_size_in_use"],
        raft_index=source["raft_index"],
        raft_term=source["raft_term"],
        alarms=alarms,
        healthy=all(r["healthy"] for r in reports),
        endpoints=reports,
    )
