# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certificate checks of the health report (in its etcd group): each certificate of the etcd PKI on
the etcd, Patroni and K3s server hosts is readable and far from its expiry."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.common import as_dict, as_list, check, fix_reach

# The hosts that hold certificates of the etcd PKI, by group.
CERT_GROUPS = ("etcd", "patroni", "k3s_server")

MONTHS = dict(
    (name, number) for number, name in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)
)


def parse_openssl_enddate(text):
    """The date of ``openssl x509 -noout -enddate``: 'notAfter=Nov 24 01:30:00 2028 GMT' (or, with
    ``-dateopt iso_8601``, 'notAfter=2028-11-24 01:30:00Z') -> an aware UTC datetime, or None."""
    match = re.search(r"notAfter=\s*(.+)", "%s" % (text or ""))
    if not match:
        return None
    value = match.group(1).strip()
    parts = value.split()
    if len(parts) >= 4 and parts[0] in MONTHS:
        try:
            hour, minute, second = (int(part) for part in parts[2].split(":"))
            return datetime.datetime(
                int(parts[3]), MONTHS[parts[0]], int(parts[1]), hour, minute, second, tzinfo=datetime.timezone.utc
            )
        except ValueError:
            return None
    try:
        return datetime.datetime.strptime(value.rstrip("Z"), "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def certificate_checks(obs, settings):
    """'certificate <path> on <host>' for each certificate listed on each host that holds the etcd PKI."""
    checks = []
    hosts = []
    for group in CERT_GROUPS:
        hosts.extend(host for host in obs.group(group) if host not in hosts)
    for host in hosts:
        certs = obs.host(host).get("certs")
        results = [as_dict(result) for result in as_list(as_dict(certs).get("results"))]
        if not results:
            reason = obs.why_missing(host) if certs is None else "no certificate listed"
            checks.append(
                check("etcd", "certificates on %s" % host, "fail", "not checked: %s" % reason, fix_reach(host))
            )
            continue
        checks.extend(_certificate_check(host, result, settings) for result in results if not result.get("skipped"))
    return checks


def _certificate_check(host, result, settings):
    """The check of one certificate: the registered openssl run on it."""
    item = as_dict(result.get("item"))
    path = item.get("path") or "?"
    name = "certificate %s on %s" % (path, host)
    if result.get("rc") not in (0, None) or result.get("unreachable"):
        return check(
            "etcd",
            name,
            "fail",
            "cannot read it: %s" % _read_error(result),
            "run site.yml: it installs the certificates",
        )
    not_after = parse_openssl_enddate(result.get("stdout"))
    if not_after is None:
        return check(
            "etcd",
            name,
            "fail",
            "no expiry date in: %s" % result.get("stdout", ""),
            "check the file: openssl x509 -noout -text -in %s" % path,
        )
    days = (not_after - settings["now"]).total_seconds() / 86400.0
    when = not_after.strftime("%Y-%m-%d %H:%M UTC")
    if days < 0:
        return check("etcd", name, "fail", "expired %s (%d days ago)" % (when, int(-days)), _renew_fix(host, item))
    if days < settings["cert_warn_days"]:
        return check(
            "etcd",
            name,
            "warn",
            "expires %s, in %d days (under %d)" % (when, int(days), settings["cert_warn_days"]),
            _renew_fix(host, item),
        )
    return check("etcd", name, "pass", "valid until %s (%d days)" % (when, int(days)))


def _read_error(result):
    """Why openssl could not read a certificate, in one line."""
    error = "%s" % (result.get("stderr") or result.get("msg") or "rc %s" % result.get("rc"))
    if "No such file or directory" in error:
        return "no such file"
    return error.strip().splitlines()[0] if error.strip() else error


def _renew_fix(host, item):
    name = item.get("name") or ""
    if name == "ca.crt":
        return (
            "the etcd CA itself: make a new CA and re-issue every certificate in the etcd PKI on the controller "
            "(pki/etcd/ next to the inventory), then run site.yml"
        )
    return (
        "re-issue it: delete %s from the etcd PKI on the controller (pki/etcd/ next to the inventory, keep ca.*) "
        "and run site.yml, which copies it to %s" % (name or "the certificate", host)
    )
