# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What etcd's errors mean, for the user, and which answers of the v3 JSON gateway are not etcd's.

The gateway answers an error with ``{"error": ..., "code": <gRPC code>, "message": ...}``; every
other KV, lease, cluster, maintenance and auth answer carries etcd's response ``header`` (see
etcd_gateway). Standard library and ``ansible.module_utils`` only: it runs on the managed node.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.module_utils.common.text.converters import to_text
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError

GRPC_CODE_NAMES = {
    0: "OK",
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}

# What to tell the user for the etcd errors one meets in practice: (substring of etcd's
# message, explanation). First match wins.
KNOWN_ETCD_ERRORS = (
    (
        "user name is empty",
        "etcd has authentication enabled and the request carried no token: set username and password",
    ),
    ("authentication failed", "etcd authentication failed: wrong username or password"),
    ("invalid auth token", "etcd rejected the auth token (expired, or the member restarted): authenticate again"),
    (
        "permission denied",
        "permission denied: the etcd user has no role granting this operation on this key range",
    ),
    (
        "root user does not have root role",
        "etcd authentication is misconfigured: the root user does not have the root role",
    ),
    (
        "commonname",
        "etcd refused the client certificate's CommonName on the JSON gateway (client-cert-auth together with"
        " etcd authentication): use a client certificate without CN, together with username and password",
    ),
    (
        "unhealthy cluster",
        "etcd refused the membership change because the cluster is not healthy: a member is down or the"
        " cluster started less than ~5 seconds ago; retry once every member is healthy",
    ),
    (
        "not enough started members",
        "etcd refused the membership change: it would leave too few started members for quorum",
    ),
    (
        "in sync with leader",
        "the learner has not caught up with the leader yet (is etcd running on it, started with"
        " --initial-cluster-state existing?)",
    ),
    (
        "too many learner members",
        "etcd allows one learner at a time: promote or remove the existing learner first",
    ),
    ("can only promote a learner member", "the member is a voting member already: there is nothing to promote"),
    ("learner", "the operation is not allowed on a learner member"),
    ("member not found", "no such etcd member (already removed?)"),
    ("peer urls already exists", "an etcd member with these peer URLs already exists"),
    ("id removed", "this etcd member was removed from the cluster"),
    ("no leader", "the etcd member has no leader: the cluster lost quorum or an election is in progress"),
    ("leader changed", "the etcd leader changed while the request was in flight: retry"),
    ("request timed out", "etcd did not commit the request in time: the cluster is overloaded or lost quorum"),
    ("too many requests", "etcd is overloaded (too many requests): retry later"),
    (
        "database space exceeded",
        "etcd is out of space (NOSPACE alarm): compact and defragment the database, then disarm the alarm",
    ),
    (
        "too many operations in txn",
        "the transaction has more operations than the server allows (raise etcd's --max-txn-ops)",
    ),
    ("request is too large", "the request is larger than the server allows (etcd's --max-request-bytes)"),
    ("required revision has been compacted", "the revision read from has been compacted meanwhile: retry"),
    ("authentication is not enabled", "etcd authentication is not enabled on this cluster"),
    ("key is not provided", "the key must not be empty"),
)

GRPC_CODE_HINTS = {
    3: "etcd rejected the request as invalid",
    4: "etcd did not answer in time",
    5: "not found",
    6: "already exists",
    7: "permission denied: the etcd user has no role granting this operation",
    8: "etcd is out of a resource (space, request size or rate)",
    9: "etcd refused the request in its current state",
    14: "etcd is unavailable (no leader, lost quorum, or the member is shutting down)",
    16: "etcd did not authenticate the request: set username and password (or check them)",
}


def describe_grpc_error(code, message):
    """A message for the user from a gRPC error code and etcd's own message."""
    message = to_text(message or "").strip()
    try:
        code = int(code)
    except (TypeError, ValueError):
        code = 2
    lowered = message.lower()
    explanation = None
    for needle, text in KNOWN_ETCD_ERRORS:
        if needle in lowered:
            explanation = text
            break
    if explanation is None:
        explanation = GRPC_CODE_HINTS.get(code, "etcd returned an error")
    return "%s (etcd said: %s; gRPC code %d %s)" % (
        explanation,
        message or "nothing",
        code,
        GRPC_CODE_NAMES.get(code, "UNKNOWN"),
    )


def error_from_response(status, body, url):
    """A GardenosClusterError from an HTTP error response of the gateway."""
    text = to_text(body or b"", errors="surrogate_or_replace").strip()
    payload = None
    if text.startswith("{"):
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
    if isinstance(payload, dict) and ("code" in payload or "error" in payload or "message" in payload):
        code = payload.get("code", 2)
        message = payload.get("message") or payload.get("error") or ""
        try:
            code = int(code)
        except (TypeError, ValueError):
            code = 2
        return GardenosClusterError(
            "%s: %s" % (url, describe_grpc_error(code, message)),
            url=url,
            http_status=status,
            grpc_code=code,
            etcd_error=message,
        )
    if status == 404:
        explanation = "not found: the API path is wrong for this etcd version, or this is not an etcd client URL"
    elif status in (401, 403):
        explanation = "access refused"
    else:
        explanation = "unexpected answer"
    return GardenosClusterError(
        "%s: HTTP %s, %s: %s" % (url, status, explanation, text[:300] or "(empty body)"),
        url=url,
        http_status=status,
    )


# API paths whose answer may lack the response header: etcd 3.4 answers an alarm list without
# alarms with {} (3.5 sends its header).
HEADERLESS_PATHS = frozenset(("/maintenance/alarm",))


def require_etcd_answer(answer, endpoint, api_path):
    """``answer`` if it carries etcd's response header (a cluster_id and a member_id), else the
    GardenosClusterError that says the server at ``endpoint`` is not an etcd gateway."""
    header = answer.get("header")
    if isinstance(header, dict) and header.get("cluster_id") and header.get("member_id"):
        return answer
    shown = json.dumps(answer)
    raise GardenosClusterError(
        "the server at %s is not an etcd gateway: POST %s answered %s, without etcd's response header"
        " (cluster_id, member_id): is this an etcd client URL?"
        % (endpoint, api_path, shown if len(shown) <= 200 else shown[:200] + "..."),
        url=endpoint + api_path,
    )
