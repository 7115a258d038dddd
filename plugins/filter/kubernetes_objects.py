# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the roles read from Kubernetes objects that ``kubernetes.core.k8s_info`` returns."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def _objects(resources, filter_name):
    if not isinstance(resources, list) or not all(isinstance(item, Mapping) for item in resources):
        raise AnsibleFilterError("%s expects the resources list of kubernetes.core.k8s_info" % filter_name)
    return resources


def default_storage_classes(resources, annotations):
    """The names of the StorageClasses that one of ``annotations`` marks default (``"true"``, any case)."""
    found = []
    for storage_class in _objects(resources, "default_storage_classes"):
        metadata = storage_class.get("metadata") or {}
        marks = metadata.get("annotations") or {}
        name = metadata.get("name")
        if name not in found and any(str(marks.get(annotation, "")).lower() == "true" for annotation in annotations):
            found.append(name)
    return found


def ready_endpoint_addresses(resources):
    """The addresses of the ready endpoints of EndpointSlices, sorted, each once.

    An endpoint without a ``ready`` condition counts as ready, as Kubernetes reads it.
    """
    addresses = set()
    for endpoint_slice in _objects(resources, "ready_endpoint_addresses"):
        for endpoint in endpoint_slice.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is not False:
                addresses.update(endpoint.get("addresses") or [])
    return sorted(addresses)


class FilterModule(object):
    def filters(self):
        return {
            "default_storage_classes": default_storage_classes,
            "ready_endpoint_addresses": ready_endpoint_addresses,
        }
