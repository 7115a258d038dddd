#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# An action plugin (plugins/action/x509_certificates.py) that runs on the controller only; this file documents it.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: x509_certificates
short_description: Make certificates signed by a CA on the controller, or self-signed CAs, in one go
version_added: 0.2.0
description:
  - Makes every certificate of O(certificates) in O(directory) on the controller, in one process with the Python
    C(cryptography) package (what community.crypto's C(openssl_privatekey), C(openssl_csr_pipe) and
    C(x509_certificate) made in three module runs a certificate).
  - Each certificate's key is C(<name>.key) (ECDSA P-256, mode 0600), kept when a usable one is there and made
    otherwise; its certificate C(<name>.crt) (mode 0644) is always signed again, with a new serial number, valid from
    now to O(validity). Each file is written in one rename.
  - A certificate is signed by the CA O(ca_cert) / O(ca_key), or is a self-signed CA (O(certificates[].is_ca)). CAs
    are made first.
  - The certificates are controller state, like the rest of the PKI, so they are made in check mode too.
author:
  - gardenos.cluster developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: none
    details: It writes the controller's certificate files in check mode too; it changes nothing on a node.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  directory:
    description: The directory on the controller that holds the keys, certificates and the CA.
    type: path
    required: true
  certificates:
    description: The certificates to make.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The files' name, without C(.crt) and C(.key).
        type: str
        required: true
      subject:
        description: The subject, with the keys C(common_name) and C(organization_name) (each optional).
        type: dict
        default: {}
      sans:
        description: Subject alternative names, each C(IP:<address>) or C(DNS:<name>).
        type: list
        elements: str
        default: []
      usages:
        description: Extended key usages, C(serverAuth) and C(clientAuth).
        type: list
        elements: str
        default: []
      is_ca:
        description:
          - A self-signed CA (basic constraints CA, key usage keyCertSign, cRLSign and digitalSignature, critical);
            O(certificates[].sans) and O(certificates[].usages) are ignored.
        type: bool
        default: false
  ca_cert:
    description: The CA certificate that signs the certificates that are not CAs, a file name in O(directory).
    type: str
  ca_key:
    description: The CA's private key, a file name in O(directory).
    type: str
  validity:
    description:
      - How long the certificates made are valid, as community.crypto writes it, relative (V(+825d), V(+1w2d3h4m5s))
        or an absolute UTC time (V(20301231000000Z)).
    type: str
    required: true
  read_expiry:
    description: Names of existing certificates in O(directory) whose expiry is also returned in RV(not_after).
    type: list
    elements: str
    default: []
  signing_keys:
    description:
      - Names of signing key pairs to keep in O(directory), without a certificate. C(<name>.key) (ECDSA P-256,
        mode 0600), kept when a usable one is there and made otherwise, and its public key C(<name>.pub) (PEM, mode
        0644), written when missing or not that key's. For what signs tokens, such as etcd's JWT auth tokens.
    type: list
    elements: str
    default: []
seealso:
  - module: community.crypto.x509_certificate
"""

EXAMPLES = r"""
- name: Make a CA, then two certificates it signs
  gardenos.cluster.x509_certificates:
    directory: /srv/pki
    validity: "+3650d"
    certificates:
      - {name: ca, subject: {common_name: example etcd CA}, is_ca: true}

- name: Make the certificates the CA signs
  gardenos.cluster.x509_certificates:
    directory: /srv/pki
    ca_cert: ca.crt
    ca_key: ca.key
    validity: "+825d"
    certificates:
      - name: etcd-1-server
        subject: {common_name: etcd-1}
        sans: ["IP:192.0.2.11", "DNS:etcd-1"]
        usages: [serverAuth, clientAuth]
      - name: client-patroni
        subject: {organization_name: patroni}
        usages: [clientAuth]
  register: made
"""

RETURN = r"""
made:
  description: The names of the certificates made, CAs first.
  returned: success
  type: list
  elements: str
  sample: [ca, etcd-1-server]
not_after:
  description: The expiry (UTC, as C(x509_certificate_info) writes it) of each certificate made and of O(read_expiry).
  returned: success
  type: dict
  sample: {etcd-1-server: "20290306120000Z"}
keys_made:
  description: The names of the signing keys of O(signing_keys) whose key or public key was written.
  returned: success
  type: list
  elements: str
  sample: [etcd-auth-token]
"""
