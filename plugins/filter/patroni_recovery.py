# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""When deleting a Patroni scope's keys from etcd is safe: the decision of
playbooks/patroni_recover_stale_dcs.yml, a pure function of what the playbook observed.

Deleting ``/service/<scope>/`` makes the members bootstrap a new, empty cluster. That is right
only when the cluster is really stuck: no leader (neither a leader key in etcd nor a member
reporting a leader role), every member checked (reachable) and either waiting for a leader to
bootstrap (Patroni's role ``uninitialized``) or stopped, and no member with a data directory that
holds a PostgreSQL cluster (``PG_VERSION`` or ``pg_controldata``), whose data a new bootstrap
would abandon. A single new, empty replica during a leaderless failover window is uninitialized
too: that alone must not be enough.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence
from ansible_collections.gardenos.cluster.plugins.module_utils.patroni_rest import LEADER_ROLES

# systemd ActiveState values of a Patroni that does not run.
STOPPED_STATES = frozenset(("inactive", "failed"))
CONTROLDATA_FIELDS = {
    "Database system identifier": "system_identifier",
    "Database cluster state": "cluster_state",
}


def _controldata(text):
    """The fields of pg_controldata's output this decision names: system identifier, cluster state."""
    fields = {}
    for line in (text or "").splitlines():
        label, sep, value = line.partition(":")
        if sep and label.strip() in CONTROLDATA_FIELDS:
            fields[CONTROLDATA_FIELDS[label.strip()]] = value.strip()
    return fields


def _leader_key(scope_keys, scope_prefix):
    """The value of the scope's leader key in etcd (the leader's name), or None."""
    for entry in scope_keys.get("kvs") or []:
        if isinstance(entry, dict) and entry.get("key") == scope_prefix + "leader":
            return entry.get("value") or "?"
    return None


def _keys_reasons(scope_keys, scope_prefix):
    count = int(scope_keys.get("count") or 0)
    if count == 0:
        return ["etcd holds no keys under %s: nothing stale to remove" % scope_prefix]
    reasons = []
    if scope_keys.get("truncated"):
        reasons.append(
            "etcd holds %d keys under %s, more than could be read to save them first: is that Patroni state?"
            % (count, scope_prefix)
        )
    leader = _leader_key(scope_keys, scope_prefix)
    if leader is not None:
        reasons.append(
            "etcd holds the leader key %sleader (member %s): the cluster has a leader, it is not stuck"
            % (scope_prefix, leader)
        )
    return reasons


def _patroni_reason(observation):
    """Why this member is neither waiting for a leader to bootstrap nor stopped, or None."""
    name = observation["name"]
    role = observation.get("api_role") or ""
    state = observation.get("api_state") or ""
    service = observation.get("service") or "unknown"
    if role in LEADER_ROLES:
        return "member %s reports the role '%s' (state '%s'): the cluster has a leader, it is not stuck" % (
            name,
            role,
            state,
        )
    if role == "uninitialized":
        return None
    if role:
        return "member %s reports the role '%s' (state '%s'), not 'uninitialized': it is not waiting for a leader" % (
            name,
            role,
            state,
        )
    if service in STOPPED_STATES:
        return None
    return (
        "member %s: Patroni is %s but its REST API does not answer, so it cannot be confirmed uninitialized:"
        " see its Patroni log, or stop Patroni there" % (name, service)
    )


def _data_reason(observation):
    """Why this member's data directory must not be abandoned (it holds a cluster), or None."""
    pg_version = (observation.get("pg_version") or "").strip()
    fields = _controldata(observation.get("controldata"))
    if not pg_version and not fields:
        return None
    facts = []
    if pg_version:
        facts.append("PG_VERSION %s" % pg_version)
    if "system_identifier" in fields:
        facts.append("system identifier %s" % fields["system_identifier"])
    if "cluster_state" in fields:
        facts.append("state '%s'" % fields["cluster_state"])
    return (
        "member %s: its data directory %s holds a PostgreSQL cluster (%s), which a new bootstrap would abandon:"
        " start Patroni there so that it leads again, or, if that data is to be thrown away, move the directory"
        " aside first" % (observation["name"], observation.get("data_dir") or "?", ", ".join(facts))
    )


def patroni_stale_dcs_verdict(observations, members, scope, scope_prefix, scope_keys):
    """Whether the scope's keys may be deleted, and if not, why.

    ``observations``: one mapping a member that could be checked: ``name``, ``service`` (systemd
    ActiveState of patroni), ``api_role`` and ``api_state`` (its own ``GET /patroni``; empty when the
    REST API did not answer), ``data_dir``, ``pg_version`` (content of PG_VERSION, empty when absent)
    and ``controldata`` (pg_controldata's output, empty when it could not read a cluster).
    ``members``: every member's name (the patroni group); a member without an observation was not
    reachable. ``scope_keys``: the etcd_info result for ``scope_prefix`` (``count``, ``truncated``,
    ``kvs``). Returns ``{"stuck": bool, "reasons": [...], "msg": str}``.
    """
    if not is_sequence(observations) or not all(isinstance(o, dict) and o.get("name") for o in observations):
        raise AnsibleFilterError("patroni_stale_dcs_verdict: the input must be a list of mappings with a name")
    if not is_sequence(members) or not members:
        raise AnsibleFilterError("patroni_stale_dcs_verdict: members must be a non-empty list of member names")
    if not isinstance(scope_keys, dict):
        raise AnsibleFilterError("patroni_stale_dcs_verdict: scope_keys must be the etcd_info result of the scope")
    by_name = dict((o["name"], o) for o in observations)
    reasons = _keys_reasons(scope_keys, scope_prefix)
    for name in sorted(members):
        observation = by_name.get(name)
        if observation is None:
            reasons.append(
                "member %s could not be checked (unreachable, or a check on it failed: see above), so its data"
                " directory may hold the cluster" % name
            )
            continue
        reasons.extend(reason for reason in (_patroni_reason(observation), _data_reason(observation)) if reason)
    if reasons:
        msg = "Not recovering %s, it is not stuck on stale keys: %s. Nothing was deleted." % (scope, "; ".join(reasons))
    else:
        msg = (
            "%s is stuck on stale keys: no leader; every member (%s) waits for a leader to bootstrap or is stopped,"
            " and none has a data directory holding a cluster" % (scope, ", ".join(sorted(members)))
        )
    return dict(stuck=not reasons, reasons=reasons, msg=msg)


class FilterModule:
    """The Patroni recovery filters."""

    def filters(self):
        return {"patroni_stale_dcs_verdict": patroni_stale_dcs_verdict}
