# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Certificates made on the controller with ``cryptography``, for gardenos.cluster.x509_certificates.

One call makes every certificate of a run in one process: keys (ECDSA P-256, kept when a usable one
is there), certificates signed by a CA of the same directory, or self-signed CAs. The files are what
community.crypto's openssl_privatekey, openssl_csr and x509_certificate (ownca, selfsigned) made
before, each written by one rename (0600 keys, 0644 certificates): a reader never sees half a file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import os
import re
import tempfile

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError as error:
    # Loading the plugin must not need cryptography (ansible-test imports it bare); using it does.
    CRYPTOGRAPHY_IMPORT_ERROR = error
    USAGES = SUBJECT_FIELDS = {}
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None
    USAGES = {"serverAuth": ExtendedKeyUsageOID.SERVER_AUTH, "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH}
    SUBJECT_FIELDS = {"common_name": NameOID.COMMON_NAME, "organization_name": NameOID.ORGANIZATION_NAME}

EXPIRY_FORMAT = "%Y%m%d%H%M%SZ"
RELATIVE_TIME = re.compile(r"^\+(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class CertificateError(Exception):
    """What the action reports as its failure, written for the user."""


def not_after(spec, now):
    """A validity as community.crypto writes it: relative (``+825d``, ``+1w2d3h4m5s``) or an absolute
    ASN.1 time (``20301231000000Z``) -> an aware UTC datetime."""
    text = str(spec).strip()
    relative = RELATIVE_TIME.match(text)
    if relative and text != "+":
        weeks, days, hours, minutes, seconds = (int(part or 0) for part in relative.groups())
        return now + datetime.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    try:
        return datetime.datetime.strptime(text, EXPIRY_FORMAT).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise CertificateError(
            "validity %r is neither relative (+825d, +1w2d3h) nor an absolute time (20301231000000Z)" % spec
        ) from None


def expiry_text(certificate):
    """A certificate's not_after as x509_certificate_info wrote it (20290306120000Z)."""
    # not_valid_after_utc from cryptography 42 on; the older, naive not_valid_after is UTC too.
    expiry = getattr(certificate, "not_valid_after_utc", None) or certificate.not_valid_after
    return expiry.strftime(EXPIRY_FORMAT)


def write_file(path, data, mode):
    """Writes ``data`` to ``path`` with ``mode`` in one rename (a temporary file beside it)."""
    directory = os.path.dirname(path) or "."
    handle, staged = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".")
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(staged, path)
    except BaseException:
        if os.path.exists(staged):
            os.unlink(staged)
        raise


def usable_key(path):
    """The ECDSA P-256 private key in ``path``, or None when there is none (or another kind)."""
    try:
        with open(path, "rb") as stream:
            key = serialization.load_pem_private_key(stream.read(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    return None


def key_for(path):
    """(key, made): the usable key in ``path``, else a new one written there (0600)."""
    key = usable_key(path)
    if key is not None:
        return key, False
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_file(path, pem, 0o600)
    return key, True


def make_signing_key(directory, name):
    """Keeps ``<name>.key`` (the usable key there, else a new one) and its public key ``<name>.pub``
    (PEM, 0644, rewritten only when it is missing or is not that key's); True when either was written."""
    key, made = key_for(os.path.join(directory, name + ".key"))
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path = os.path.join(directory, name + ".pub")
    try:
        with open(path, "rb") as stream:
            current = stream.read()
    except OSError:
        current = None
    if current != public:
        write_file(path, public, 0o644)
        made = True
    return made


def subject_name(subject, name):
    attributes = []
    for field, value in (subject or {}).items():
        if field not in SUBJECT_FIELDS:
            raise CertificateError(
                "certificate %s: subject field %r is not one of %s" % (name, field, sorted(SUBJECT_FIELDS))
            )
        if value:
            attributes.append(x509.NameAttribute(SUBJECT_FIELDS[field], str(value)))
    return x509.Name(attributes)


def alternative_names(sans, name):
    names = []
    for san in sans or []:
        kind, _colon, value = str(san).partition(":")
        try:
            if kind == "IP":
                names.append(x509.IPAddress(ipaddress.ip_address(value)))
            elif kind == "DNS" and value:
                names.append(x509.DNSName(value))
            else:
                raise ValueError("not IP:<address> or DNS:<name>")
        except ValueError as exc:
            raise CertificateError("certificate %s: subject alternative name %r: %s" % (name, san, exc)) from None
    return names


def extended_usages(usages, name):
    unknown = sorted(set(usages or []) - set(USAGES))
    if unknown:
        raise CertificateError("certificate %s: usages %s are not among %s" % (name, unknown, sorted(USAGES)))
    return [USAGES[usage] for usage in usages]


def key_usage(*, ca):
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not ca,
        data_encipherment=False,
        key_agreement=not ca,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


class Signer:
    """The CA that signs the certificates of a run: its certificate and key, read once."""

    def __init__(self, cert_path, key_path):
        try:
            with open(cert_path, "rb") as stream:
                self.certificate = x509.load_pem_x509_certificate(stream.read())
        except (OSError, ValueError) as exc:
            raise CertificateError("the CA certificate %s cannot be read: %s" % (cert_path, exc)) from None
        self.key = usable_key(key_path)
        if self.key is None:
            raise CertificateError("the CA key %s is missing or not an ECDSA P-256 key" % key_path)


def make_certificate(directory, entry, signer, validity, now):
    """Makes the certificate of ``entry`` (its key kept when usable); returns the certificate."""
    name = entry["name"]
    ca = bool(entry.get("is_ca"))
    key, _made = key_for(os.path.join(directory, name + ".key"))
    subject = subject_name(entry.get("subject"), name)
    if not ca and signer is None:
        raise CertificateError("certificate %s: no CA to sign it (ca_cert and ca_key)" % name)
    issuer_name = subject if ca else signer.certificate.subject
    issuer_key = key if ca else signer.key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(not_after(validity, now))
        .add_extension(key_usage(ca=ca), critical=ca)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    else:
        usages = extended_usages(entry.get("usages"), name)
        if usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        sans = alternative_names(entry.get("sans"), name)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    certificate = builder.sign(issuer_key, hashes.SHA256())
    write_file(os.path.join(directory, name + ".crt"), certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return certificate


def read_expiry(directory, name):
    path = os.path.join(directory, name + ".crt")
    try:
        with open(path, "rb") as stream:
            return expiry_text(x509.load_pem_x509_certificate(stream.read()))
    except (OSError, ValueError) as exc:
        raise CertificateError("certificate %s cannot be read: %s" % (path, exc)) from None


def make_all(directory, certificates, *, ca_cert=None, ca_key=None, validity, read=(), signing_keys=(), now=None):
    """Makes ``certificates`` (CAs first) in ``directory`` and keeps the ``signing_keys`` there; returns
    ``{made: [names], not_after: {name: time}, keys_made: [names]}``: the certificates made, the expiry of
    those and of ``read`` (existing certificates whose expiry is wanted), the signing keys written."""
    if CRYPTOGRAPHY_IMPORT_ERROR is not None:
        raise CertificateError(
            "the Python library cryptography is needed on the controller (pip install cryptography): %s"
            % CRYPTOGRAPHY_IMPORT_ERROR
        )
    now = now or datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    ordered = sorted(certificates, key=lambda entry: not entry.get("is_ca"))
    signer = None
    expiries = {}
    for entry in ordered:
        if not entry.get("is_ca") and signer is None and ca_cert:
            signer = Signer(os.path.join(directory, ca_cert), os.path.join(directory, ca_key or ""))
        expiries[entry["name"]] = expiry_text(make_certificate(directory, entry, signer, validity, now))
    made = [entry["name"] for entry in ordered]
    for name in read:
        if name not in expiries:
            expiries[name] = read_expiry(directory, name)
    keys_made = [name for name in signing_keys if make_signing_key(directory, name)]
    return {"made": made, "not_after": expiries, "keys_made": keys_made}
