#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: etcd_member
short_description: Add (as a learner), promote or remove an etcd cluster member
version_added: 0.1.0
description:
  - Manages the membership of an etcd v3 cluster through etcd's JSON gateway, like
    C(etcdctl member add --learner), C(etcdctl member promote) and C(etcdctl member remove).
  - With O(state=present), a member whose name is O(name) or that has one of O(peer_urls) is left as it
    is, except that a learner is promoted to a voting member when O(promote=true). Otherwise a new
    member is added B(as a learner), and RV(initial_cluster) tells how to start etcd on it.
  - A learner can only be promoted once etcd runs on it and it has caught up with the leader, so
    joining a node takes two calls, with O(state=present) both times. The first adds the learner and
    returns RV(initial_cluster); then start etcd on the node with C(--initial-cluster-state existing)
    and that C(--initial-cluster); the second call promotes it, retrying for up to O(wait_timeout)
    seconds while the learner catches up.
  - With O(state=absent), the member named O(name) (or having one of O(peer_urls)) is removed. The
    module refuses to remove the last member, and refuses to remove a voting member when the voting
    members left would not have a healthy quorum (it checks the C(/health) of each of them).
author:
  - gardenos.cluster developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - gardenos.cluster.attributes
  - gardenos.cluster.etcd
  - gardenos.cluster.etcd.actiongroup_etcd
attributes:
  check_mode:
    support: full
    details: Reports what would be added, promoted or removed; RV(members) shows the outcome.
  diff_mode:
    support: none
options:
  name:
    description:
      - Name of the member (etcd's C(--name)).
      - Required with O(state=present). With O(state=absent), O(name) or O(peer_urls) is required.
      - A member that was added but has not started has no name yet in etcd; it is found by its peer URLs.
    type: str
  peer_urls:
    description:
      - Peer URLs of the member (etcd's C(--initial-advertise-peer-urls)), for example
        V(https://10.0.0.14:2380).
      - Required with O(state=present).
      - Each must be C(http://host:port) or C(https://host:port), an IPv6 address in brackets
        (V(https://[fd00::14]:2380)), without a path, as etcd wants them. They are checked before
        anything is asked of etcd, in check mode too.
    type: list
    elements: str
  state:
    description:
      - V(present) adds the member as a learner if there is none with that name or those peer URLs,
        and promotes a learner (see O(promote)).
      - V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  promote:
    description:
      - With O(state=present), promote the member if it is a learner, waiting up to O(wait_timeout)
        seconds for it to catch up with the leader; the module fails if it does not.
      - Never done in the call that adds the member (it cannot have started yet).
      - V(false) leaves a learner a learner.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for a learner to be in sync with the leader before it is promoted.
      - Within them, a promotion etcd refuses for a passing reason (it did not commit the request in time, a
        leader election, too many requests) is tried again; one that timed out but committed meanwhile counts as
        done.
    type: int
    default: 60
seealso:
  - module: gardenos.cluster.etcd_info
  - name: etcd learner design
    description: Why a member joins as a learner first.
    link: https://etcd.io/docs/v3.5/learning/design-learner/
"""

EXAMPLES = r"""
- name: Add etcd-4 as a learner
  gardenos.cluster.etcd_member:
    endpoints: [https://10.0.0.11:2379, https://10.0.0.12:2379, https://10.0.0.13:2379]
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/client.crt
    client_key: /etc/etcd/pki/client.key
    name: etcd-4
    peer_urls: [https://10.0.0.14:2380]
  register: joined

- name: Start etcd on the new node as a member of the existing cluster
  ansible.builtin.template:
    src: etcd.env.j2  # ETCD_INITIAL_CLUSTER={{ joined.initial_cluster }}, ETCD_INITIAL_CLUSTER_STATE=existing
    dest: /etc/default/etcd
    mode: "0644"
  delegate_to: etcd-4

- name: Start etcd on the new node
  ansible.builtin.service:
    name: etcd
    state: started
  delegate_to: etcd-4

- name: Promote etcd-4 to a voting member once it has caught up
  gardenos.cluster.etcd_member:
    endpoints: [https://10.0.0.11:2379, https://10.0.0.12:2379, https://10.0.0.13:2379]
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/client.crt
    client_key: /etc/etcd/pki/client.key
    name: etcd-4
    peer_urls: [https://10.0.0.14:2380]
    wait_timeout: 120

- name: Remove etcd-2
  gardenos.cluster.etcd_member:
    endpoints: [https://10.0.0.11:2379, https://10.0.0.13:2379]
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/client.crt
    client_key: /etc/etcd/pki/client.key
    name: etcd-2
    state: absent
"""

RETURN = r"""
members:
  description: The members after the change (in check mode, as they would be).
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Member ID in hex, as etcdctl shows it; null for a member check mode would add.
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
member:
  description: The member managed (same keys as an item of RV(members)); null when O(state=absent) found none.
  returned: success
  type: dict
  sample:
    id: 2a8c1e4f6d0b3c77
    name: etcd-4
    peer_urls: [https://10.0.0.14:2380]
    client_urls: []
    is_learner: true
initial_cluster:
  description:
    - The C(--initial-cluster) value to start etcd on the member with (together with
      C(--initial-cluster-state existing)), C(name=peerURL) for every member.
  returned: when O(state=present)
  type: str
  sample: etcd-1=https://10.0.0.11:2380,etcd-2=https://10.0.0.12:2380,etcd-3=https://10.0.0.13:2380,etcd-4=https://10.0.0.14:2380
added:
  description: Whether the member was (or would be) added.
  returned: success
  type: bool
  sample: true
promoted:
  description: Whether the member was (or would be) promoted from learner to voting member.
  returned: success
  type: bool
  sample: false
removed:
  description: Whether the member was (or would be) removed.
  returned: success
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_gateway import (
    ETCD_REQUIRED_TOGETHER,
    EtcdClient,
    etcd_argument_spec,
)
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_peer_urls import validate_peer_urls


def find_member(members, name, peer_urls):
    """The member with this name or one of these peer URLs; fails on a contradiction."""
    wanted = set(peer_urls or [])
    by_name = [m for m in members if name and m["name"] == name]
    by_peer = [m for m in members if wanted & set(m["peer_urls"])]
    if by_name and by_peer and by_name[0]["id"] != by_peer[0]["id"]:
        raise GardenosClusterError(
            "the name %s belongs to member %s but the peer URLs %s belong to member %s (%s)"
            % (name, by_name[0]["id"], ", ".join(sorted(wanted)), by_peer[0]["id"], by_peer[0]["name"] or "not started")
        )
    if by_name:
        return by_name[0]
    if by_peer:
        member = by_peer[0]
        if name and member["name"] and member["name"] != name:
            raise GardenosClusterError(
                "the peer URLs %s belong to member %s named %s, not %s"
                % (", ".join(sorted(wanted & set(member["peer_urls"]))), member["id"], member["name"], name)
            )
        return member
    return None


def initial_cluster(members, target, name):
    """name=peerURL,... of every member, the target under the given name (it may have none yet)."""
    parts = []
    for member in members:
        member_name = name if member is target or (target["id"] and member["id"] == target["id"]) else member["name"]
        for url in member["peer_urls"]:
            parts.append("%s=%s" % (member_name, url))
    return ",".join(parts)


def present(module, client, members, peer_urls):
    params = module.params
    result = dict(changed=False, added=False, promoted=False, removed=False)
    member = find_member(members, params["name"], peer_urls)
    if member is None:
        result.update(changed=True, added=True)
        if module.check_mode:
            member = dict(id=None, name="", peer_urls=list(peer_urls), client_urls=[], is_learner=True)
            members = [*members, member]
        else:
            member, members = client.member_add(peer_urls, is_learner=True)
            member = next((m for m in members if m["id"] == member["id"]), member)
    else:
        if sorted(member["peer_urls"]) != sorted(peer_urls):
            module.warn(
                "member %s has peer URLs %s, not %s; this module does not change them"
                % (params["name"], ", ".join(member["peer_urls"]), ", ".join(peer_urls))
            )
        if member["is_learner"] and params["promote"]:
            result.update(changed=True, promoted=True)
            if module.check_mode:
                member = dict(member, is_learner=False)
                members = [member if m["id"] == member["id"] else m for m in members]
            else:
                members = client.member_promote_when_ready(member["id"], params["wait_timeout"])
                member = next((m for m in members if m["id"] == member["id"]), dict(member, is_learner=False))
    result.update(member=member, members=members, initial_cluster=initial_cluster(members, member, params["name"]))
    return result


def absent(module, client, members, peer_urls):
    result = dict(changed=False, added=False, promoted=False, removed=False, member=None, members=members)
    member = find_member(members, module.params["name"], peer_urls)
    if member is None:
        return result
    label = "%s (%s)" % (member["name"] or "not started", member["id"])
    if len(members) == 1:
        raise GardenosClusterError("refusing to remove %s: it is the last member of the cluster" % label)
    if not member["is_learner"]:
        remaining = [m for m in members if not m["is_learner"] and m["id"] != member["id"]]
        if not remaining:
            raise GardenosClusterError(
                "refusing to remove %s: it is the last voting member (the others are learners)" % label
            )
        quorum = len(remaining) // 2 + 1
        unhealthy = []
        for other in remaining:
            healthy, reason = client.member_health(other)
            if not healthy:
                unhealthy.append("%s (%s): %s" % (other["name"] or "not started", other["id"], reason))
        healthy_count = len(remaining) - len(unhealthy)
        if healthy_count < quorum:
            raise GardenosClusterError(
                "refusing to remove %s: the %d voting members left would need %d healthy for quorum, but only %d"
                " are healthy. Unhealthy: %s" % (label, len(remaining), quorum, healthy_count, "; ".join(unhealthy)),
                unhealthy_members=unhealthy,
            )
    result.update(changed=True, removed=True, member=member)
    if module.check_mode:
        result["members"] = [m for m in members if m["id"] != member["id"]]
    else:
        result["members"] = client.member_remove(member["id"])
    return result


def run(module):
    # Checked before any request, in check mode too: what the real run would send is what is checked.
    peer_urls = module.params["peer_urls"]
    if peer_urls or module.params["state"] == "present":
        peer_urls = validate_peer_urls(peer_urls)
    client = EtcdClient.from_params(module.params)
    members = client.member_list()
    if module.params["state"] == "present":
        return present(module, client, members, peer_urls)
    return absent(module, client, members, peer_urls)


def main():
    argument_spec = etcd_argument_spec(
        name=dict(type="str"),
        peer_urls=dict(type="list", elements="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        promote=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=60),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_if=[["state", "present", ["name", "peer_urls"]]],
        required_one_of=[["name", "peer_urls"]],
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
