#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: etcd_deleterange
short_description: Delete a key, a key prefix or a key range from etcd, safely
version_added: 0.1.0
description:
  - Deletes one key, every key under a prefix, or every key in [O(key), O(range_end)) from an etcd v3
    cluster, through etcd's JSON gateway.
  - Meant for clearing stale state, such as the keys a Patroni cluster leaves under
    C(/service/<scope>/) after its data directories were wiped.
  - Refuses to delete a range that holds a live Patroni leader key (a key ending in C(/leader) that
    is attached to a lease), since that is a running cluster, unless O(force=true).
  - Refuses to delete the whole keyspace, or the whole C(/) tree, unless O(allow_all=true) (see there).
  - Live leader keys are found among the keys attached to leases (few, however large the range);
    with more than 1000 leases, or when the user may not list leases, the keys of the range are
    scanned instead (keys only, no values).
  - The range is counted first. Up to 10,000 keys, the delete is one transaction that fails if any
    key of the range was written after it was checked, and the module checks again (three tries),
    so what is checked is what is deleted. A larger range is deleted without that compare (etcd
    would read every key and value of the range for it), leaving a window of a few milliseconds
    in which a leader key taken meanwhile would not be noticed.
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
    details: Reads the range and reports what would be deleted.
  diff_mode:
    support: full
    details: The keys of the range before, none after (at most O(max_keys_reported) listed).
options:
  key:
    description:
      - The key, the prefix (with O(prefix=true)) or the start of the range (with O(range_end)).
      - Mind the trailing slash with O(prefix=true). V(/service/pg) also matches
        V(/service/pg-2/leader), a different cluster; V(/service/pg/) does not.
      - V(\\0) (backslash and zero), like a NUL character, means the NUL byte, the first key of the
        keyspace, as in O(range_end).
    type: str
    required: true
  prefix:
    description:
      - Delete every key that starts with O(key).
    type: bool
    default: false
  range_end:
    description:
      - Delete the keys from O(key) (included) to O(range_end) (excluded), in byte order.
      - V(\\0) (backslash and zero, as etcd's tools write it; in YAML, quote it with single quotes or
        none) means every key from O(key) on. A NUL character means the same, but Ansible cannot pass
        one to a module while it logs module invocations to syslog.
    type: str
  allow_all:
    description:
      - Allow a range that covers the whole keyspace or the whole C(/) tree.
      - That is a range from the first key of the keyspace (O(key) empty or V(\\0), with O(prefix=true)
        or any O(range_end)), and a range that holds every key starting with C(/), that is from C(/) or
        a key before it up to C(0) (the byte after C(/)) or past it, or to the end (V(\\0)). For example
        O(key=/) with O(prefix=true), O(key=/) with O(range_end=0), or O(range_end=\\0) from any key up
        to C(/).
    type: bool
    default: false
  force:
    description:
      - Delete even if the range holds a live Patroni leader key. This takes the DCS from under a
        running Patroni cluster.
    type: bool
    default: false
  max_keys_reported:
    description:
      - How many of the keys to list in RV(deleted_keys) and in the diff.
    type: int
    default: 100
notes:
  - Never reads values. Deleting 100,000 keys from a 3-member cluster on one 2-core machine takes
    about one second, nearly all of it etcd's own delete.
seealso:
  - module: gardenos.cluster.etcd_info
  - name: etcd KV API
    description: DeleteRange and range_end semantics.
    link: https://etcd.io/docs/v3.5/learning/api/
"""

EXAMPLES = r"""
- name: Clear the stale DCS state of the Patroni cluster postgres-cluster
  gardenos.cluster.etcd_deleterange:
    endpoints:
      - https://10.0.0.11:2379
      - https://10.0.0.12:2379
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/client.crt
    client_key: /etc/etcd/pki/client.key
    key: /service/postgres-cluster/
    prefix: true
  register: cleared

- name: Show what would be deleted, without deleting
  gardenos.cluster.etcd_deleterange:
    endpoints: [http://127.0.0.1:2379]
    key: /service/postgres-cluster/
    prefix: true
  check_mode: true
  diff: true

- name: Delete one key, authenticating as an etcd user
  gardenos.cluster.etcd_deleterange:
    endpoints: [https://10.0.0.11:2379]
    ca_cert: /etc/etcd/pki/ca.crt
    username: root
    password: "{{ etcd_root_password }}"
    key: /service/postgres-cluster/failover

- name: Delete the keys from /registry/events/ to /registry/events0 (a half-open range)
  gardenos.cluster.etcd_deleterange:
    endpoints: [http://127.0.0.1:2379]
    key: /registry/events/
    range_end: /registry/events0
"""

RETURN = r"""
deleted:
  description: Number of keys deleted (in check mode, that would be deleted).
  returned: success
  type: int
  sample: 7
deleted_keys:
  description:
    - The keys deleted (in check mode, that would be), at most O(max_keys_reported) of them, in byte order.
  returned: success
  type: list
  elements: str
  sample: [/service/postgres-cluster/config, /service/postgres-cluster/initialize]
keys_truncated:
  description: Whether RV(deleted_keys) lists fewer keys than RV(deleted).
  returned: success
  type: bool
  sample: false
key:
  description: The start of the range, as given.
  returned: success
  type: str
  sample: /service/postgres-cluster/
range_end:
  description:
    - The end of the range used (excluded); V(\\0) means "to the end of the keyspace".
    - Null when a single key was deleted.
  returned: success
  type: str
  sample: /service/postgres-cluster0
live_leader_keys:
  description: Live Patroni leader keys (with a lease) in the range; only non-empty with O(force=true).
  returned: success
  type: list
  elements: str
  sample: []
revision:
  description: The etcd revision the range was read at.
  returned: success
  type: int
  sample: 1234
elapsed:
  description: Seconds spent talking to etcd (read and delete).
  returned: success
  type: float
  sample: 0.84
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_gateway import (
    ETCD_REQUIRED_TOGETHER,
    EtcdClient,
    etcd_argument_spec,
)
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_keys import (
    covers_everything,
    key_range,
    key_to_text,
    show_key,
    show_range_end,
)

LEADER_SUFFIX = b"/leader"
ATTEMPTS = 3
# Past this many leases, look for live leader keys by scanning the range instead.
MAX_LEASES = 1000
# Up to this many keys, the delete is one transaction that fails if the range changed since it was
# checked; etcd reads every key of the range for that compare, too slow for a huge range.
GUARDED_DELETE_MAX_KEYS = 10000


def resolve_range(params):
    """(key bytes, range_end bytes or None) from the module's options; refuses the whole keyspace or
    the whole "/" tree without allow_all."""
    if params["key"] == "" and not params["prefix"] and params["range_end"] is None:
        raise GardenosClusterError("key must not be empty (use prefix=true with allow_all=true to delete everything)")
    key, range_end = key_range(params["key"], params["prefix"], params["range_end"])
    covers = covers_everything(key, range_end)
    if covers and not params["allow_all"]:
        raise GardenosClusterError(
            "refusing to delete [%s, %s), %s: set allow_all=true if that is really meant"
            % (show_key(key), show_key(range_end), covers),
            key=params["key"],
        )
    return key, range_end


def in_range(candidate, key, range_end):
    """Whether a key (bytes) falls in [key, range_end) (range_end None: the one key)."""
    if range_end is None:
        return candidate == key
    return key <= candidate and (range_end == b"\0" or candidate < range_end)


def live_leader_keys(client, key, range_end):
    """Keys of the range ending in /leader that are attached to a lease: the lock of a running
    Patroni cluster (a stale leader key has no lease: its owner is gone).

    Looks at the keys attached to leases (few, however big the range); when there are too many
    leases or the user may not list them, scans the range's keys instead.
    """
    try:
        leased = client.leased_keys(max_leases=MAX_LEASES)
    except GardenosClusterError as exc:
        if exc.details.get("grpc_code") not in (7, 16):
            raise
        leased = None
    if leased is None:
        _revision, leased = client.scan_keys(key, range_end)
    found = set()
    for candidate, lease in leased:
        if (
            candidate.endswith(LEADER_SUFFIX)
            and lease not in (None, "", "0", 0)
            and in_range(candidate, key, range_end)
        ):
            found.add(candidate)
    return sorted(found)


def run(module):
    params = module.params
    key, range_end = resolve_range(params)
    limit = max(0, params["max_keys_reported"])
    client = EtcdClient.from_params(params)
    started = time.monotonic()

    for _attempt in range(ATTEMPTS):
        count, revision, first = client.peek(key, range_end, limit)
        leaders = live_leader_keys(client, key, range_end) if count else []
        if leaders and not params["force"]:
            raise GardenosClusterError(
                "refusing to delete: the range holds the live Patroni leader key %s (attached to a lease),"
                " so a Patroni cluster is running on it; this is not stale state. Stop that cluster first,"
                " or set force=true" % ", ".join(key_to_text(k) for k in leaders),
                live_leader_keys=[key_to_text(k) for k in leaders],
            )
        if module.check_mode or not count:
            deleted = count
            break
        # Unforced and not huge: delete only if no key of the range was written since it was
        # checked (a leader key could have appeared), in one transaction. That compare reads the
        # whole range, so a huge range is deleted without it.
        guarded = not params["force"] and count <= GUARDED_DELETE_MAX_KEYS
        deleted = client.delete_range(key, range_end, unchanged_since=revision if guarded else None)
        if deleted is not None:
            break
    else:
        raise GardenosClusterError(
            "the range kept changing while it was being checked (%d tries): something is writing to it;"
            " stop it first (or set force=true)" % ATTEMPTS
        )
    elapsed = time.monotonic() - started

    if leaders:
        module.warn(
            "%s the live Patroni leader key(s) %s because force=true"
            % ("would delete" if module.check_mode else "deleted", ", ".join(key_to_text(k) for k in leaders))
        )
    reported = [key_to_text(k) for k in first]
    more = max(0, max(count, deleted) - len(reported))
    result = dict(
        changed=deleted > 0,
        deleted=deleted,
        deleted_keys=reported,
        keys_truncated=more > 0,
        key=params["key"],
        range_end=show_range_end(range_end),
        live_leader_keys=[key_to_text(k) for k in leaders],
        revision=revision,
        elapsed=round(elapsed, 3),
    )
    if module._diff:
        before = "".join(k + "\n" for k in reported)
        if more > 0:
            before += "... and %d more key%s\n" % (more, "" if more == 1 else "s")
        if range_end is None:
            header = "etcd key %s" % params["key"]
        else:
            header = "etcd keys in [%s, %s)" % (params["key"], show_range_end(range_end))
        result["diff"] = dict(before_header=header, after_header=header, before=before, after="")
    return result


def main():
    argument_spec = etcd_argument_spec(
        key=dict(type="str", required=True, no_log=False),
        prefix=dict(type="bool", default=False),
        range_end=dict(type="str"),
        allow_all=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        max_keys_reported=dict(type="int", default=100, no_log=False),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[["prefix", "range_end"]],
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
