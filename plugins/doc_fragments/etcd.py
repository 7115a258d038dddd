# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    # Connection options shared by every gardenos.cluster etcd module; the argument spec that
    # matches it is ETCD_COMMON_ARGUMENT_SPEC in plugins/module_utils/etcd_gateway.py.
    DOCUMENTATION = r"""
options:
  endpoints:
    description:
      - Client URLs of etcd members, for example V(https://10.0.0.11:2379).
      - They are tried in order; an endpoint that cannot be reached, or that answers that it has no
        leader or timed out, is skipped for the next one, and the endpoint that answered is used first
        for the following requests.
      - An address without a scheme gets C(https://) when O(ca_cert) or O(client_cert) is set,
        C(http://) otherwise.
      - The module talks to etcd's v3 gRPC-JSON gateway, which every etcd from 3.4 on serves on its
        client URLs; the API path prefix is chosen from C(GET /version).
    type: list
    elements: str
    required: true
  ca_cert:
    description:
      - PEM file with the CA certificate(s) that signed the etcd server certificates.
      - Without it, the system's trust store is used for C(https://) endpoints.
    type: path
  client_cert:
    description:
      - PEM client certificate, for etcd started with C(--client-cert-auth).
      - When etcd authentication is enabled as well, the etcd gateway refuses a client certificate
        that has a CommonName; use one without CN together with O(username) and O(password).
    type: path
  client_key:
    description:
      - PEM private key of O(client_cert).
    type: path
  username:
    description:
      - etcd user name, for a cluster with authentication enabled.
      - The module authenticates once with C(/v3/auth/authenticate) and sends the token with every
        request. Ignored when authentication is not enabled on the cluster.
    type: str
  password:
    description:
      - Password of O(username).
    type: str
  timeout:
    description:
      - Seconds one HTTP request to one endpoint may take in all (connecting, sending it and reading the
        whole answer); a deadline, not a timeout per read.
    type: float
    default: 10
  validate_certs:
    description:
      - Whether to verify the etcd server certificates. Only set to V(false) on a lab.
    type: bool
    default: true
notes:
  - Uses only the Python standard library on the target (no etcd Python package). The target must
    reach the endpoints directly; proxy environment variables are ignored.
  - O(client_cert) and O(client_key) go together, and so do O(username) and O(password).
requirements:
  - etcd 3.4 or later (the v3 JSON gateway; learners need 3.4).
"""

    # The action group of the etcd modules (meta/runtime.yml): one module_defaults entry sets the
    # connection for all of them.
    ACTIONGROUP_ETCD = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/gardenos.cluster.etcd) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - gardenos.cluster.etcd
"""
