# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certificate checks of the health report (in its etcd group): each certificate of the etcd PKI on
the etcd, Patroni and K3s server hosts is readable and far from its expiry. The roles' health entry points
publish what ansible.builtin.slurp read of each file; its expiry (the first certificate's not_after) is read
here, on the controller, with the cryptography library: one module run per file less on the controller
(measured 16 s of a 78 s report on 3 hosts)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import datetime

from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.common import as_dict, as_list, check, fix_reach

try:
    from cryptography import x509
except ImportError:  # the controller requirement (meta/ee-requirements.txt) is missing: said in the check
    x509 = None

# The hosts that hold certificates of the etcd PKI, by group, and the observations each role publishes
# of the certificates it installed, in the report's order.
CERT_GROUPS = ("etcd", "patroni", "k3s_server")
CERT_OBSERVATIONS = ("etcd_certs", "patroni_certs", "k3s_certs")


def certificate_not_after(content):
    """(not_after, None) of the first certificate of a file slurp read (base64), as an aware UTC datetime;
    (None, why) when it holds none."""
    if x509 is None:
        return None, "the controller lacks the cryptography library (pip install cryptography)"
    try:
        pem = base64.b64decode("%s" % content, validate=True)
        certificate = x509.load_pem_x509_certificate(pem)
    except (binascii.Error, ValueError) as error:
        return None, "not a PEM certificate (%s)" % ("%s" % error).strip().splitlines()[0]
    not_after = getattr(certificate, "not_valid_after_utc", None)
    if not_after is None:  # cryptography before 42: a naive datetime in UTC
        not_after = certificate.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return not_after, None


def certificate_checks(obs, settings):
    """'certificate <path> on <host>' for each certificate listed on each host that holds the etcd PKI."""
    checks = []
    hosts = []
    for group in CERT_GROUPS:
        hosts.extend(host for host in obs.group(group) if host not in hosts)
    for host in hosts:
        observed = [obs.host(host).get(key) for key in CERT_OBSERVATIONS]
        reads = [as_dict(read) for certs in observed for read in as_list(certs)]
        if not reads:
            missing = all(certs is None for certs in observed)
            reason = obs.why_missing(host) if missing else "no certificate listed"
            checks.append(
                check("etcd", "certificates on %s" % host, "fail", "not checked: %s" % reason, fix_reach(host))
            )
            continue
        checks.extend(_certificate_check(host, read, settings) for read in reads)
    return checks


def _certificate_check(host, read, settings):
    """The check of one certificate: what slurp read of it (its item: {path, name})."""
    read = as_dict(read)
    item = as_dict(read.get("item"))
    path = item.get("path") or "?"
    name = "certificate %s on %s" % (path, host)
    if "content" not in read:
        return check(
            "etcd",
            name,
            "fail",
            "cannot read it: %s" % _read_error(read),
            "run site.yml: it installs the certificates",
        )
    not_after, why = certificate_not_after(read["content"])
    if not_after is None:
        return check(
            "etcd",
            name,
            "fail",
            "no expiry date: %s" % why,
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


def _read_error(read):
    """Why slurp could not read a certificate, in one line."""
    error = "%s" % (read.get("msg") or "not read")
    if error.lower().startswith("file not found"):
        return "no such file"
    return error.strip().splitlines()[0] if error.strip() else error


def _renew_fix(host, item):
    name = item.get("name") or ""
    if name in ("ca.crt", "ca-bundle.crt"):
        return (
            "the etcd CA itself: rotate it with no outage, "
            "ansible-playbook playbooks/etcd_rotate_ca.yml -e etcd_rotate_ca_confirm=<cluster name>"
        )
    return (
        "renew it: ansible-playbook playbooks/etcd_renew_certificates.yml (rolls %s out to %s one member at a time; "
        "site.yml renews certificates within etcd_cert_renew_before_days of their expiry)"
        % (name or "the certificate", host)
    )
