# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd peer URLs, checked as etcd's member add checks them (and a little more), before any request.

Standard library and ``ansible.module_utils`` only: it runs on the managed node.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible.module_utils.common.text.converters import to_text
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError

PEER_URL_FORM = (
    "etcd wants scheme://host:port with scheme http or https, for example https://10.0.0.14:2380 or"
    " https://[fd00::14]:2380"
)
_HOST_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_IPV4_LIKE = re.compile(r"^[0-9.]+$")
_PORT = re.compile(r"^[0-9]{1,5}$")


def validate_peer_urls(urls, option="peer_urls"):
    """The peer URLs, surrounding spaces dropped and schemes lower case (as etcd reads them); a
    GardenosClusterError for the first one etcd's member add would refuse, or would store but
    no member could listen on.

    etcd (types.NewURLs) wants an http or https URL whose host has the form host:port (an IPv6
    address in brackets) and that has no path; it lets an empty port through, this does not. A
    query, a fragment or user information make no peer URL either. (etcd also takes unix:// and
    unixs:// peer URLs; a member on another host cannot be reached on a UNIX socket.)
    """
    if not urls:
        raise GardenosClusterError("%s must list at least one peer URL (%s)" % (option, PEER_URL_FORM))
    checked = []
    for url in urls:
        text = to_text(url).strip()
        problem = peer_url_problem(text)
        if problem:
            raise GardenosClusterError(
                "%s: %r is not a peer URL etcd accepts: %s; %s" % (option, text, problem, PEER_URL_FORM),
                peer_url=url,
            )
        scheme, rest = text.split("://", 1)
        checked.append("%s://%s" % (scheme.lower(), rest))
    return checked


def peer_url_problem(url):
    """Why ``url`` is not a peer URL etcd accepts (a phrase), or None."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return "it has no scheme"
    if scheme.lower() not in ("http", "https"):
        return "its scheme is %s, not http or https" % scheme
    for char, what in (("/", "a path"), ("?", "a query"), ("#", "a fragment"), ("@", "user information")):
        if char in rest:
            return "it has %s" % what
    host, port, problem = _split_host_port(rest)
    return problem or _host_problem(host) or _port_problem(port)


def _split_host_port(address):
    """(host, port, problem): a bracketed IPv6 host keeps its brackets."""
    if address.startswith("["):
        end = address.find("]")
        if end < 0:
            return None, None, "its [ has no ]"
        host, after = address[: end + 1], address[end + 1 :]
        if not after.startswith(":"):
            return host, None, "it has no port"
        return host, after[1:], None
    if address.count(":") > 1:
        return None, None, "an IPv6 address goes in brackets: http://[fd00::14]:2380"
    host, _colon, port = address.partition(":")
    return host, port, None


def _host_problem(host):
    if not host:
        return "it has no host"
    if host.startswith("["):
        return _bracketed_ipv6_problem(host)
    if _IPV4_LIKE.match(host):
        return _ipv4_problem(host)
    if not _HOST_NAME.match(host):
        return "%r is not a host name or an IP address" % host
    return None


def _bracketed_ipv6_problem(host):
    """``host`` is "[address]"; a zone is written %25<zone>, as etcd's URL parser wants."""
    address = host[1:-1]
    if "%" in address.replace("%25", ""):
        return "the zone of %s must be written %%25<zone>, as in URLs" % host
    try:
        ipaddress.IPv6Address(address.replace("%25", "%"))
    except ValueError:
        return "%s is not an IPv6 address" % host
    return None


def _ipv4_problem(host):
    """``host`` is digits and dots: it must be an IPv4 address, not a host name."""
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return "%s is not an IPv4 address" % host
    return None


def _port_problem(port):
    if not port:
        return "it has no port"
    if not _PORT.match(port) or not 1 <= int(port) <= 65535:
        return "its port %s is not a number from 1 to 65535" % port
    return None
