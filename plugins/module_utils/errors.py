# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one exception the collection's clients raise; only a module's main() turns it into fail_json."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class GardenosClusterError(Exception):
    """A failure worth telling the user about, with a message written for them.

    ``details`` are extra, JSON-serialisable facts (endpoint, gRPC code, keys ...) that a module
    passes to ``fail_json`` next to ``msg``.
    """

    def __init__(self, msg, **details):
        super(GardenosClusterError, self).__init__(msg)
        self.msg = msg
        self.details = details

    def __str__(self):
        return self.msg

    def to_result(self):
        """Keyword arguments for ``AnsibleModule.fail_json``."""
        result = dict(self.details)
        result["msg"] = self.msg
        return result
