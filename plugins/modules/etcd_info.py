#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: etcd_info
short_description: Report an etcd cluster's members, leader, versions, database size, alarms and health
version_added: 0.1.0
description:
  - Reads the state of an etcd v3 cluster through etcd's JSON gateway, like C(etcdctl member list),
    C(etcdctl endpoint status) and C(etcdctl endpoint health) together.
  - Each of O(endpoints) is asked for its own status (C(/v3/maintenance/status)) and health
    (C(/health)). An endpoint that cannot be reached is reported as unhealthy; the module fails only
    when no endpoint answers.
  - Changes nothing.
author:
  - gardenos.cluster developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - gardenos.cluster.attributes
  - gardenos.cluster.attributes.info_module
  - gardenos.cluster.etcd
options: {}
seealso:
  - module: gardenos.cluster.etcd_member
  - module: gardenos.cluster.etcd_deleterange
"""

EXAMPLES = r"""
- name: Read the etcd cluster's state
  gardenos.cluster.etcd_info:
    endpoints:
      - https://10.0.0.11:2379
      - https://10.0.0.12:2379
      - https://10.0.0.13:2379
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/client.crt
    client_key: /etc/etcd/pki/client.key
  register: etcd

- name: Every endpoint must be healthy and there must be a leader
  ansible.builtin.assert:
    that:
      - etcd.healthy
      - etcd.leader.name | length > 0
      - etcd.alarms | length == 0
"""

RETURN = r"""
cluster_id:
  description: The cluster ID, in hex as etcdctl shows it.
  returned: success
  type: str
  sample: 48273a7c3ab1d3d
members:
  description: The members of the cluster.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Member ID in hex, as etcdctl shows it.
      type: str
      sample: 8e9e05c52164694d
    name:
      description: Member name; empty for a member that was added but has not started yet.
      type: str
      sample: etcd-1
    peer_urls:
      description: Peer URLs.
      type: list
      elements: str
      sample: [https://10.0.0.11:2380]
    client_urls:
      description: Client URLs; empty for a member that has not started yet.
      type: list
      elements: str
      sample: [https://10.0.0.11:2379]
    is_learner:
      description: Whether the member is a learner (non-voting).
      type: bool
      sample: false
leader:
  description: The leader as the answering endpoints see it; null when none has a leader.
  returned: success
  type: dict
  contains:
    id:
      description: Member ID in hex.
      type: str
      sample: 8e9e05c52164694d
    name:
      description: Member name.
      type: str
      sample: etcd-1
version:
  description: etcd versions.
  returned: success
  type: dict
  contains:
    server:
      description: Version of the etcd server that answered first.
      type: str
      sample: 3.5.1
    cluster:
      description: The cluster version (the lowest version every member supports).
      type: str
      sample: 3.5.0
db_size:
  description:
    - Size in bytes of the backend database, as the leader (or else the first endpoint that answered) reports it.
  returned: success
  type: int
  sample: 2387968
db_size_in_use:
  description: Bytes of the backend database in use (the rest is freed by a defragmentation).
  returned: success
  type: int
  sample: 1167360
raft_index:
  description: Raft index (same source as RV(db_size)).
  returned: success
  type: int
  sample: 4213
raft_term:
  description: Raft term (same source as RV(db_size)).
  returned: success
  type: int
  sample: 4
alarms:
  description: Active alarms; null when the user may not read them.
  returned: success
  type: list
  elements: dict
  contains:
    member_id:
      description: ID (hex) of the member that raised it.
      type: str
    member_name:
      description: Name of that member.
      type: str
    alarm:
      description: V(NOSPACE) or V(CORRUPT).
      type: str
  sample: []
healthy:
  description: Whether every endpoint answered and is healthy.
  returned: success
  type: bool
  sample: true
endpoints:
  description: Status and health of each of O(endpoints).
  returned: success
  type: list
  elements: dict
  contains:
    endpoint:
      description: The endpoint URL.
      type: str
    healthy:
      description: Whether it answered and its C(/health) says so (it has a leader, no alarm, serves reads).
      type: bool
    error:
      description: Why it is unhealthy; null when healthy.
      type: str
    member_id:
      description: ID (hex) of the member behind it.
      type: str
    name:
      description: Name of that member.
      type: str
    version:
      description: Its etcd server version.
      type: str
    db_size:
      description: Its database size in bytes.
      type: int
    db_size_in_use:
      description: Bytes in use of its database.
      type: int
    is_leader:
      description: Whether it is the leader.
      type: bool
    is_learner:
      description: Whether it is a learner.
      type: bool
    leader_id:
      description: ID (hex) of the leader it knows; null when it has none.
      type: str
    raft_index:
      description: Its raft index.
      type: int
    raft_term:
      description: Its raft term.
      type: int
    raft_applied_index:
      description: Its applied raft index.
      type: int
    errors:
      description: Errors the member itself reports (for example an alarm).
      type: list
      elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_gateway import (
    ETCD_REQUIRED_TOGETHER,
    EtcdClient,
    etcd_argument_spec,
)
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_members import member_id_to_hex


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def endpoint_report(client, endpoint):
    """Status and health of one endpoint; never raises for an endpoint that is down."""
    report = dict(
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


def run(module):
    client = EtcdClient.from_params(module.params)
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

    # The leader most answering endpoints agree on (normally all of them).
    votes = {}
    for report in answered:
        if report["leader_id"]:
            votes[report["leader_id"]] = votes.get(report["leader_id"], 0) + 1
    leader = None
    if votes:
        leader_id = sorted(votes.items(), key=lambda item: (-item[1], item[0]))[0][0]
        leader = dict(id=leader_id, name=names.get(leader_id, ""))
    source = next((r for r in answered if leader and r["member_id"] == leader["id"]), answered[0])

    try:
        alarms = client.alarms()
        for alarm in alarms:
            alarm["member_name"] = names.get(alarm["member_id"], "")
    except GardenosClusterError as exc:
        if exc.details.get("grpc_code") not in (7, 16):
            raise
        module.warn("cannot read etcd alarms: %s" % exc.msg)
        alarms = None

    versions = client.versions()
    return dict(
        changed=False,
        cluster_id=member_id_to_hex(header.get("cluster_id", "0")),
        members=members,
        leader=leader,
        version=versions,
        db_size=source["db_size"],
        db_size_in_use=source["db_size_in_use"],
        raft_index=source["raft_index"],
        raft_term=source["raft_term"],
        alarms=alarms,
        healthy=all(r["healthy"] for r in reports),
        endpoints=reports,
    )


def main():
    module = AnsibleModule(
        argument_spec=etcd_argument_spec(),
        required_together=ETCD_REQUIRED_TOGETHER,
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except GardenosClusterError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
