# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The haproxy role's preflight: ports HAProxy could not bind on a host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError


def _port(entry, what):
    try:
        return int(entry["port"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("haproxy_port_clashes: a %s without a numeric port: %r" % (what, entry)) from exc


def haproxy_port_clashes(frontends, backends):
    """Why HAProxy's frontends cannot all bind here: two on one port, or one on a port a local backend uses.

    ``frontends``: ``{name, port}`` (the variable that sets the port, and its value);
    ``backends``: ``{name, port, group}`` for the services this host runs because it is in ``group``.
    """
    if not isinstance(frontends, list) or not isinstance(backends, list):
        raise AnsibleFilterError("haproxy_port_clashes expects lists of frontends and backends")
    clashes = []
    for index, frontend in enumerate(frontends):
        port = _port(frontend, "frontend")
        for other in frontends[index + 1 :]:
            if _port(other, "frontend") == port:
                clashes.append(
                    "%s = %s = %s (two frontends on one port)" % (frontend["name"], other["name"], frontend["port"])
                )
        for backend in backends:
            if _port(backend, "backend") == port:
                clashes.append(
                    "%s = %s = %s (this host is in group %s, so that port is taken here by its own backend)"
                    % (frontend["name"], backend["name"], frontend["port"], backend["group"])
                )
    return clashes


class FilterModule(object):
    def filters(self):
        return {"haproxy_port_clashes": haproxy_port_clashes}
