# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The hosts checks of the health report: each host answers Ansible's ping over SSH."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.common import check


def host_checks(obs):
    """'<host> reachable' for every host of the inventory."""
    return [_reachable_check(obs, host) for host in obs.group("all")]


def _reachable_check(obs, host):
    ip = obs.host(host).get("ip") or "?"
    ping = obs.host(host).get("ping")
    name = "%s reachable" % host
    if not isinstance(ping, dict):
        return check("hosts", name, "fail", "not pinged", "run the whole playbook, without --limit")
    if ping.get("unreachable"):
        return check(
            "hosts",
            name,
            "fail",
            "unreachable at %s: %s" % (ip, ping.get("msg", "")),
            "check that %s is up and that SSH as the inventory's ansible_user works: "
            "ansible -i <servers.yaml> %s -m ansible.builtin.ping" % (host, host),
        )
    if "ping" not in ping:
        return check(
            "hosts",
            name,
            "fail",
            "reached at %s, but Ansible cannot run there: %s" % (ip, ping.get("msg", "")),
            "check python3 and sudo on %s" % host,
        )
    return check("hosts", name, "pass", "%s answered Ansible's ping (%s)" % (ip, ping.get("ping")))
