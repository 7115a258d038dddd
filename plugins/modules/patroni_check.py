#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: patroni_check
short_description: Check that a Patroni cluster is healthy, optionally waiting until it is
version_added: 0.1.0
description:
  - Reads a Patroni cluster's state from the REST API of any member (C(GET /cluster), and
    C(GET /patroni) of the member that answered) and says whether the cluster is healthy, which
    member leads, and what is wrong otherwise.
  - "The cluster is healthy when: exactly one member is leader (role C(leader), C(master) on old
    Patroni, or C(standby_leader) in a standby cluster) and C(running); every other member streams
    from it (state C(streaming); on Patroni before 3.0.4, which has no such state, C(running)); no
    member lags more than O(max_lag) or has an unknown lag; all members are on one timeline; the
    number of members is O(expected_members) when that is set; and the cluster is initialized."
  - An uninitialized cluster (no leader, and Patroni reports the role C(uninitialized), as the
    members wait for a leader to bootstrap) is reported with RV(uninitialized). When it lasts,
    Patroni's DCS holds the state of a cluster whose data is gone (for example after the data
    directories were wiped), and deleting the scope's keys lets the members bootstrap again.
  - A member's lag is the larger of its received and replayed WAL lag, so a replica whose replay
    is paused counts as lagging although Patroni's own C(lag) field (received WAL) stays 0.
  - With O(wait_timeout), the cluster is checked every second until it is healthy or the time is up;
    the last state is reported. A failover after the leader is lost takes about Patroni's C(ttl)
    (30 seconds by default, 20 at the least); during that time the dead leader is still listed as
    leader and C(running), while its replicas stop streaming.
  - Changes nothing.
author:
  - gardenos.cluster developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - gardenos.cluster.attributes
  - gardenos.cluster.attributes.info_module
  - gardenos.cluster.patroni
  - gardenos.cluster.patroni.actiongroup_patroni
options:
  expected_members:
    description:
      - The number of members the cluster must have (members registered in the DCS). Not checked when unset.
    type: int
  max_lag:
    description:
      - The most a replica may lag behind the leader.
      - Bytes as an integer, or a string with a unit as Patroni and PostgreSQL write them
        (C(B), C(kB), C(MB), C(GB), C(TB)), which count 1024-based, for example V(512kB) or V(1MB)
        (1048576 bytes, Patroni's default C(maximum_lag_on_failover)).
    type: raw
    default: 1MB
  wait_timeout:
    description:
      - Seconds to wait for the cluster to become healthy, checking every second. V(0) checks once.
      - While waiting, a check that reaches no URL is retried.
    type: int
    default: 0
  fail_on_unhealthy:
    description:
      - Whether to fail when the cluster is (still, after O(wait_timeout)) unhealthy. The failure message
        lists the problems, and the return values are given with it.
      - Set to V(false) to inspect an unhealthy cluster, for example to confirm that it is stuck
        uninitialized before a recovery.
    type: bool
    default: true
notes:
  - The module fails whatever O(fail_on_unhealthy) says when no URL answers like Patroni.
  - Maintenance mode (C(patronictl pause)) does not make the cluster unhealthy; it is returned as
    RV(paused) and warned about, since Patroni then does not fail over.
seealso:
  - module: gardenos.cluster.etcd_deleterange
  - name: Patroni REST API
    description: The endpoints this module reads.
    link: https://patroni.readthedocs.io/en/latest/rest_api.html
"""

EXAMPLES = r"""
- name: The Patroni cluster must be healthy, with three members
  gardenos.cluster.patroni_check:
    urls:
      - http://10.0.0.11:8008
      - http://10.0.0.12:8008
      - http://10.0.0.13:8008
    expected_members: 3
    max_lag: 16MB

- name: Over TLS, with REST credentials
  gardenos.cluster.patroni_check:
    urls: [https://10.0.0.11:8008, https://10.0.0.12:8008]
    ca_cert: /etc/patroni/pki/ca.crt
    client_cert: /etc/patroni/pki/client.crt
    client_key: /etc/patroni/pki/client.key
    username: patroni
    password: "{{ patroni_rest_password }}"

- name: Is the cluster stuck waiting for a leader to bootstrap?
  gardenos.cluster.patroni_check:
    urls: "{{ groups['patroni'] | map('extract', hostvars, 'gardenos_ip') | product([':8008']) | map('join') | list }}"
    fail_on_unhealthy: false
  register: patroni

- name: Report a stuck cluster
  ansible.builtin.debug:
    msg: "stuck: {{ patroni.problems | join('; ') }}"
  when: patroni.uninitialized and patroni.leader is none

- name: Wait up to two minutes for a leader and three streaming members
  gardenos.cluster.patroni_check:
    urls: [http://10.0.0.11:8008, http://10.0.0.12:8008, http://10.0.0.13:8008]
    expected_members: 3
    wait_timeout: 120
"""

RETURN = r"""
healthy:
  description: Whether the cluster is healthy (RV(problems) is empty).
  returned: when a URL answered, also when the module fails on an unhealthy cluster
  type: bool
  sample: true
leader:
  description: Name of the leader; null when no member, or more than one, is leader.
  returned: when a URL answered, also when the module fails on an unhealthy cluster
  type: str
  sample: pg-1
scope:
  description: The cluster's scope (name in the DCS); null when Patroni does not tell it.
  returned: when a URL answered, also when the module fails on an unhealthy cluster
  type: str
  sample: postgres-cluster
uninitialized:
  description:
    - Whether no member holds the leader lock and the members wait for a leader to bootstrap
      (Patroni reports the role C(uninitialized)).
  returned: when a URL answered, also when the module fails on an unhealthy cluster
  type: bool
  sample: false
paused:
  description: Whether the cluster is in maintenance mode (no automatic failover).
  returned: when a URL answered, also when the module fails on an unhealthy cluster
  type: bool
  sample: false
problems:
  description:
    - What is wrong, one sentence a problem, naming the member and what to do where possible.
    - Empty when the cluster is healthy.
  returned: when a URL answered, also when the module fails on an unhealthy cluster
  type: list
  elements: str
  sample:
    - "member pg-2 (replica) lags 12.8 MB (13389008 bytes) behind the leader, more than max_lag 1 MB: it receives
      WAL but does not replay it: replay may be paused (SELECT pg_wal_replay_resume() on it) or held back by
      conflicting queries"
members:
  description: The members registered in the DCS, as C(GET /cluster) lists them.
  returned: when a URL answered, also when the module fails on an unhealthy cluster
  type: list
  elements: dict
  contains:
    name:
      description: Member name.
      type: str
      sample: pg-1
    role:
      description:
        - Its role as Patroni reports it, for example C(leader), C(replica), C(sync_standby),
          C(standby_leader), or C(master) on old Patroni.
      type: str
      sample: leader
    state:
      description: Its state, for example C(running), C(streaming), C(stopped), C(starting).
      type: str
      sample: running
    host:
      description: Address of its PostgreSQL.
      type: str
      sample: 10.0.0.11
    port:
      description: Port of its PostgreSQL.
      type: int
      sample: 5432
    api_url:
      description: Its REST API URL as Patroni publishes it.
      type: str
      sample: http://10.0.0.11:8008/patroni
    timeline:
      description: Its PostgreSQL timeline; null when unknown (PostgreSQL not running).
      type: int
      sample: 1
    lag:
      description:
        - Bytes it lags behind the leader, the larger of received and replayed WAL lag; null on the
          leader, and when Patroni does not know it.
      type: int
      sample: 0
    receive_lag:
      description:
        - Bytes of WAL it has not received yet.
        - Null when Patroni does not report it (before 4.0) or does not know it.
      type: int
      sample: 0
    replay_lag:
      description:
        - Bytes of WAL it has not replayed yet.
        - Null when Patroni does not report it (before 4.0) or does not know it.
      type: int
      sample: 0
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError
from ansible_collections.gardenos.cluster.plugins.module_utils.patroni_rest import (
    DEFAULT_MAX_LAG,
    PATRONI_REQUIRED_TOGETHER,
    PatroniClient,
    check,
    parse_size,
    patroni_argument_spec,
)


def run(module):
    params = module.params
    if params["expected_members"] is not None and params["expected_members"] < 1:
        raise GardenosClusterError("expected_members must be at least 1")
    if params["wait_timeout"] < 0:
        raise GardenosClusterError("wait_timeout must not be negative")
    max_lag = parse_size(params["max_lag"], "max_lag")
    client = PatroniClient.from_params(params)
    report = check(
        client,
        expected_members=params["expected_members"],
        max_lag=max_lag,
        wait_timeout=params["wait_timeout"],
    )
    if report["paused"]:
        module.warn(
            "the Patroni cluster%s is in maintenance mode (paused): it does not fail over"
            % (" %s" % report["scope"] if report["scope"] else "")
        )
    return report


def main():
    module = AnsibleModule(
        argument_spec=patroni_argument_spec(
            expected_members=dict(type="int"),
            max_lag=dict(type="raw", default=DEFAULT_MAX_LAG),
            wait_timeout=dict(type="int", default=0),
            fail_on_unhealthy=dict(type="bool", default=True),
        ),
        required_together=PATRONI_REQUIRED_TOGETHER,
        supports_check_mode=True,
    )
    try:
        report = run(module)
    except GardenosClusterError as exc:
        module.fail_json(**exc.to_result())
    if not report["healthy"] and module.params["fail_on_unhealthy"]:
        module.fail_json(
            msg="the Patroni cluster%s is unhealthy: %s"
            % (" %s" % report["scope"] if report["scope"] else "", "; ".join(report["problems"])),
            changed=False,
            **report,
        )
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
