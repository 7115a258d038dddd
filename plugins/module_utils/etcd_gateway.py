# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small client for etcd's v3 gRPC-JSON gateway, for the gardenos.cluster etcd modules.

Standard library and ``ansible.module_utils`` only: it runs on the managed node, where no etcd
Python package is installed. Every failure it reports is a
:class:`~ansible_collections.gardenos.cluster.plugins.module_utils.errors.GardenosClusterError`
with a message written for the user; the modules' ``main()`` turn it into ``fail_json``.

Facts about the gateway this relies on (etcd 3.4 and 3.5 behave the same):

* the API prefix is ``/v3`` from etcd 3.4 on, ``/v3beta`` on 3.3, ``/v3alpha`` before; it is
  chosen from ``GET /version`` (``etcdserver``, else ``etcdcluster``);
* keys and values are base64 in JSON; int64 fields come back as strings (IDs in decimal);
  zero or empty fields are omitted (a deleterange that matched nothing has no ``deleted``);
* every KV, lease, cluster, maintenance and auth answer carries etcd's response ``header`` with a
  ``cluster_id`` and a ``member_id`` (never zero; ``revision`` and ``raft_term`` can be missing:
  cluster calls have no revision). The one exception seen is etcd 3.4's alarm list, ``{}`` when
  there is no alarm. An answer without them is not etcd's (a server answering ``{}`` to anything
  would otherwise read as "deleted 0"), and is refused;
* errors come back as ``{"error": ..., "code": <gRPC code>, "message": ...}``;
* with user/password auth, ``POST /v3/auth/authenticate`` returns a token that is sent as the
  ``Authorization`` header, with no ``Bearer`` in front.

What the client builds on lives beside it: ``etcd_keys`` (keys and ranges, base64), ``etcd_errors``
(what etcd's errors mean, which answers are not etcd's), ``etcd_members`` (member IDs, members as
the modules return them) and ``etcd_peer_urls`` (peer URLs checked as etcd checks them).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.urls import open_url
from ansible_collections.gardenos.cluster.plugins.module_utils import http_transport
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_errors import (
    HEADERLESS_PATHS,
    error_from_response,
    require_etcd_answer,
)
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_keys import b64decode, range_fields
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_members import (
    member_id_to_decimal,
    member_id_to_hex,
    normalize_member,
)
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_peer_urls import validate_peer_urls
from ansible_collections.gardenos.cluster.plugins.module_utils.versions import version_tuple

DEFAULT_TIMEOUT = 10.0

# The connection options every etcd module takes; documented once in the
# gardenos.cluster.etcd doc fragment. Modules merge it with etcd_argument_spec().
ETCD_COMMON_ARGUMENT_SPEC = http_transport.connection_argument_spec("endpoints", DEFAULT_TIMEOUT)
ETCD_REQUIRED_TOGETHER = http_transport.required_together()

# gRPC codes after which the same request is worth trying on the next endpoint: that member is
# cut off or overloaded, another may not be.
FAILOVER_CODES = frozenset((4, 14))


def etcd_argument_spec(**extra):
    """The shared connection options merged with a module's own options."""
    return http_transport.merge_argument_spec(ETCD_COMMON_ARGUMENT_SPEC, extra)


def api_prefix_for_version(cluster_version, server_version=None):
    """The gateway's path prefix for an etcd version: /v3alpha before 3.3, /v3beta on 3.3, /v3 after.

    The server's own version decides (it is the server that serves the paths); the cluster version
    only when the server's is unknown: right after a bootstrap or a restore, etcd reports the
    cluster version as 3.0.0 until its members agree (seen on 3.4 after a restore: /v3alpha, 404).
    """
    version = version_tuple(server_version) or version_tuple(cluster_version)
    if version is None:
        return "/v3"
    if version < (3, 3):
        return "/v3alpha"
    if version < (3, 4):
        return "/v3beta"
    return "/v3"


def describe_transport_error(exc, timeout):
    """Why an endpoint could not be reached, for the user."""
    return http_transport.describe_transport_error(exc, timeout, EtcdClient.SERVICE, EtcdClient.URL_KIND)


def normalize_endpoint(endpoint, tls):
    """'host:2379' -> 'http(s)://host:2379' (https when TLS options are set); no trailing slash."""
    return http_transport.normalize_url(endpoint, tls, EtcdClient.URL_NAME)


def _get(response, snake, camel, default=None):
    """A field that the gateway spells in snake_case (original proto name) or camelCase."""
    if snake in response:
        return response[snake]
    return response.get(camel, default)


# An endpoint could not be reached at all (internal: triggers failover).
_Unreachable = http_transport.Unreachable


# etcd's refusals that pass: a commit that timed out (overload, a slow disk), a leader election, too many requests.
TRANSIENT_REFUSALS = ("request timed out", "leader changed", "no leader", "too many requests")


class EtcdClient(http_transport.RestClient):
    """A client for etcd's JSON gateway with endpoint failover, TLS and user/password auth."""

    URLS_OPTION = "endpoints"
    URL_NAME = "etcd endpoint"
    SERVICE = "etcd"
    URL_KIND = "etcd client URL"
    DEFAULT_TIMEOUT = DEFAULT_TIMEOUT

    def __init__(self, endpoints, **connection):
        super(EtcdClient, self).__init__(endpoints, **connection)
        self.api = None
        self.server_version = None
        self.cluster_version = None
        self._token = None
        self._authenticated = False
        self.requests = 0

    @property
    def endpoints(self):
        """The endpoints, normalized."""
        return self.urls

    @property
    def endpoint(self):
        """The endpoint that answered last (tried first next time)."""
        return self.endpoints[self._preferred]

    @property
    def authenticated_with_token(self):
        """Whether etcd gave this client a token (auth is enabled and the credentials worked)."""
        return self._token is not None

    # -- transport -----------------------------------------------------------------------------

    def _http(self, url, body=None, method="POST", headers=None, timeout=None):
        """One HTTP request; JSON in and out. Raises _Unreachable or GardenosClusterError."""
        timeout = timeout or self.timeout
        all_headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if headers:
            all_headers.update(headers)
        data = None
        if method == "POST":
            data = json.dumps(body if body is not None else {}).encode("utf-8")
        self.requests += 1
        status, raw = self.send(open_url, url, method=method, data=data, headers=all_headers, timeout=timeout)
        if status >= 300:
            raise error_from_response(status, raw, url)
        if not raw:
            return {}
        try:
            answer = json.loads(raw)
        except ValueError:
            raise GardenosClusterError(
                "%s: the answer is not JSON (is this an etcd client URL?): %s"
                % (url, to_text(raw[:200], errors="surrogate_or_replace")),
                url=url,
            ) from None
        if not isinstance(answer, dict):
            raise GardenosClusterError(
                "%s: the answer is not a JSON object (is this an etcd client URL?): %s"
                % (url, to_text(raw[:200], errors="surrogate_or_replace")),
                url=url,
            )
        return answer

    def _discover(self, endpoint):
        """Learn the server and cluster version (and so the API prefix) from GET /version."""
        if self.api is not None:
            return
        version = self._http(endpoint + "/version", method="GET")
        self.server_version = version.get("etcdserver")
        self.cluster_version = version.get("etcdcluster")
        self.api = api_prefix_for_version(self.cluster_version, self.server_version)

    def _authenticate(self, endpoint):
        if not self.username:
            self._authenticated = True
            return
        path = self.api + "/auth/authenticate"
        try:
            answer = self._http(endpoint + path, {"name": self.username, "password": self.password or ""})
        except GardenosClusterError as exc:
            if "authentication is not enabled" in to_text(exc.details.get("etcd_error", "")).lower():
                # Credentials given to a cluster without auth: nothing to send.
                self._token = None
                self._authenticated = True
                return
            raise
        self._token = require_etcd_answer(answer, endpoint, path).get("token")
        self._authenticated = True

    def _call_on(self, endpoint, path, body, timeout=None):
        self._discover(endpoint)
        anonymous = False
        if not self._authenticated:
            try:
                self._authenticate(endpoint)
            except GardenosClusterError as exc:
                # A learner serves no Authenticate (nor any KV request), but answers status and
                # health with no user: this one request goes without a token.
                if "not supported for learner" not in to_text(exc.details.get("etcd_error", "")).lower():
                    raise
                anonymous = True
        retried = False
        while True:
            headers = {"Authorization": self._token} if self._token and not anonymous else None
            try:
                answer = self._http(endpoint + self.api + path, body, headers=headers, timeout=timeout)
            except GardenosClusterError as exc:
                stale = "invalid auth token" in to_text(exc.details.get("etcd_error", "")).lower()
                if stale and self.username and not retried:
                    retried = True
                    self._authenticated = False
                    self._authenticate(endpoint)
                    continue
                raise
            if path in HEADERLESS_PATHS:
                return answer
            return require_etcd_answer(answer, endpoint, self.api + path)

    def call(self, path, body=None, timeout=None):
        """POST ``body`` to ``<api prefix><path>``, trying each endpoint in turn.

        The endpoint that answers is remembered and tried first next time. An endpoint that
        cannot be reached, or that answers UNAVAILABLE / DEADLINE_EXCEEDED (no leader, timed
        out), is skipped for the next one. Any other etcd error is raised at once.
        """
        failures = []
        last_error = None
        count = len(self.endpoints)
        for offset in range(count):
            index = (self._preferred + offset) % count
            endpoint = self.endpoints[index]
            try:
                answer = self._call_on(endpoint, path, body, timeout=timeout)
            except _Unreachable as exc:
                failures.append("%s: %s" % (endpoint, exc))
                continue
            except GardenosClusterError as exc:
                if exc.details.get("grpc_code") in FAILOVER_CODES and offset < count - 1:
                    failures.append(exc.msg)
                    last_error = exc
                    continue
                if failures:
                    exc.msg = "%s (other endpoints: %s)" % (exc.msg, "; ".join(failures))
                raise
            self._preferred = index
            return answer
        if last_error is not None:
            last_error.msg = "no etcd endpoint could serve the request: %s" % "; ".join(failures)
            raise last_error
        raise GardenosClusterError(
            "cannot reach etcd at any endpoint: %s" % "; ".join(failures),
            endpoints=self.endpoints,
        )

    def call_endpoint(self, endpoint, path, body=None, timeout=None):
        """POST to one given endpoint, no failover. An unreachable endpoint raises GardenosClusterError."""
        endpoint = self.normalize(endpoint)
        try:
            return self._call_on(endpoint, path, body, timeout=timeout)
        except _Unreachable as exc:
            raise GardenosClusterError("%s: %s" % (endpoint, exc), url=endpoint, unreachable=True) from None

    def get_endpoint(self, endpoint, path, timeout=None):
        """GET a non-API path (``/health``, ``/version``) on one endpoint, no failover."""
        endpoint = self.normalize(endpoint)
        try:
            return self._http(endpoint + path, method="GET", timeout=timeout)
        except _Unreachable as exc:
            raise GardenosClusterError("%s: %s" % (endpoint, exc), url=endpoint, unreachable=True) from None

    def versions(self):
        """{"server": ..., "cluster": ...} of the endpoint that answered."""
        if self.api is None:
            self.call("/maintenance/status")
        return dict(server=self.server_version, cluster=self.cluster_version)

    # -- KV ------------------------------------------------------------------------------------

    def range(self, key, range_end=None, *, keys_only=False, count_only=False, limit=0, revision=0):
        """/kv/range; ``key`` and ``range_end`` are bytes. The raw answer (kvs still base64)."""
        body = range_fields(key, range_end)
        if keys_only:
            body["keys_only"] = True
        if count_only:
            body["count_only"] = True
        if limit:
            body["limit"] = str(limit)
        if revision:
            body["revision"] = str(revision)
        return self.call("/kv/range", body)

    def peek(self, key, range_end, limit):
        """(count, revision, first keys): how many keys [key, range_end) holds, the revision read
        at, and its first ``limit`` keys (bytes). One request, keys only."""
        if limit <= 0:
            answer = self.range(key, range_end, count_only=True)
        else:
            answer = self.range(key, range_end, keys_only=True, limit=limit)
        keys = [b64decode(kv.get("key")) for kv in answer.get("kvs") or []]
        revision = int(answer.get("header", {}).get("revision", 0))
        return int(answer.get("count", len(keys))), revision, keys

    def leased_keys(self, max_leases=1000):
        """Every key attached to a lease, as [(key bytes, lease ID)], or None past ``max_leases`` leases.

        Reads the lease list and each lease's keys: a handful of requests on a usual cluster, and
        independent of how many keys carry no lease.
        """
        leases = self.call("/lease/leases").get("leases") or []
        if len(leases) > max_leases:
            return None
        found = []
        for lease in leases:
            lease_id = lease.get("ID")
            if not lease_id:
                continue
            try:
                answer = self.call("/lease/timetolive", {"ID": lease_id, "keys": True})
            except GardenosClusterError as exc:
                if exc.details.get("grpc_code") == 5:  # expired meanwhile
                    continue
                raise
            if int(answer.get("TTL", -1)) == -1:
                continue
            found.extend((b64decode(k), lease_id) for k in answer.get("keys") or [])
        return found

    def scan_keys(self, key, range_end, page_size=5000):
        """Every key in [key, range_end) with its lease, read keys-only in pages at one revision.

        Returns ``(revision, [(key_bytes, lease_id_string), ...])``; lease "0" means no lease. A page
        is ~1 MiB with keys of 100 bytes; one larger than the client reads is asked again, halved.
        """
        revision = 0
        found = []
        start = key
        while True:
            try:
                answer = self.range(start, range_end, keys_only=True, limit=page_size, revision=revision)
            except GardenosClusterError as exc:
                if not exc.details.get("too_large") or page_size == 1:
                    raise
                page_size = max(1, page_size // 2)
                continue
            if not revision:
                revision = int(answer.get("header", {}).get("revision", 0))
            kvs = answer.get("kvs") or []
            for kv in kvs:
                found.append((b64decode(kv.get("key")), kv.get("lease", "0")))
            if not answer.get("more") or not kvs:
                return revision, found
            start = found[-1][0] + b"\0"

    def delete_range(self, key, range_end=None, unchanged_since=None):
        """Delete [key, range_end). Returns the number of keys deleted.

        With ``unchanged_since`` (a revision), delete only if no key in the range was created or
        modified after that revision (one transaction); returns None if something was.
        """
        request = range_fields(key, range_end)
        if unchanged_since is None:
            answer = self.call("/kv/deleterange", request)
            return int(answer.get("deleted", 0))
        compare = {"target": "MOD", "result": "LESS", "mod_revision": str(int(unchanged_since) + 1)}
        compare["key"] = request["key"]
        if range_end is not None:
            compare["range_end"] = request["range_end"]
        answer = self.call("/kv/txn", {"compare": [compare], "success": [{"request_delete_range": request}]})
        if not answer.get("succeeded"):
            return None
        responses = answer.get("responses") or [{}]
        deleted = _get(responses[0], "response_delete_range", "responseDeleteRange", {}) or {}
        return int(deleted.get("deleted", 0))

    # -- cluster -------------------------------------------------------------------------------

    def member_list(self):
        """The members, normalized (see normalize_member)."""
        answer = self.call("/cluster/member/list", {"linearizable": True})
        return [normalize_member(member) for member in answer.get("members") or []]

    def member_add(self, peer_urls, is_learner=True):
        """Add a member; returns (new member, all members), normalized. The peer URLs are checked first."""
        peer_urls = validate_peer_urls(peer_urls)
        answer = self.call("/cluster/member/add", {"peerURLs": peer_urls, "isLearner": bool(is_learner)})
        member = normalize_member(answer.get("member") or {})
        members = [normalize_member(m) for m in answer.get("members") or []]
        return member, members

    def member_remove(self, member_id_hex):
        """Remove a member by its hex ID; returns the remaining members."""
        answer = self.call("/cluster/member/remove", {"ID": member_id_to_decimal(member_id_hex)})
        return [normalize_member(m) for m in answer.get("members") or []]

    def leader_client_url(self):
        """The client URL of the raft leader (as /maintenance/status names it), or None when it cannot be told."""
        try:
            leader = member_id_to_hex(_get(self.status(), "leader", "leader") or "0")
            urls = [m["client_urls"] for m in self.member_list() if m["id"] == leader and m["client_urls"]]
        except GardenosClusterError:
            return None
        return urls[0][0] if urls else None

    def member_promote(self, member_id_hex):
        """Promote a learner by its hex ID; returns the members. Asked of the raft leader when it can be reached: a
        follower forwards a promotion without the caller's credentials, so with auth on the leader refuses it and
        the follower answers "request timed out" (etcd issue 14070, fixed in 3.6 only)."""
        body, leader = {"ID": member_id_to_decimal(member_id_hex)}, self.leader_client_url()
        try:
            answer = self.call_endpoint(leader, "/cluster/member/promote", body) if leader else None
        except GardenosClusterError as exc:
            if not exc.details.get("unreachable"):
                raise
            answer = None
        answer = answer or self.call("/cluster/member/promote", body)
        return [normalize_member(m) for m in answer.get("members") or []]

    def member_promote_when_ready(self, member_id_hex, wait_timeout, interval=1.0):
        """Promote a learner, retrying while it is not yet in sync with the leader, and through etcd's transient
        refusals (a commit that timed out, a leader election, an overload) until the deadline. A promotion that
        timed out may still commit: etcd then calls the member no learner, which is the promotion done."""
        deadline = time.monotonic() + max(0.0, float(wait_timeout))
        retried_transient = False
        while True:
            try:
                return self.member_promote(member_id_hex)
            except GardenosClusterError as exc:
                etcd_error = to_text(exc.details.get("etcd_error", "")).lower()
                not_ready = "in sync with leader" in etcd_error
                if retried_transient and not not_ready and "can only promote a learner member" in etcd_error:
                    return self.member_list()
                transient = any(marker in etcd_error for marker in TRANSIENT_REFUSALS)
                if not (not_ready or transient):
                    raise
                if time.monotonic() + interval > deadline:
                    if transient:
                        raise
                    raise GardenosClusterError(
                        "learner %s did not catch up with the leader within %ss, so it cannot be promoted:"
                        " is etcd running on it, started with --initial-cluster-state existing and the"
                        " initial_cluster this module returned when it added the member?"
                        % (member_id_hex, wait_timeout),
                        member_id=member_id_hex,
                        etcd_error=exc.details.get("etcd_error"),
                    ) from None
                retried_transient = retried_transient or transient
                time.sleep(interval)

    def status(self, endpoint=None):
        """/maintenance/status of one endpoint (or of whichever answers)."""
        if endpoint is None:
            return self.call("/maintenance/status")
        return self.call_endpoint(endpoint, "/maintenance/status")

    def health(self, endpoint, timeout=None):
        """(healthy, reason) from GET /health of one client URL; unreachable -> (False, why)."""
        try:
            answer = self.get_endpoint(endpoint, "/health", timeout=timeout)
        except GardenosClusterError as exc:
            return False, exc.msg
        healthy = to_text(answer.get("health", "")).lower() == "true"
        return healthy, to_text(answer.get("reason", "")) or (None if healthy else "etcd says unhealthy")

    def member_health(self, member, timeout=None):
        """(healthy, reason) of a member (normalized) from its client URLs; the first healthy one wins."""
        reasons = []
        if not member["client_urls"]:
            return False, "the member has not started (no client URLs published)"
        for url in member["client_urls"]:
            healthy, reason = self.health(url, timeout=timeout)
            if healthy:
                return True, None
            reasons.append("%s: %s" % (url, reason))
        return False, "; ".join(reasons)

    def alarms(self):
        """Active alarms: [{"member_id": hex, "alarm": "NOSPACE"|"CORRUPT"}]."""
        answer = self.call("/maintenance/alarm", {"action": "GET", "alarm": "NONE"})
        return [
            dict(member_id=member_id_to_hex(alarm.get("memberID", "0")), alarm=alarm.get("alarm", "NONE"))
            for alarm in answer.get("alarms") or []
        ]
