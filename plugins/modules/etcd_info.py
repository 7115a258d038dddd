#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: etcd_info
short_description: Report an etcd cluster's members, leader, versions, database size, alarms and health, or read keys
version_added: 0.1.0
description:
  - Reads the state of an etcd v3 cluster through etcd's JSON gateway, like C(etcdctl member list),
    C(etcdctl endpoint status) and C(etcdctl endpoint health) together.
  - Each of O(endpoints) is asked for its own status (C(/v3/maintenance/status)) and health
    (C(/health)). An endpoint that cannot be reached is reported as unhealthy; the module fails only
    when no endpoint answers.
  - With O(key), it reads keys and their values instead, like C(etcdctl get), and returns RV(kvs),
    RV(count), RV(truncated) and RV(revision) only. The keys are read in pages of 1000 at one
    revision, from whichever endpoint answers.
  - Changes nothing.
author:
  - gardenos.cluster developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - gardenos.cluster.attributes
  - gardenos.cluster.attributes.info_module
  - gardenos.cluster.etcd
  - gardenos.cluster.etcd.actiongroup_etcd
options:
  key:
    description:
      - Read this key, every key that starts with it (O(prefix=true)), or the keys from it (included)
        to O(range_end) (excluded), in byte order, instead of the cluster's state.
      - Mind the trailing slash with O(prefix=true). V(/service/pg) also matches
        V(/service/pg-2/leader), a different cluster; V(/service/pg/) does not.
      - V(\\0) (backslash and zero) means the NUL byte, the first key of the keyspace, as in O(range_end).
    type: str
  prefix:
    description:
      - With O(key), read every key that starts with O(key).
    type: bool
    default: false
  range_end:
    description:
      - With O(key), read the keys from O(key) (included) to O(range_end) (excluded), in byte order.
      - V(\\0) (backslash and zero, as etcd's tools write it) means every key from O(key) on.
    type: str
  keys_only:
    description:
      - With O(key), read the keys without their values (RV(kvs[].value) is left out).
    type: bool
    default: false
  max_keys:
    description:
      - With O(key), the most keys returned in RV(kvs). RV(count) says how many the range holds, and
        RV(truncated) whether some were left out. V(0) only counts them.
    type: int
    default: 1000
  max_bytes:
    description:
      - With O(key), the most bytes of keys and values together returned in RV(kvs); the key that would
        go past it and those after it are left out (RV(truncated)).
    type: int
    default: 1048576
  served_certificates:
    description:
      - Without O(key), also open a new TLS connection to each of these C(https://) URLs (client or peer URLs
        of members) with the connection's TLS options, and return the certificate each presents in
        RV(served_certificates).
      - etcd reads its certificate and key files at every new TLS handshake, so this shows whether a member
        serves a certificate just installed, with no restart.
    type: list
    elements: dict
    default: []
    suboptions:
      url:
        description: The C(https://) URL.
        type: str
        required: true
      certificate:
        description:
          - A PEM certificate file on the host the module runs on. RV(served_certificates[].serves_certificate)
            says whether the URL presents this certificate.
        type: path
notes:
  - Values are returned as they are, in the result and so in the task's output and registered variable.
    Patroni's keys (C(/service/<scope>/)) and etcd's member data hold no secrets, but etcd can hold them. K3s keeps
    Kubernetes Secrets under C(/registry/secrets/) (encrypted only when K3s's secrets encryption is on).
    Set the task keyword C(no_log) to V(true) on a task that may read such values, or read with O(keys_only=true).
  - Keys and values are returned as text (UTF-8); bytes that are not UTF-8 (K3s's protobuf values, for
    example) come back as C(\\xNN) escapes, so such a value is not returned byte for byte.
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

- name: Read the keys of the Patroni cluster postgres-cluster, with their values
  gardenos.cluster.etcd_info:
    endpoints: [https://10.0.0.11:2379, https://10.0.0.12:2379]
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/client.crt
    client_key: /etc/etcd/pki/client.key
    key: /service/postgres-cluster/
    prefix: true
  register: patroni_keys

- name: Show the leader's name (the value of its key)
  ansible.builtin.debug:
    msg: "{{ (patroni_keys.kvs | selectattr('key', 'eq', '/service/postgres-cluster/leader') | first).value }}"

- name: Wait until a member serves the certificates just installed, on its client and peer port
  gardenos.cluster.etcd_info:
    endpoints: [https://10.0.0.11:2379]
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/client.crt
    client_key: /etc/etcd/pki/client.key
    served_certificates:
      - {url: "https://10.0.0.11:2379", certificate: /etc/etcd/pki/server.crt}
      - {url: "https://10.0.0.11:2380", certificate: /etc/etcd/pki/peer.crt}
  register: served
  until: served.served_certificates | map(attribute='serves_certificate') is all
  retries: 5
  delay: 1

- name: Set the connection once for every etcd module of a block
  module_defaults:
    group/gardenos.cluster.etcd:
      endpoints: [https://10.0.0.11:2379, https://10.0.0.12:2379]
      ca_cert: /etc/etcd/pki/ca.crt
      client_cert: /etc/etcd/pki/client.crt
      client_key: /etc/etcd/pki/client.key
  block:
    - name: Count the keys under /registry/
      gardenos.cluster.etcd_info:
        key: /registry/
        prefix: true
        max_keys: 0
      register: registry

    - name: Read the cluster's state
      gardenos.cluster.etcd_info:
      register: etcd
"""

RETURN = r"""
kvs:
  description:
    - With O(key), the keys read and their values, in byte order (at most O(max_keys), O(max_bytes) in all).
  returned: success, with O(key)
  type: list
  elements: dict
  contains:
    key:
      description: The key (text; bytes that are not UTF-8 as C(\\xNN) escapes).
      type: str
      sample: /service/postgres-cluster/leader
    value:
      description: The value (as the key); left out with O(keys_only=true).
      type: str
      sample: pg-1
    create_revision:
      description: The revision that created the key.
      type: int
      sample: 12
    mod_revision:
      description: The revision that last changed the key.
      type: int
      sample: 845
    version:
      description: How often the key was written since it was created (1 after its creation).
      type: int
      sample: 3
    lease:
      description: The ID (hex) of the lease the key is attached to; null when none.
      type: str
      sample: 694d8065eb518808
count:
  description: With O(key), how many keys the range holds (also those left out of RV(kvs)).
  returned: success, with O(key)
  type: int
  sample: 7
truncated:
  description: With O(key), whether RV(kvs) lists fewer keys than RV(count) (O(max_keys) or O(max_bytes) reached).
  returned: success, with O(key)
  type: bool
  sample: false
revision:
  description: With O(key), the etcd revision the keys were read at.
  returned: success, with O(key)
  type: int
  sample: 1234
served_certificates:
  description: With O(served_certificates), the certificate each of its URLs presented, in the same order.
  returned: success, without O(key)
  type: list
  elements: dict
  contains:
    url:
      description: The URL.
      type: str
      sample: https://10.0.0.11:2380
    sha256:
      description: The SHA-256 fingerprint (hex, lower case) of the certificate's DER form; null when the URL gave none.
      type: str
      sample: 3f1c0a8e6b2d4f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a
    certificate:
      description: The O(served_certificates[].certificate) compared with; null when none was given.
      type: str
      sample: /etc/etcd/pki/peer.crt
    serves_certificate:
      description: Whether the URL presented that file's certificate; null when no file was given or the URL gave none.
      type: bool
      sample: true
    error:
      description: Why no certificate could be read from the URL (or from the file); null when it was.
      type: str
      sample: null
cluster_id:
  description: The cluster ID, in hex as etcdctl shows it.
  returned: success, without O(key)
  type: str
  sample: 48273a7c3ab1d3d
members:
  description: The members of the cluster.
  returned: success, without O(key)
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
  returned: success, without O(key)
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
  returned: success, without O(key)
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
  returned: success, without O(key)
  type: int
  sample: 2387968
db_size_in_use:
  description: Bytes of the backend database in use (the rest is freed by a defragmentation).
  returned: success, without O(key)
  type: int
  sample: 1167360
raft_index:
  description: Raft index (same source as RV(db_size)).
  returned: success, without O(key)
  type: int
  sample: 4213
raft_term:
  description: Raft term (same source as RV(db_size)).
  returned: success, without O(key)
  type: int
  sample: 4
alarms:
  description: Active alarms; null when the user may not read them.
  returned: success, without O(key)
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
  returned: success, without O(key)
  type: bool
  sample: true
endpoints:
  description: Status and health of each of O(endpoints).
  returned: success, without O(key)
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
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_keys import key_range, read_keys
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_status import cluster_status
from ansible_collections.gardenos.cluster.plugins.module_utils.served_certificates import served_certificate_reports


def run(module):
    params = module.params
    client = EtcdClient.from_params(params)
    if params["key"] is None:
        if params["prefix"] or params["range_end"] is not None:
            raise GardenosClusterError("prefix and range_end need key: the range of keys to read starts there")
        result = cluster_status(client, module.warn)
        if params["served_certificates"]:
            result["served_certificates"] = served_certificate_reports(client, params["served_certificates"])
        return result
    if params["served_certificates"]:
        raise GardenosClusterError("served_certificates is read without key: a member's certificates, not keys")
    key, range_end = key_range(params["key"], params["prefix"], params["range_end"])
    return read_keys(
        client,
        key,
        range_end,
        keys_only=params["keys_only"],
        max_keys=params["max_keys"],
        max_bytes=params["max_bytes"],
    )


def main():
    module = AnsibleModule(
        argument_spec=etcd_argument_spec(
            key=dict(type="str", no_log=False),
            prefix=dict(type="bool", default=False),
            range_end=dict(type="str"),
            keys_only=dict(type="bool", default=False, no_log=False),
            max_keys=dict(type="int", default=1000, no_log=False),
            max_bytes=dict(type="int", default=1048576),
            served_certificates=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(url=dict(type="str", required=True), certificate=dict(type="path")),
            ),
        ),
        mutually_exclusive=[["prefix", "range_end"]],
        required_together=ETCD_REQUIRED_TOGETHER,
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except GardenosClusterError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
