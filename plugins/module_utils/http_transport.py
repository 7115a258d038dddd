# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTTP(S) transport the collection's REST clients share (etcd's JSON gateway, Patroni's REST API).

Standard library and ``ansible.module_utils`` only. One request goes through ansible's
``open_url``, which each client passes in (so a unit test replaces the HTTP boundary of one
client by patching that client module's ``open_url``). An HTTP error status comes back like any
answer, with its body; a server that cannot be reached at all raises :class:`Unreachable` with
a reason written for the user, which the clients use to fail over to their next URL.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import ssl
from http.client import HTTPException
from urllib.error import HTTPError, URLError

from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import NoSSLError, SSLValidationError
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError

# What open_url raises when nothing usable came back (HTTPError, an answer, is caught before).
TRANSPORT_ERRORS = (
    URLError,
    OSError,
    HTTPException,
    ValueError,
    UrlsConnectionError,
    SSLValidationError,
    NoSSLError,
)


# Options that go together in the connection options of connection_argument_spec().
REQUIRED_TOGETHER = (("client_cert", "client_key"), ("username", "password"))


def connection_argument_spec(urls_option, default_timeout):
    """The connection options of a module whose client is a RestClient (``from_params`` reads them):
    the list of URLs, named ``urls_option``, then TLS, credentials and the timeout of each request."""
    spec = {urls_option: dict(type="list", elements="str", required=True)}
    spec.update(
        ca_cert=dict(type="path"),
        client_cert=dict(type="path"),
        client_key=dict(type="path", no_log=False),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        timeout=dict(type="float", default=default_timeout),
        validate_certs=dict(type="bool", default=True),
    )
    return spec


def merge_argument_spec(common, extra):
    """A copy of the ``common`` options (which stay as they are) merged with a module's own ``extra``."""
    spec = dict((name, dict(option)) for name, option in common.items())
    spec.update(extra)
    return spec


def required_together():
    """REQUIRED_TOGETHER as AnsibleModule takes it (a fresh list of lists)."""
    return [list(pair) for pair in REQUIRED_TOGETHER]


class Unreachable(Exception):
    """A server could not be reached at all (or gave no HTTP answer); the clients fail over on it."""


def normalize_url(url, tls, what):
    """'host:port' -> 'http(s)://host:port' (https when TLS options are set); no trailing slash.

    ``what`` names the URL in messages, e.g. "etcd endpoint".
    """
    url = to_text(url).strip().rstrip("/")
    if not url:
        raise GardenosClusterError("an %s is empty" % what)
    if "://" not in url:
        url = "%s://%s" % ("https" if tls else "http", url)
    scheme = url.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise GardenosClusterError("%s %s: only http:// and https:// URLs are supported" % (what, url))
    return url


def with_article(noun):
    """'etcd client URL' -> 'an etcd client URL'."""
    return "%s %s" % ("an" if noun[:1].lower() in "aeiou" else "a", noun)


def describe_transport_error(exc, timeout, service, url_kind):
    """Why a server could not be reached, for the user.

    ``service`` names the server ("etcd"), ``url_kind`` what its URLs are ("etcd client URL").
    """
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, ssl.SSLCertVerificationError):
        return (
            "TLS certificate verification failed (%s): set ca_cert to the CA that signed the %s server"
            " certificate, make sure its SAN names this address, or set validate_certs=false"
            % (to_native(reason), service)
        )
    if isinstance(reason, ssl.SSLError):
        text = to_native(reason)
        upper = text.upper()
        if "CERTIFICATE_REQUIRED" in upper or "CERTIFICATE_UNKNOWN" in upper or "BAD_CERTIFICATE" in upper:
            return (
                "TLS handshake failed (%s): the server wants a client certificate it trusts (client_cert, client_key)"
                % text
            )
        if "WRONG_VERSION_NUMBER" in upper:
            return "TLS handshake failed (%s): the endpoint speaks plain HTTP, use an http:// URL" % text
        return "TLS error: %s" % text
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out after %ss" % timeout
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, ConnectionResetError):
        return "connection reset (an https:// endpoint answered as http://, or the server dropped it)"
    if isinstance(exc, HTTPException):
        return "bad HTTP answer (%s): is this %s with the right scheme?" % (
            exc.__class__.__name__,
            with_article(url_kind),
        )
    text = to_native(reason)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS certificate verification failed (%s): set ca_cert or validate_certs=false" % text
    return text or exc.__class__.__name__


def send(
    opener,
    url,
    *,
    timeout,
    service,
    url_kind,
    method="GET",
    data=None,
    headers=None,
    validate_certs=True,
    ca_cert=None,
    client_cert=None,
    client_key=None,
    username=None,
    password=None,
):
    """One request through ``opener`` (ansible's ``open_url``): ``(status, body bytes)``.

    An HTTP error status is returned with its body, not raised. No proxy, no redirects, no
    .netrc; ``username``/``password`` go as HTTP basic auth. Raises :class:`Unreachable` when no
    HTTP answer came back.
    """
    options = dict(
        data=data,
        headers=headers,
        method=method,
        use_proxy=False,
        timeout=timeout,
        validate_certs=validate_certs,
        client_cert=client_cert,
        client_key=client_key,
        ca_path=ca_cert,
        follow_redirects="none",
        use_netrc=False,
    )
    if username:
        options.update(url_username=username, url_password=password or "", force_basic_auth=True)
    try:
        response = opener(url, **options)
        return getattr(response, "status", None) or 200, response.read()
    except HTTPError as exc:
        try:
            body = exc.read()
        except (OSError, HTTPException, ValueError):  # the body only decorates the message
            body = b""
        return exc.code, body
    except TRANSPORT_ERRORS as exc:
        raise Unreachable(describe_transport_error(exc, timeout, service, url_kind)) from None


class RestClient:
    """What a REST client of the collection holds: its URLs (normalized), TLS and credentials, and timeout.

    Subclasses name their service for messages and the module option that lists the URLs; the
    modules' shared connection options (ca_cert, client_cert, client_key, username, password,
    timeout, validate_certs) map onto the constructor's keywords.
    """

    URLS_OPTION = "urls"  # the module option listing the URLs
    URL_NAME = "URL"  # one of them, in messages about a malformed one
    SERVICE = "the server"  # the server, in messages about TLS
    URL_KIND = "URL"  # what the URLs are, in messages ("etcd client URL")
    DEFAULT_TIMEOUT = 10.0

    def __init__(
        self,
        urls,
        *,
        ca_cert=None,
        client_cert=None,
        client_key=None,
        username=None,
        password=None,
        timeout=None,
        validate_certs=True,
    ):
        if not urls:
            raise GardenosClusterError("%s must list at least one %s" % (self.URLS_OPTION, self.URL_KIND))
        self.ca_cert = ca_cert
        self.client_cert = client_cert
        self.client_key = client_key
        self.urls = [self.normalize(url) for url in urls]
        self.username = username
        self.password = password
        self.timeout = float(timeout or self.DEFAULT_TIMEOUT)
        self.validate_certs = validate_certs
        self._preferred = 0

    @classmethod
    def from_params(cls, params):
        """A client from a module's params (the shared connection options)."""
        return cls(
            params[cls.URLS_OPTION],
            ca_cert=params.get("ca_cert"),
            client_cert=params.get("client_cert"),
            client_key=params.get("client_key"),
            username=params.get("username"),
            password=params.get("password"),
            timeout=params.get("timeout"),
            validate_certs=params.get("validate_certs", True),
        )

    def normalize(self, url):
        """A URL given by the user -> scheme://host:port (https when TLS options are set)."""
        return normalize_url(url, bool(self.ca_cert or self.client_cert), self.URL_NAME)

    def send(self, opener, url, *, method="GET", data=None, headers=None, timeout=None, basic_auth=False):
        """One request with the client's TLS settings (and its username/password as basic auth when
        ``basic_auth``): ``(status, body)``; raises Unreachable. ``opener`` is the caller module's open_url."""
        return send(
            opener,
            url,
            method=method,
            data=data,
            headers=headers,
            timeout=timeout or self.timeout,
            validate_certs=self.validate_certs,
            ca_cert=self.ca_cert,
            client_cert=self.client_cert,
            client_key=self.client_key,
            username=self.username if basic_auth else None,
            password=self.password if basic_auth else None,
            service=self.SERVICE,
            url_kind=self.URL_KIND,
        )
