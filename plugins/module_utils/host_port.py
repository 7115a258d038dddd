# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one builder of ``host:port`` and URLs, IPv6-safe: ``2001:db8::1`` becomes ``[2001:db8::1]:2379``.

Used by the collection's filters (``gardenos.cluster.host_port``, ``gardenos.cluster.url``), so
templates, roles and modules bracket IPv6 addresses the same way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.text.converters import to_text
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError


def bare_host(host):
    """The host without the brackets of an IPv6 literal: ``[::1]`` -> ``::1``."""
    host = to_text(host).strip()
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


def _port_number(host, port):
    try:
        number = int(port)
    except (TypeError, ValueError):
        raise GardenosClusterError("host:port for %s: the port %r is not a number" % (host, port)) from None
    if not 0 < number < 65536:
        raise GardenosClusterError("host:port for %s: the port %d is not between 1 and 65535" % (host, number))
    return number


def _host_literal(host, port):
    """The host as it stands before ``:port``: an IPv6 address (any host with a ``:``) in brackets."""
    host = bare_host(host)
    if not host:
        raise GardenosClusterError("host:port needs a host, got an empty one (port %s)" % port)
    return "[%s]" % host if ":" in host else host


def host_port(host, port):
    """``host:port``, with an IPv6 address (any host with a ``:``) in brackets."""
    literal = _host_literal(host, port)
    return "%s:%d" % (literal, _port_number(literal, port))


def hosts_port(hosts, port):
    """``host1,host2:port``, several hosts on one port (IPv6 ones in brackets), the form of
    Patroni's ``postgresql.listen``."""
    if isinstance(hosts, (str, bytes)) or not hosts:
        raise GardenosClusterError("hosts:port needs a list of hosts, got %r (port %s)" % (hosts, port))
    literals = [_host_literal(host, port) for host in hosts]
    return "%s:%d" % (",".join(literals), _port_number(",".join(literals), port))


def url(host, port, scheme="https", path=""):
    """``scheme://host:port/path`` (IPv6 in brackets); ``path`` is appended as given, after one ``/``."""
    scheme = to_text(scheme).strip().lower()
    if scheme not in ("http", "https"):
        raise GardenosClusterError("URL for %s: the scheme %r is neither http nor https" % (host, scheme))
    path = to_text(path or "")
    if path and not path.startswith("/"):
        path = "/" + path
    return "%s://%s%s" % (scheme, host_port(host, port), path)
