# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small client for Patroni's REST API and the health evaluation of gardenos.cluster.patroni_check.

Standard library and ``ansible.module_utils`` only: it runs on the managed node. Every failure
it reports is a
:class:`~ansible_collections.gardenos.cluster.plugins.module_utils.errors.GardenosClusterError`;
the module's ``main()`` turns it into ``fail_json``. :func:`evaluate` is a pure function from the
JSON Patroni returned to a report, so it is tested without a cluster.

Facts about the REST API this relies on (seen on Patroni 3.0.2 and 4.1.5 with etcd 3.5):

* ``GET /cluster`` lists the members registered in the DCS: ``name``, ``role``, ``state``, ``host``,
  ``port``, ``api_url``, ``timeline`` and, for replicas, ``lag`` (bytes, or ``"unknown"``);
  Patroni 4 adds ``receive_lag``/``replay_lag`` (``lag`` follows the received WAL, so a replica
  whose replay is paused shows it only in ``replay_lag``) and the ``scope``; ``"pause": true``
  marks maintenance mode. Only safe methods are used, which need no REST credentials.
* The leader's role is ``leader`` (``standby_leader`` in a standby cluster; ``master`` in old
  versions). Since Patroni 3.0.4 a healthy replica's state is ``streaming``; before, ``running``.
  From 3.0.4 on, a replica ``running`` is not streaming (for example, right after the leader died).
* A SIGKILLed leader stays listed as leader and ``running`` until its key expires (``ttl``).
* A stuck cluster (the DCS says the cluster was initialized, but no member has its data) lists its
  members as replicas in state ``stopped`` with lag ``unknown``; only ``GET /patroni`` tells:
  ``"role": "uninitialized"``, ``"cluster_unlocked": true`` (with HTTP 503).
* ``GET /patroni`` also gives ``patroni.version`` and ``patroni.scope`` (3.0.2's ``/cluster`` has no scope).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import re
import time

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.urls import open_url
from ansible_collections.gardenos.cluster.plugins.module_utils import http_transport
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError
from ansible_collections.gardenos.cluster.plugins.module_utils.versions import version_tuple

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_LAG = "1MB"
POLL_INTERVAL = 1.0

# The connection options of a module talking to Patroni's REST API; documented once in the
# gardenos.cluster.patroni doc fragment. Modules merge it with patroni_argument_spec().
PATRONI_COMMON_ARGUMENT_SPEC = http_transport.connection_argument_spec("urls", DEFAULT_TIMEOUT)
PATRONI_REQUIRED_TOGETHER = http_transport.required_together()

LEADER_ROLES = frozenset(("leader", "master", "primary", "standby_leader"))
# Patroni's units for sizes (as PostgreSQL's): 1024-based, case as PostgreSQL writes them.
SIZE_UNITS = {"": 1, "B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*$")
# The first version whose healthy replicas are "streaming" rather than "running".
STREAMING_STATE_SINCE = (3, 0, 4)
# Hints for member states that are not healthy.
STATE_HINTS = {
    "stopped": "PostgreSQL is not running: see the Patroni log on it",
    "crashed": "PostgreSQL crashed: see the PostgreSQL and Patroni logs on it",
    "start failed": "PostgreSQL failed to start: see the PostgreSQL and Patroni logs on it",
    "starting": "PostgreSQL is starting; if this lasts, see the PostgreSQL log on it",
    "stopping": "PostgreSQL is stopping",
    "restarting": "PostgreSQL is restarting",
    "creating replica": "it is being cloned from another member (pg_basebackup)",
    "running custom bootstrap script": "it is bootstrapping",
    "initializing new cluster": "it is bootstrapping a new cluster (initdb)",
    "in archive recovery": "it replays WAL from the archive instead of streaming from the leader:"
    " check that it can reach the leader's PostgreSQL port and the replication user's pg_hba entry",
    "running": "its PostgreSQL runs but does not stream from the leader: check that it can reach the"
    " leader's PostgreSQL port and the replication user's pg_hba entry; right after a leader change it"
    " reconnects within seconds",
}


def patroni_argument_spec(**extra):
    """The shared connection options merged with a module's own options."""
    return http_transport.merge_argument_spec(PATRONI_COMMON_ARGUMENT_SPEC, extra)


# -- sizes ---------------------------------------------------------------------------------------


def parse_size(value, name="max_lag"):
    """Bytes from an int or a string such as ``1048576``, ``512kB``, ``1MB``, ``1.5GB``.

    Units are Patroni's and PostgreSQL's: ``B``, ``kB``, ``MB``, ``GB``, ``TB``, 1024-based
    (1MB = 1048576 bytes); they are read case-insensitively, and ``KiB``/``MiB``/... mean the same.
    """
    if isinstance(value, bool) or value is None:
        raise GardenosClusterError(_size_error(value, name))
    if isinstance(value, int):
        if value < 0:
            raise GardenosClusterError("%s must not be negative: %s" % (name, value))
        return int(value)
    if isinstance(value, float):
        if value < 0 or math.isnan(value) or math.isinf(value):
            raise GardenosClusterError(_size_error(value, name))
        return round(value)
    if isinstance(value, bytes):
        value = to_text(value)
    if not isinstance(value, str):
        raise GardenosClusterError(_size_error(value, name))
    match = _SIZE_RE.match(value)
    if not match:
        raise GardenosClusterError(_size_error(value, name))
    number, unit = match.groups()
    factor = _unit_factor(unit)
    if factor is None:
        raise GardenosClusterError(_size_error(value, name))
    return round(float(number) * factor)


def _unit_factor(unit):
    lowered = unit.lower()
    if lowered.endswith("ib") and len(lowered) == 3:  # KiB, MiB ... are the same 1024-based units
        lowered = lowered[0] + "b"
    if lowered in ("", "b", "byte", "bytes"):
        return 1
    for name, factor in SIZE_UNITS.items():
        if name and name.lower() == lowered:
            return factor
    return None


def _size_error(value, name):
    return (
        "%s: %r is not a size: give bytes (1048576) or a number with one of the units B, kB, MB, GB, TB,"
        " which count 1024-based as Patroni and PostgreSQL do (1MB = 1048576 bytes)" % (name, value)
    )


def format_size(value):
    """Bytes -> a short text with Patroni's units (1024-based), for messages."""
    for unit in ("TB", "GB", "MB", "kB"):
        factor = SIZE_UNITS[unit]
        if value >= factor:
            return "%s %s" % (("%.1f" % (float(value) / factor)).rstrip("0").rstrip("."), unit)
    return "%d bytes" % value


# -- evaluation ----------------------------------------------------------------------------------


def _lag_value(value):
    """A lag field -> int bytes, or None when absent or "unknown"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _int_or_none(value):
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def normalize_member(member, is_leader):
    """A member of /cluster -> the shape the module returns.

    ``lag`` is the largest lag the member reports (received and replayed WAL), in bytes; null on
    the leader, and when Patroni does not know it.
    """
    lag_fields = [member.get(field) for field in ("lag", "receive_lag", "replay_lag") if field in member]
    lags = [_lag_value(value) for value in lag_fields]
    known = [lag for lag in lags if lag is not None]
    unknown = bool(lag_fields) and len(known) < len(lag_fields)
    return dict(
        name=to_text(member.get("name", "")),
        role=to_text(member.get("role", "")),
        state=to_text(member.get("state", "")),
        host=member.get("host"),
        port=_int_or_none(member.get("port")),
        api_url=member.get("api_url"),
        timeline=_int_or_none(member.get("timeline")),
        lag=None if is_leader or unknown or not known else max(known),
        receive_lag=_lag_value(member.get("receive_lag")),
        replay_lag=_lag_value(member.get("replay_lag")),
        _lag_unknown=not is_leader and (unknown or not lag_fields),
    )


def _streaming_required(members, patroni_version):
    """Whether healthy replicas say "streaming" (Patroni 3.0.4+) rather than "running"."""
    version = version_tuple(patroni_version)
    if version is not None:
        return version >= STREAMING_STATE_SINCE
    # Version unknown: a member that streams, or Patroni 4's lag fields, show the newer states.
    return any(m["state"] == "streaming" or m["receive_lag"] is not None for m in members)


def _leadership_problem(uninitialized, members, leaders, scope):
    """What is wrong with who leads the cluster, or None."""
    if uninitialized:
        return (
            "the cluster%s is not initialized: no member holds the leader lock and the members wait for a leader"
            " to bootstrap (Patroni role 'uninitialized'). If that lasts, the DCS holds stale state of a cluster"
            " whose data is gone (its 'initialize' key is there, no member has the data): delete the scope's keys"
            " (/service/%s/ with the default namespace, e.g. with gardenos.cluster.etcd_deleterange) and the"
            " members bootstrap a new cluster" % (_scope_text(scope), scope or "<scope>")
        )
    if not members:
        return "no member is registered in the DCS: Patroni is not running on any member, or cannot reach the DCS"
    if not leaders:
        return (
            "no member holds the leader lock: a failover may be under way (it takes up to ttl seconds after"
            " the leader is lost), or no member may become leader (too far behind, nofailover tags, or PostgreSQL"
            " down): see the Patroni logs of %s" % ", ".join(m["name"] for m in members)
        )
    if len(leaders) > 1:
        return (
            "more than one member reports the leader role (%s): check which one holds the leader key and demote"
            " the others" % ", ".join(m["name"] for m in leaders)
        )
    return None


def _timeline_problem(members, leaders, scope):
    """Members on different timelines, or None."""
    timelines = sorted(set(m["timeline"] for m in members if m["timeline"] is not None))
    if len(timelines) <= 1:
        return None
    reference = leaders[0]["timeline"] if len(leaders) == 1 and leaders[0]["timeline"] is not None else None
    if reference is None:
        reference = timelines[-1]
    behind = [m for m in members if m["timeline"] is not None and m["timeline"] != reference]
    return (
        "the members are on different timelines (%s): %s %s not followed the leader's timeline %d yet; right"
        " after a failover or switchover that takes seconds, if it lasts the member needs pg_rewind or a"
        " reinit (patronictl reinit %s <member>)"
        % (
            ", ".join("%s on %s" % (m["name"], m["timeline"]) for m in members if m["timeline"] is not None),
            ", ".join(m["name"] for m in behind),
            "has" if len(behind) == 1 else "have",
            reference,
            scope or "<scope>",
        )
    )


def _member_count_problem(members, expected_members):
    """Not as many members as expected, or None."""
    if expected_members is None or len(members) == expected_members:
        return None
    return "%d member%s registered in the DCS (%s), expected %d: %s" % (
        len(members),
        "" if len(members) == 1 else "s",
        ", ".join(m["name"] for m in members) or "none",
        expected_members,
        "a member's Patroni is not running or cannot reach the DCS"
        if len(members) < expected_members
        else "more members than expected (a new one, or a replaced one whose key has not expired)",
    )


def evaluate(cluster, patroni=None, expected_members=None, max_lag=1048576):
    """The health report of a Patroni cluster from its ``GET /cluster`` answer.

    ``patroni`` is the ``GET /patroni`` answer of one member (or None): it tells the Patroni
    version, the scope where ``/cluster`` has none, and whether the cluster is uninitialized.
    Returns a dict: healthy, leader, members, problems, scope, uninitialized, paused.
    """
    if not isinstance(cluster, dict):
        raise GardenosClusterError("the Patroni /cluster answer is not a JSON object: %r" % (cluster,))
    patroni = patroni if isinstance(patroni, dict) else {}
    own = patroni.get("patroni") if isinstance(patroni.get("patroni"), dict) else {}
    scope = cluster.get("scope") or own.get("scope")
    raw_members = [m for m in cluster.get("members") or [] if isinstance(m, dict)]
    members = [normalize_member(m, to_text(m.get("role", "")) in LEADER_ROLES) for m in raw_members]
    leaders = [m for m in members if m["role"] in LEADER_ROLES]
    leader = leaders[0]["name"] if len(leaders) == 1 else None
    streaming_required = _streaming_required(members, own.get("version"))
    uninitialized = not leaders and (
        to_text(patroni.get("role", "")) == "uninitialized" or any(m["role"] == "uninitialized" for m in members)
    )
    problems = [_leadership_problem(uninitialized, members, leaders, scope)]
    for member in members:
        # A stuck cluster's members are all stopped replicas: the sentence above says why.
        problems.append(
            None if uninitialized else _member_problem(member, member in leaders, streaming_required, max_lag)
        )
    problems.append(_timeline_problem(members, leaders, scope))
    problems.append(_member_count_problem(members, expected_members))
    problems = [problem for problem in problems if problem]

    for member in members:
        member.pop("_lag_unknown", None)
    return dict(
        healthy=not problems,
        leader=leader,
        members=members,
        problems=problems,
        scope=scope,
        uninitialized=uninitialized,
        paused=bool(cluster.get("pause")),
    )


def _scope_text(scope):
    return " %s" % scope if scope else ""


def _member_problem(member, is_leader, streaming_required, max_lag):
    """One sentence about what is wrong with a member, or None."""
    name, state, role = member["name"], member["state"], member["role"]
    if is_leader:
        good = ("running", "streaming", "in archive recovery") if role == "standby_leader" else ("running",)
        if state not in good:
            hint = STATE_HINTS.get(state, "see the Patroni log on it")
            return "leader %s is in state '%s', not running: %s" % (name, state, hint)
        return None
    good = ("streaming",) if streaming_required else ("running", "streaming")
    if state not in good:
        hint = STATE_HINTS.get(state, "see the Patroni log on it")
        return "member %s (%s) is in state '%s', not %s: %s" % (name, role or "no role", state, good[0], hint)
    if member["_lag_unknown"]:
        return (
            "member %s (%s): its replication lag is unknown (Patroni does not know its WAL position):"
            " see the Patroni and PostgreSQL logs on it" % (name, role)
        )
    if member["lag"] is not None and member["lag"] > max_lag:
        receive, replay = member["receive_lag"], member["replay_lag"]
        if replay is not None and receive is not None and replay > max_lag >= receive:
            why = (
                "it receives WAL but does not replay it: replay may be paused (SELECT pg_wal_replay_resume() on"
                " it) or held back by conflicting queries"
            )
        else:
            why = "it does not keep up with the leader: check its load, disk and network"
        return "member %s (%s) lags %s (%d bytes) behind the leader, more than max_lag %s: %s" % (
            name,
            role,
            format_size(member["lag"]),
            member["lag"],
            format_size(max_lag),
            why,
        )
    return None


# -- the client ----------------------------------------------------------------------------------


def normalize_api_url(url, tls):
    """A Patroni REST URL: scheme added, trailing slash and a trailing /patroni (as api_url has) removed."""
    url = http_transport.normalize_url(url, tls, PatroniClient.URL_NAME)
    if url.endswith("/patroni"):
        url = url[: -len("/patroni")]
    return url


class PatroniClient(http_transport.RestClient):
    """Reads Patroni's REST API from the first of ``urls`` that answers."""

    URLS_OPTION = "urls"
    URL_NAME = "Patroni REST URL"
    SERVICE = "Patroni REST API"
    URL_KIND = "Patroni REST API URL"
    DEFAULT_TIMEOUT = DEFAULT_TIMEOUT

    def normalize(self, url):
        """Also drops a trailing /patroni, as Patroni's own api_url has."""
        return normalize_api_url(url, bool(self.ca_cert or self.client_cert))

    @property
    def url(self):
        """The URL that answered last (tried first next time)."""
        return self.urls[self._preferred]

    def get(self, url, accept=(200,)):
        """GET one URL: the JSON object it answers. Raises Unreachable or GardenosClusterError."""
        status, raw = self.send(open_url, url, headers={"Accept": "application/json"}, basic_auth=True)
        text = to_text(raw or b"", errors="surrogate_or_replace").strip()
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
        if status not in accept or not isinstance(payload, dict):
            if status in (401, 403):
                why = "access refused: check username and password (or the client certificate)"
            elif status == 404:
                why = "not found: is this a Patroni REST API URL?"
            elif status in accept:
                why = "the answer is not a JSON object: is this a Patroni REST API URL?"
            else:
                why = "unexpected answer"
            raise GardenosClusterError(
                "%s: HTTP %s, %s: %s" % (url, status, why, text[:300] or "(empty body)"), url=url, http_status=status
            )
        return payload

    def cluster(self):
        """(base URL, GET /cluster) from the first URL that answers; the one that did is tried first next time."""
        failures = []
        count = len(self.urls)
        for offset in range(count):
            index = (self._preferred + offset) % count
            url = self.urls[index]
            try:
                answer = self.get(url + "/cluster")
            except http_transport.Unreachable as exc:
                failures.append("%s: %s" % (url, exc))
                continue
            except GardenosClusterError as exc:
                failures.append(exc.msg)
                continue
            self._preferred = index
            return url, answer
        raise GardenosClusterError(
            "cannot read the Patroni cluster state from any URL: %s" % "; ".join(failures), urls=self.urls
        )

    def patroni(self, url):
        """GET /patroni of one member (HTTP 503, sent while PostgreSQL is not running, is an answer too); None
        when it cannot be read."""
        try:
            return self.get(url + "/patroni", accept=(200, 503))
        except (http_transport.Unreachable, GardenosClusterError):
            return None

    def state(self):
        """(GET /cluster, GET /patroni of the member that answered or None)."""
        url, cluster = self.cluster()
        return cluster, self.patroni(url)


def check(client, expected_members=None, max_lag=1048576, wait_timeout=0, interval=POLL_INTERVAL):
    """Evaluate the cluster; with ``wait_timeout`` > 0, poll until it is healthy or the time is up.

    Returns the last report. While waiting, a poll that reaches no URL is retried; if the last one
    reached none, its GardenosClusterError is raised.
    """
    deadline = time.monotonic() + max(0.0, float(wait_timeout or 0))
    while True:
        try:
            cluster, patroni = client.state()
            report = evaluate(cluster, patroni, expected_members=expected_members, max_lag=max_lag)
            error = None
        except GardenosClusterError as exc:
            report, error = None, exc
        if report is not None and report["healthy"]:
            return report
        if time.monotonic() + interval > deadline:
            if report is None:
                if wait_timeout:
                    error.msg = "%s (waited %ss)" % (error.msg, wait_timeout)
                raise error
            return report
        time.sleep(interval)
