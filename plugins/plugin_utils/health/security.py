# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The security checks of the health report: each etcd member refuses a client without a certificate
(ansible.builtin.uri on its client URL, without one), each Patroni REST API refuses plain HTTP, HAProxy
refuses a client from outside servers.yaml's networks (refused_source_probe.py from the loopback address),
etcd refuses Patroni's user on K3s's keys (a read of
/registry/ with Patroni's certificate and credentials), each HAProxy stats page refuses anonymous requests,
K3s encrypts Secrets at rest (``k3s secrets-encrypt status`` on a server)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.common import (
    as_dict,
    as_int,
    as_list,
    check,
    fix_reach,
    short_error,
)

# How an HTTPS request without a client certificate ends when etcd refuses it (TLS alerts and
# resets, worded by Python's ssl module, urllib and http.client), and when the request proves
# nothing (the endpoint did not answer at all, or our own verification of its certificate failed).
TLS_REFUSALS = (
    "certificate required",
    "alert",
    "handshake",
    "ssl",
    "tls",
    "reset by peer",
    "eof occurred",
    "remote end closed",
    "broken pipe",
)
NOT_VERIFIED = ("certificate verify failed", "certificate_verify_failed")
NO_ANSWER = ("connection refused", "timed out", "no route to host", "name or service not known", "unreachable")


def classify_no_cert(status, msg):
    """(status, saw) of an HTTPS request to etcd without a client certificate (ansible.builtin.uri's status and msg)."""
    code = as_int(status, -1)
    text = short_error(msg)
    lower = text.lower()
    if code > 0:
        return "fail", "answered HTTP %d to a client without a certificate" % code
    if any(marker in lower for marker in NOT_VERIFIED):
        return "warn", "not verified: its certificate did not verify against the CA: %s" % text
    if any(marker in lower for marker in NO_ANSWER):
        return "warn", "not verified: it did not answer: %s" % text
    if any(marker in lower for marker in TLS_REFUSALS):
        return "pass", "refused the TLS session: %s" % text
    return "warn", "not verified: %s" % (text or "no answer")


def security_checks(obs):
    """The etcd, HAProxy and K3s checks; one skip without any of them."""
    checks = _etcd_no_cert_checks(obs)
    if obs.group("etcd") and obs.group("patroni"):
        checks.append(_patroni_confined_check(obs))
    checks.extend(_patroni_plain_http_check(obs, host) for host in obs.group("patroni"))
    checks.extend(_stats_anonymous_check(obs, host) for host in obs.group("haproxy"))
    checks.extend(_refused_source_check(obs, host) for host in obs.group("haproxy"))
    if obs.group("k3s_server"):
        checks.append(_secrets_encryption_check(obs))
    if not checks:
        checks.append(check("security", "security", "skip", "no etcd, haproxy or k3s_server hosts in the inventory"))
    return checks


PATRONI_CONFINED = "etcd refuses Patroni's user on K3s's keys"


def _patroni_confined_check(obs):
    """The check that a read of /registry/ with Patroni's credentials answered 403."""
    seen = as_dict(obs.first("etcd_patroni_registry"))
    if not seen:
        return _unasked(PATRONI_CONFINED, "patroni")
    url = seen.get("url") or "etcd"
    code = as_int(seen.get("status"), -1)
    error = short_error(seen.get("error"))
    if not boolean(seen.get("auth_wanted"), strict=False):
        return check(
            "security",
            PATRONI_CONFINED,
            "warn",
            "etcd authorization is off (wiring_etcd_auth: false): a read of /registry/ on %s answered %d" % (url, code),
            "set wiring_etcd_auth: true (the default) and run site.yml",
        )
    if code == 403:
        return check("security", PATRONI_CONFINED, "pass", "a read of /registry/ on %s: 403 %s" % (url, error))
    if not boolean(seen.get("logged_in"), strict=False):
        return check(
            "security",
            PATRONI_CONFINED,
            "fail",
            "Patroni's user did not log in to %s (HTTP %s), and a read of /registry/ answered %d %s"
            % (url, seen.get("login_status"), code, error),
            "run site.yml: it keeps etcd's users and enables authorization last",
        )
    return check(
        "security",
        PATRONI_CONFINED,
        "fail",
        "a read of /registry/ on %s with Patroni's credentials answered %d %s" % (url, code, error),
        "run site.yml: it keeps Patroni's etcd role confined to its scope",
    )


def _unasked(name, group):
    """The check ``name`` failed as not checked: no host of ``group`` was reachable to ask from."""
    return check(
        "security",
        name,
        "fail",
        "not checked: no %s host was reachable to ask from" % group,
        "make a %s host reachable over SSH (see the hosts checks)" % group,
    )


def _not_checked(obs, host, name):
    """The failure of a check of ``host`` whose observation is missing: why, and how to reach the host."""
    return check("security", name, "fail", "not checked: %s" % obs.why_missing(host), fix_reach(host))


def _patroni_plain_http_check(obs, host):
    """ "Patroni's REST API on <host> refuses plain HTTP": a GET over HTTP gets no HTTP answer."""
    name = "Patroni's REST API on %s refuses plain HTTP" % host
    seen = obs.host(host).get("patroni_plain_http")
    if not isinstance(seen, dict):
        return _not_checked(obs, host, name)
    code = as_int(seen.get("status"), -1)
    url = seen.get("url") or "the REST API"
    error = short_error(seen.get("msg", ""))
    if code > 0:
        return check(
            "security",
            name,
            "fail",
            "%s answered HTTP %d over plain HTTP" % (url, code),
            "run site.yml: it serves the REST API over HTTPS with the member's certificate",
        )
    if any(marker in error.lower() for marker in NO_ANSWER):
        return check(
            "security",
            name,
            "warn",
            "not verified: %s did not answer: %s" % (url, error),
            "see the Patroni checks of %s, then run the report again" % host,
        )
    return check("security", name, "pass", "%s gave plain HTTP no answer: %s" % (url, error or "closed"))


def _refused_source_check(obs, host):
    """ "HAProxy on <host> refuses a client from outside the allowed networks", from the probe's outcome."""
    name = "HAProxy on %s refuses a client from outside the allowed networks" % host
    facts = obs.host(host)
    if "haproxy_refused_source" not in facts:
        return _not_checked(obs, host, name)
    seen = as_dict(facts.get("haproxy_refused_source"))
    if not seen:
        return check("security", name, "skip", "no PostgreSQL frontend on %s" % host)
    where = "%s from %s" % (seen.get("target", "the PostgreSQL frontend"), seen.get("source", "the loopback address"))
    detail = short_error(seen.get("detail", ""))
    if boolean(facts.get("haproxy_refused_source_allowed"), strict=False):
        return check(
            "security",
            name,
            "skip",
            "not checked: servers.yaml's networks hold %s, the address the report asks from" % seen.get("source"),
        )
    outcome = seen.get("outcome")
    if outcome == "closed":
        return check("security", name, "pass", "%s: %s" % (where, detail))
    if outcome == "answered":
        return check(
            "security",
            name,
            "fail",
            "%s was let through: %s" % (where, detail),
            "run site.yml: haproxy.cfg refuses sources outside cluster.client_networks and cluster.admin_networks",
        )
    return check(
        "security",
        name,
        "warn",
        "not verified: %s: %s %s" % (where, outcome, detail),
        "see the HAProxy checks of %s, then run the report again" % host,
    )


SECRETS_ENCRYPTION = "K3s encrypts Secrets at rest"


def _secrets_encryption_check(obs):
    """'K3s encrypts Secrets at rest': `k3s secrets-encrypt status` says "Encryption Status: Enabled"."""
    result = as_dict(obs.first("k3s_secrets_encryption"))
    if not result:
        return _unasked(SECRETS_ENCRYPTION, "k3s_server")
    host = result.get("host") or "a server"
    said = " ".join(("%s" % (result.get("stdout") or "")).split())
    if as_int(result.get("rc"), -1) != 0:
        return check(
            "security",
            SECRETS_ENCRYPTION,
            "fail",
            "k3s secrets-encrypt status failed on %s: %s"
            % (host, short_error(result.get("stderr") or result.get("msg"))),
            "on %s: systemctl status k3s; k3s secrets-encrypt status" % host,
        )
    if "Encryption Status: Enabled" in said:
        return check("security", SECRETS_ENCRYPTION, "pass", "%s: %s" % (host, said))
    return check(
        "security",
        SECRETS_ENCRYPTION,
        "fail",
        "%s: %s" % (host, said or "no status"),
        "set k3s_server_secrets_encryption: true (the default) and run site.yml; then, on one server: "
        "k3s secrets-encrypt reencrypt, for the Secrets written before",
    )


def _etcd_no_cert_checks(obs):
    """'etcd <host> refuses a client without a certificate' for each etcd host."""
    hosts = obs.group("etcd")
    if not hosts:
        return []
    by_host = {}
    for result in map(as_dict, as_list(as_dict(obs.first("etcd_no_cert")).get("results"))):
        by_host[as_dict(result.get("item")).get("key")] = result
    return [_no_cert_check(host, by_host.get(host)) for host in hosts]


def _no_cert_check(host, result):
    name = "etcd %s refuses a client without a certificate" % host
    if result is None:
        return check(
            "security",
            name,
            "fail",
            "not checked: no etcd host was reachable to ask from",
            "make an etcd host reachable over SSH (see the hosts checks)",
        )
    url = as_dict(as_dict(result.get("item")).get("value")).get("endpoint") or result.get("url") or ""
    status, saw = classify_no_cert(result.get("status"), result.get("msg"))
    fix = {
        "fail": "etcd must require client certificates (client-cert-auth: true in /etc/etcd/etcd.conf.yml): "
        "run site.yml",
        "warn": "see the member check of %s, then run the report again" % host,
    }.get(status)
    return check("security", name, status, "%s %s" % (url, saw), fix)


def _stats_anonymous_check(obs, host):
    """'HAProxy stats on <host> refuse anonymous access': 401 without credentials."""
    name = "HAProxy stats on %s refuse anonymous access" % host
    result = obs.host(host).get("haproxy_stats_anonymous")
    if not isinstance(result, dict):
        return _not_checked(obs, host, name)
    code = as_int(result.get("status"), -1)
    url = result.get("url") or ""
    if code == 401:
        return check("security", name, "pass", "%s answered 401 without credentials" % url)
    if 200 <= code < 400:
        return check(
            "security",
            name,
            "fail",
            "%s answered %d without credentials" % (url, code),
            "haproxy.cfg must have 'stats auth' in its stats section: run site.yml",
        )
    if code > 0:
        return check(
            "security",
            name,
            "warn",
            "%s answered %d, not 401" % (url, code),
            "check haproxy_stats_uri and the stats section of /etc/haproxy/haproxy.cfg",
        )
    return check(
        "security",
        name,
        "warn",
        "not verified: %s did not answer: %s" % (url, short_error(result.get("msg", ""))),
        "see the HAProxy checks of %s, then run the report again" % host,
    )
