# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The certificate a TLS server presents now, compared with a certificate file.

Standard library and ``ansible.module_utils`` only: it runs on the managed node. etcd reads its
certificate and key files at every new TLS handshake, so a new connection shows whether a member
serves a certificate just installed, with no restart.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import socket
import ssl
from urllib.parse import urlsplit

from ansible.module_utils.common.text.converters import to_native
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError
from ansible_collections.gardenos.cluster.plugins.module_utils.http_transport import (
    TRANSPORT_ERRORS,
    Unreachable,
    describe_transport_error,
)

PEM_END = "-----END CERTIFICATE-----"


def served_certificate_sha256(url, client, timeout=None):
    """The SHA-256 (hex) of the DER form of the certificate an ``https://`` URL presents in a new TLS
    handshake, made with ``client``'s TLS settings (a RestClient: its CA, client certificate and
    validate_certs). ``timeout`` bounds the connection and the handshake. Raises Unreachable."""
    timeout = timeout or client.timeout
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise GardenosClusterError("%s: the certificate a server presents is read from an https:// URL" % url, url=url)
    context = ssl.create_default_context(cafile=client.ca_cert)
    if not client.validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        if client.client_cert:
            context.load_cert_chain(client.client_cert, client.client_key)
        with socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=parts.hostname) as tls:
                der = tls.getpeercert(binary_form=True)
    except TRANSPORT_ERRORS as exc:
        raise Unreachable(describe_transport_error(exc, timeout, client.SERVICE, client.URL_KIND)) from None
    return hashlib.sha256(der).hexdigest()


def certificate_file_sha256(path):
    """The SHA-256 (hex) of the DER form of the first certificate in the PEM file ``path``."""
    try:
        with open(path) as pem:
            text = pem.read()
        der = ssl.PEM_cert_to_DER_cert(text[: text.index(PEM_END) + len(PEM_END)])
    except (OSError, ValueError) as exc:
        raise GardenosClusterError(
            "%s: no PEM certificate could be read (%s)" % (path, to_native(exc)), path=path
        ) from None
    return hashlib.sha256(der).hexdigest()


def served_certificate_reports(client, wanted):
    """For each of ``wanted`` (dicts with ``url`` and optionally ``certificate``, a PEM file's path):
    the SHA-256 of the certificate the URL presents now, and whether it is the file's certificate.
    Never raises for a URL that cannot be reached: its ``error`` says why."""
    reports = []
    for entry in wanted:
        report = dict(url=entry["url"], certificate=entry.get("certificate"), sha256=None)
        report.update(serves_certificate=None, error=None)
        try:
            report["sha256"] = served_certificate_sha256(entry["url"], client)
            if report["certificate"]:
                report["serves_certificate"] = report["sha256"] == certificate_file_sha256(report["certificate"])
        except Unreachable as exc:
            report["error"] = to_native(exc)
        except GardenosClusterError as exc:
            report["error"] = exc.msg
        reports.append(report)
    return reports
