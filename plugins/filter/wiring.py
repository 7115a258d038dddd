# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``host:port`` and URLs for templates and roles, IPv6-safe (one builder: module_utils/host_port.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.module_utils import host_port as builder
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError


def host_port(host, port):
    """``192.0.2.1`` -> ``192.0.2.1:2379``; ``2001:db8::1`` -> ``[2001:db8::1]:2379``."""
    try:
        return builder.host_port(host, port)
    except GardenosClusterError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def url(host, port, scheme="https", path=""):
    """``2001:db8::1`` -> ``https://[2001:db8::1]:2379``."""
    try:
        return builder.url(host, port, scheme=scheme, path=path)
    except GardenosClusterError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule(object):
    def filters(self):
        return {"host_port": host_port, "url": url}
