# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    # Connection options of the gardenos.cluster modules that talk to Patroni's REST API; the
    # argument spec that matches it is PATRONI_COMMON_ARGUMENT_SPEC in plugins/module_utils/patroni_rest.py.
    DOCUMENTATION = r"""
options:
  urls:
    description:
      - Patroni REST API URLs of cluster members, for example V(http://10.0.0.11:8008). Any member
        that answers is enough.
      - They are tried in order; a URL that cannot be reached, or that does not answer like Patroni,
        is skipped for the next one.
      - An address without a scheme gets C(https://) when O(ca_cert) or O(client_cert) is set,
        C(http://) otherwise. A trailing C(/patroni) (as Patroni's own C(api_url) has) is dropped.
    type: list
    elements: str
    required: true
  ca_cert:
    description:
      - PEM file with the CA certificate(s) that signed the Patroni REST API server certificates
        (C(restapi.certfile)).
      - Without it, the system's trust store is used for C(https://) URLs.
    type: path
  client_cert:
    description:
      - PEM client certificate, for a REST API that checks client certificates (C(restapi.verify_client)).
    type: path
  client_key:
    description:
      - PEM private key of O(client_cert).
    type: path
  username:
    description:
      - User name of the REST API's basic authentication (C(restapi.authentication)), sent with every
        request.
      - Patroni asks for it only on requests that change something; the read-only requests work without it.
    type: str
  password:
    description:
      - Password of O(username).
    type: str
  timeout:
    description:
      - Seconds one HTTP request to one URL may take in all (connecting, sending it and reading the
        whole answer); a deadline, not a timeout per read.
    type: float
    default: 5
  validate_certs:
    description:
      - Whether to verify the REST API server certificates. Only set to V(false) on a lab.
    type: bool
    default: true
notes:
  - Uses only the Python standard library on the target (no Patroni Python package). The target must
    reach the URLs directly; proxy environment variables are ignored.
  - O(client_cert) and O(client_key) go together, and so do O(username) and O(password).
requirements:
  - Patroni 3.0 or later (tested with 3.0.2 and 4.1.5).
"""

    # The action group of the Patroni REST API modules (meta/runtime.yml).
    ACTIONGROUP_PATRONI = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/gardenos.cluster.patroni) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - gardenos.cluster.patroni
"""
