# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The order in which a rolling restart takes the etcd members.

A member that is down or unhealthy holds no share of the quorum: restarting it first can only bring
it back, while restarting a healthy member while another is down would lose the quorum. The leader
goes last, so that the cluster elects a new leader once, not once per restart.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def etcd_restart_order(hosts, endpoints, urls):
    """``hosts`` in restart order: unhealthy members first, then the followers, the leader last.

    ``endpoints`` is gardenos.cluster.etcd_info's ``endpoints`` list (``endpoint``, ``healthy``,
    ``is_leader``) and ``urls`` maps each host to its client URL. A host whose URL is not among the
    endpoints counts as unhealthy. Within each group the order of ``hosts`` is kept.
    """
    if (
        not isinstance(hosts, (list, tuple))
        or not isinstance(endpoints, (list, tuple))
        or not isinstance(urls, Mapping)
    ):
        raise AnsibleFilterError(
            "etcd_restart_order expects a list of hosts, etcd_info's endpoints and a mapping of hosts to client URLs"
        )
    by_url = {}
    for endpoint in endpoints:
        if not isinstance(endpoint, Mapping) or "endpoint" not in endpoint:
            raise AnsibleFilterError(
                "etcd_restart_order: each endpoint must be a mapping with 'endpoint' (etcd_info's endpoints)"
            )
        by_url[endpoint["endpoint"]] = endpoint

    def rank(host):
        endpoint = by_url.get(urls.get(host), {})
        if not endpoint.get("healthy"):
            return 0
        return 2 if endpoint.get("is_leader") else 1

    return sorted(hosts, key=rank)


class FilterModule(object):
    def filters(self):
        return {"etcd_restart_order": etcd_restart_order}
