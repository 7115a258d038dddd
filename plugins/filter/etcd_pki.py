# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The etcd role's certificates: what each is made from, and which must be made (again).

The controller makes every certificate of the etcd CA (tasks/pki.yml). Each certificate has a
digest of what it is made from (its entry, the validity, the CA that signs it), recorded in
``certificates.json`` when it is made, with its expiry; a certificate is made again when its digest
changes, a file of it is missing, or it expires within the renewal window (etcd_cert_renew_before_days).
Records from before expiries were kept hold the digest alone. Existing clusters hold digests computed
by the role's former Jinja
(``[entry, validity, ca] | to_json | hash('sha256')``): these filters give the same entries and
the same digests byte for byte (tests/unit/plugins/filter/test_etcd_pki.py proves it against
Ansible's templating), or an upgrade would re-issue every certificate and restart etcd.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from ansible.errors import AnsibleFilterError

# Members dial each other and the gateway dials its own member: both usages on both certificates.
MEMBER_USAGES = ["serverAuth", "clientAuth"]
CLIENT_USAGES = ["clientAuth"]


def _plain(value):
    """``value`` as plain dicts and lists (what Ansible's ``to_json`` serializes)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _host_order(host):
    """Jinja's ``sort`` order (case-insensitive), which the former template used."""
    return host.lower()


def etcd_member_certificates(addresses, domain=""):
    """Each member's server and peer certificate, by host name: ``{host: address}`` -> entries."""
    if not isinstance(addresses, Mapping):
        raise AnsibleFilterError("etcd_member_certificates expects a mapping of etcd host names to their addresses")
    certificates = []
    for host in sorted(addresses, key=_host_order):
        address = "IP:%s" % addresses[host]
        names = ["DNS:%s" % host] + (["DNS:%s.%s" % (host, domain)] if domain else [])
        subject = {"common_name": str(host)}
        certificates.append(
            {
                "name": "%s-server" % host,
                "subject": subject,
                # The local member's own client URL (127.0.0.1) is dialled by etcdctl and the health wait.
                "sans": [address, "IP:127.0.0.1", "DNS:localhost", *names],
                "usages": list(MEMBER_USAGES),
            }
        )
        certificates.append(
            {
                "name": "%s-peer" % host,
                "subject": dict(subject),
                "sans": [address, *names],
                "usages": list(MEMBER_USAGES),
            }
        )
    return certificates


def _host_certificates(filter_name, addresses, suffix, domain, *, common_name, usages, address_as_name=False):
    """One certificate per host of ``{host: address}``, sorted by host name, named ``<host><suffix>``: its CN
    ``common_name % host``, its address (and, with ``address_as_name``, the address as a DNS name too), its host
    name and ``<host>.<domain>`` as subject alternative names."""
    if not isinstance(addresses, Mapping):
        raise AnsibleFilterError("%s expects a mapping of host names to their addresses" % filter_name)
    if not suffix:
        raise AnsibleFilterError("%s: the file name suffix is empty" % filter_name)
    certificates = []
    for host in sorted(addresses, key=_host_order):
        names = ["DNS:%s" % host] + (["DNS:%s.%s" % (host, domain)] if domain else [])
        address = ["IP:%s" % addresses[host]] + (["DNS:%s" % addresses[host]] if address_as_name else [])
        certificates.append(
            {
                "name": "%s%s" % (host, suffix),
                "subject": {"common_name": common_name % host},
                "sans": [*address, *names],
                "usages": list(usages),
            }
        )
    return certificates


def patroni_api_certificates(addresses, suffix, domain=""):
    """Each Patroni member's REST API certificate, signed by the cluster CA: ``{host: address}`` ->
    entries named ``<host><suffix>``, serverAuth only (never an etcd client)."""
    return _host_certificates(
        "patroni_api_certificates", addresses, suffix, domain, common_name="%s", usages=["serverAuth"]
    )


def pgbackrest_certificates(addresses, suffix, domain=""):
    """Each pgBackRest host's certificate (its TLS server's, and its client's to the other hosts), signed by the
    cluster CA: ``{host: address}`` -> entries named ``<host><suffix>``.

    The CN is ``pgbackrest@<host>``: the cluster CA also signs etcd's client certificates and etcd takes a client
    certificate's CN as its user name, so this CN must be no etcd user's (the collection makes none with "@").
    pgBackRest 2.45 matches the host it dials against the certificate's CN and DNS names only, never its IP
    addresses (measured): the address is a DNS name too."""
    return _host_certificates(
        "pgbackrest_certificates",
        addresses,
        suffix,
        domain,
        common_name="pgbackrest@%s",
        usages=["serverAuth", "clientAuth"],
        address_as_name=True,
    )


def object_store_certificate(s3, name):
    """The S3 object store's certificate when the cluster's CA is the one its clients check it against
    (``cluster.backup.s3.tls_ca: cluster``): ``[]`` otherwise, else one entry named ``name`` for the endpoint's host,
    serverAuth only (never a client of etcd or pgBackRest), its CN and DNS name that host (pgBackRest 2.45 checks the
    CN and DNS names only), and an IP SAN too when the host is an address. The operator installs it on the object
    store; the PKI makes, renews and rotates it with the others."""
    if not s3 or s3.get("tls_ca") != "cluster":
        return []
    endpoint = s3.get("endpoint")
    host = endpoint.get("host") if isinstance(endpoint, Mapping) else None
    if not host or not name:
        raise AnsibleFilterError("object_store_certificate expects the checked cluster.backup.s3 and a file name")
    try:
        address = ["IP:%s" % ipaddress.ip_address(host)]
    except ValueError:
        address = []
    return [
        {"name": name, "subject": {"common_name": host}, "sans": [*address, "DNS:%s" % host], "usages": ["serverAuth"]}
    ]


def etcd_client_certificates(subjects, files):
    """The client certificates, ``{client: subject}`` -> entries named after ``files[client].cert``."""
    if not isinstance(subjects, Mapping) or not isinstance(files, Mapping):
        raise AnsibleFilterError("etcd_client_certificates expects a mapping of clients to subjects, and their files")
    certificates = []
    for client, subject in subjects.items():
        cert_file = (files.get(client) or {}).get("cert")
        if not cert_file:
            raise AnsibleFilterError("etcd_client_certificates: no certificate file named for client %r" % client)
        certificates.append(
            {
                "name": re.sub(r"[.]crt$", "", cert_file),
                "subject": _plain(subject),
                "sans": [],
                "usages": list(CLIENT_USAGES),
            }
        )
    return certificates


def etcd_certificate_digests(certificates, validity, ca_certificate):
    """``{name: sha256 of [entry, validity, CA certificate] as JSON}``, as the former template computed it."""
    if not isinstance(certificates, (list, tuple)):
        raise AnsibleFilterError("etcd_certificate_digests expects a list of certificate entries")
    digests = {}
    for certificate in _plain(certificates):
        # json.dumps' defaults (", " and ": ", ASCII escapes) are the to_json filter's.
        made_from = json.dumps([certificate, _plain(validity), ca_certificate])
        digests[certificate["name"]] = hashlib.sha256(made_from.encode("utf-8")).hexdigest()
    return digests


# x509_certificate_info's not_after, an ASN.1 time in UTC.
EXPIRY_FORMAT = "%Y%m%d%H%M%SZ"


def _parse_expiry(value, what):
    try:
        return datetime.strptime(str(value), EXPIRY_FORMAT)
    except ValueError:
        raise AnsibleFilterError("%s %r is not a time like 20290306120000Z" % (what, value)) from None


def _recorded(value):
    """(digest, not_after) of one certificate's record: ``{digest, not_after}``, or a digest alone
    (records made before expiries were kept)."""
    if isinstance(value, Mapping):
        return value.get("digest"), value.get("not_after")
    return value, None


def etcd_stale_certificates(
    certificates, digests, recorded, directory, *, renew_before_days=0, now=None, renew_all=False
):
    """The entries to make (again): all with ``renew_all``; else those whose digest is not the recorded one,
    whose ``.crt`` or ``.key`` is not in ``directory``, or whose recorded expiry is less than
    ``renew_before_days`` days after ``now`` (a UTC time like 20261202120000Z; default: now)."""
    if not isinstance(digests, Mapping) or not isinstance(recorded, Mapping):
        raise AnsibleFilterError("etcd_stale_certificates expects the current and the recorded digests as mappings")
    try:
        renew_before = timedelta(days=float(renew_before_days or 0))
    except (TypeError, ValueError):
        raise AnsibleFilterError(
            "etcd_stale_certificates: renew_before_days must be a number of days, not %r" % (renew_before_days,)
        ) from None
    moment = _parse_expiry(now, "now") if now else datetime.now(timezone.utc).replace(tzinfo=None)
    stale = []
    for certificate in _plain(certificates):
        name = certificate["name"]
        digest, not_after = _recorded(recorded.get(name))
        files = [os.path.join(directory, name + suffix) for suffix in (".crt", ".key")]
        due = not_after is not None and _parse_expiry(not_after, "the expiry of %s" % name) - moment < renew_before
        if renew_all or due or digest != digests.get(name) or not all(os.path.isfile(path) for path in files):
            stale.append(certificate)
    return stale


def etcd_certificates_without_expiry(recorded):
    """The names of the certificates recorded without an expiry (by a role from before expiries were kept)."""
    if not isinstance(recorded, Mapping):
        raise AnsibleFilterError("etcd_certificates_without_expiry expects the recorded certificates as a mapping")
    return sorted(name for name, value in recorded.items() if _recorded(value)[1] is None)


def etcd_certificate_records(digests, recorded, expiries):
    """What certificates.json records: ``{name: {digest, not_after}}`` for each of ``digests``, the expiry
    taken from ``expiries`` (``{name: not_after}`` of the certificates just made or read) or else the record."""
    if not isinstance(digests, Mapping) or not isinstance(recorded, Mapping) or not isinstance(expiries, Mapping):
        raise AnsibleFilterError(
            "etcd_certificate_records expects the digests, the recorded certificates and the expiries as mappings"
        )
    records = {}
    for name in sorted(digests):
        not_after = expiries.get(name) or _recorded(recorded.get(name))[1]
        if not_after is not None:
            _parse_expiry(not_after, "the expiry of %s" % name)
        records[name] = {"digest": digests[name], "not_after": not_after}
    return records


class FilterModule(object):
    def filters(self):
        return {
            "patroni_api_certificates": patroni_api_certificates,
            "pgbackrest_certificates": pgbackrest_certificates,
            "object_store_certificate": object_store_certificate,
            "etcd_member_certificates": etcd_member_certificates,
            "etcd_client_certificates": etcd_client_certificates,
            "etcd_certificate_digests": etcd_certificate_digests,
            "etcd_stale_certificates": etcd_stale_certificates,
            "etcd_certificates_without_expiry": etcd_certificates_without_expiry,
            "etcd_certificate_records": etcd_certificate_records,
        }
