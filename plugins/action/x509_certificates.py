# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gardenos.cluster.x509_certificates: certificates made on the controller (docs: its module file)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible_collections.gardenos.cluster.plugins.plugin_utils import x509_certificates

ARGUMENT_SPEC = {
    "directory": {"type": "path", "required": True},
    "certificates": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "name": {"type": "str", "required": True},
            "subject": {"type": "dict", "default": {}},
            "sans": {"type": "list", "elements": "str", "default": []},
            "usages": {"type": "list", "elements": "str", "default": []},
            "is_ca": {"type": "bool", "default": False},
        },
    },
    "ca_cert": {"type": "str"},
    "ca_key": {"type": "str", "no_log": False},
    "validity": {"type": "str", "required": True},
    "read_expiry": {"type": "list", "elements": "str", "default": []},
    "signing_keys": {"type": "list", "elements": "str", "default": [], "no_log": False},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC, required_together=[["ca_cert", "ca_key"]]
        )
        try:
            made = x509_certificates.make_all(
                args["directory"],
                args["certificates"],
                ca_cert=args["ca_cert"],
                ca_key=args["ca_key"],
                validity=args["validity"],
                read=args["read_expiry"],
                signing_keys=args["signing_keys"],
            )
        except x509_certificates.CertificateError as error:
            raise AnsibleActionFail(to_text(error)) from None
        result.update(made, changed=bool(made["made"] or made["keys_made"]))
        return result
