# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The etcd role's certificates: what each is made from, and which must be made (again).

The controller makes every certificate of the etcd CA (tasks/pki.yml). Each certificate has a
digest of what it is made from (its entry, the validity, the CA that signs it), recorded in
``certificates.json`` when it is made; a certificate is made again only when its digest changes
or a file of it is missing. Existing clusters hold digests computed by the role's former Jinja
(``[entry, validity, ca] | to_json | hash('sha256')``): these filters give the same entries and
the same digests byte for byte (tests/unit/plugins/filter/test_etcd_pki.py proves it against
Ansible's templating), or an upgrade would re-issue every certificate and restart etcd.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re
from collections.abc import Mapping

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


def etcd_stale_certificates(certificates, digests, recorded, directory):
    """The entries whose digest is not the recorded one, or whose ``.crt`` or ``.key`` is not in ``directory``."""
    if not isinstance(digests, Mapping) or not isinstance(recorded, Mapping):
        raise AnsibleFilterError("etcd_stale_certificates expects the current and the recorded digests as mappings")
    stale = []
    for certificate in _plain(certificates):
        name = certificate["name"]
        files = [os.path.join(directory, name + suffix) for suffix in (".crt", ".key")]
        if recorded.get(name) != digests.get(name) or not all(os.path.isfile(path) for path in files):
            stale.append(certificate)
    return stale


class FilterModule(object):
    def filters(self):
        return {
            "etcd_member_certificates": etcd_member_certificates,
            "etcd_client_certificates": etcd_client_certificates,
            "etcd_certificate_digests": etcd_certificate_digests,
            "etcd_stale_certificates": etcd_stale_certificates,
        }
