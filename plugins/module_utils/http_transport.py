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

The timeout of a request is a deadline for all of it: connecting, sending, and reading the status
line, the headers and the whole body. (The socket's own timeout bounds each read only, so a server
that sends a byte now and then would hold a request forever.) The request runs on a worker thread
the caller stops waiting for at the deadline. An answer is read up to MAX_BODY_BYTES; a larger one
is refused (the clients' JSON answers are a few KiB).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import socket
import ssl
import threading
from http.client import HTTPException
from urllib.error import HTTPError, URLError

from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import NoSSLError, SSLValidationError
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError

# The most of an answer's body a request reads: etcd's and Patroni's JSON answers are a few KiB (a
# member list, a status, a page of keys); more means a wrong server, or one gone mad.
MAX_BODY_BYTES = 4 * 1024 * 1024
READ_CHUNK = 64 * 1024

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


# Connection failures that need no more than their name.
_CONNECTION_ERRORS = (
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset (an https:// endpoint answered as http://, or the server dropped it)"),
)


def _describe_tls_error(reason, service):
    """Why a TLS connection failed, or None when ``reason`` is no TLS error."""
    if isinstance(reason, ssl.SSLCertVerificationError):
        return (
            "TLS certificate verification failed (%s): set ca_cert to the CA that signed the %s server"
            " certificate, make sure its SAN names this address, or set validate_certs=false"
            % (to_native(reason), service)
        )
    if not isinstance(reason, ssl.SSLError):
        return None
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


def describe_transport_error(exc, timeout, service, url_kind):
    """Why a server could not be reached, for the user.

    ``service`` names the server ("etcd"), ``url_kind`` what its URLs are ("etcd client URL").
    """
    reason = getattr(exc, "reason", exc)
    tls = _describe_tls_error(reason, service)
    if tls:
        return tls
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out after %ss" % timeout
    for kind, message in _CONNECTION_ERRORS:
        if isinstance(reason, kind):
            return message
    if isinstance(exc, HTTPException):
        return "bad HTTP answer (%s): is this %s with the right scheme?" % (
            exc.__class__.__name__,
            with_article(url_kind),
        )
    text = to_native(reason)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS certificate verification failed (%s): set ca_cert or validate_certs=false" % text
    return text or exc.__class__.__name__


def describe_size(size):
    """Bytes -> '4 MiB' (or bytes/KiB), for messages."""
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= factor:
            return "%g %s" % (round(float(size) / factor, 1), unit)
    return "%d bytes" % size


def timed_out(method, url, timeout):
    """The message of a request that did not complete within its deadline."""
    return (
        "timed out: no complete answer to %s %s within %gs (the timeout is the deadline for the whole request:"
        " connecting, sending it and reading all of the answer)" % (method, url, timeout)
    )


def _is_timeout(exc):
    return isinstance(getattr(exc, "reason", exc), (socket.timeout, TimeoutError))


def read_body(response, url, max_bytes, url_kind="URL"):
    """The body of ``response``, read in chunks; GardenosClusterError past ``max_bytes`` (checked against
    Content-Length first, so an announced large answer is refused before it is read)."""
    headers = getattr(response, "headers", None)
    length = headers.get("Content-Length") if headers is not None else None
    if length is not None and length.strip().isdigit() and int(length) > max_bytes:
        raise _too_large(url, max_bytes, url_kind, announced=int(length))
    chunks = []
    size = 0
    while True:
        chunk = response.read(min(READ_CHUNK, max_bytes + 1 - size))
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(url, max_bytes, url_kind)
        chunks.append(chunk)


def _too_large(url, max_bytes, url_kind, announced=None):
    if announced is None:
        size = "is larger than %s" % describe_size(max_bytes)
    else:
        size = "announces %d bytes (Content-Length), more than %s" % (announced, describe_size(max_bytes))
    return GardenosClusterError(
        "%s: the answer %s, the most this client reads: is this %s?" % (url, size, with_article(url_kind)),
        url=url,
        max_bytes=max_bytes,
        too_large=True,
    )


class _DeadlinePassed(Exception):
    """The request did not complete within its deadline (internal to send)."""


def _shut_down(response):
    """Shut the connection of an open response down, so that a read blocked on it returns at once."""
    try:
        with socket.fromfd(response.fileno(), socket.AF_INET, socket.SOCK_STREAM) as duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError, AttributeError):  # already closed, or not a socket: nothing to stop
        pass


class _Exchange:
    """One request on a worker thread, which the caller waits for until the deadline and no longer.

    A socket timeout bounds each read only; the deadline bounds the whole exchange. When the caller
    gives up while the worker reads a body, the connection is shut down, which ends the worker; one
    still waiting for the status line and headers ends at its next socket timeout or when the server
    stops (a daemon thread: it never holds the module's process).
    """

    def __init__(self, opener, url, options, max_bytes, url_kind):
        self.opener = opener
        self.url = url
        self.options = options
        self.max_bytes = max_bytes
        self.url_kind = url_kind
        self._lock = threading.Lock()
        self._response = None  # the response whose body the worker reads
        self._abandoned = False
        self._outcome = None

    def run(self, timeout):
        """(status, body); raises what the request raised, or _DeadlinePassed."""
        worker = threading.Thread(target=self._work, name="gardenos-http-request", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            with self._lock:
                self._abandoned = True
                if self._response is not None:
                    _shut_down(self._response)
            raise _DeadlinePassed()
        succeeded, value = self._outcome
        if not succeeded:
            raise value
        return value

    def _work(self):
        try:
            self._outcome = (True, self._exchange())
        except BaseException as exc:  # handed over to the caller's thread, which raises it
            self._outcome = (False, exc)

    def _exchange(self):
        try:
            response = self.opener(self.url, **self.options)
        except HTTPError as exc:
            # An HTTP error status is an answer; its body only decorates the message.
            with self._reading(exc):
                try:
                    return exc.code, exc.read(self.max_bytes) or b""
                except (OSError, HTTPException, ValueError):
                    return exc.code, b""
        with self._reading(response):
            return getattr(response, "status", None) or 200, read_body(
                response, self.url, self.max_bytes, self.url_kind
            )

    @contextlib.contextmanager
    def _reading(self, response):
        """Lets the caller shut ``response`` down while its body is read; closes it afterwards."""
        with self._lock:
            if self._abandoned:
                _close(response)
                raise _DeadlinePassed()
            self._response = response
        try:
            yield
        finally:
            with self._lock:
                self._response = None
                _close(response)


def _close(response):
    close = getattr(response, "close", None)
    if close is not None:
        try:
            close()
        except (OSError, HTTPException, ValueError):
            pass


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
    max_bytes=MAX_BODY_BYTES,
):
    """One request through ``opener`` (ansible's ``open_url``): ``(status, body bytes)``.

    ``timeout`` is the deadline for the whole request (connect, send, read all of the answer); a
    body larger than ``max_bytes`` raises GardenosClusterError. An HTTP error status is returned
    with its body, not raised. No proxy, no redirects, no .netrc; ``username``/``password`` go as
    HTTP basic auth. Raises :class:`Unreachable` when no complete HTTP answer came back in time.
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
        return _Exchange(opener, url, options, max_bytes, url_kind).run(timeout)
    except _DeadlinePassed:
        raise Unreachable(timed_out(method, url, timeout)) from None
    except TRANSPORT_ERRORS as exc:
        if _is_timeout(exc):
            raise Unreachable(timed_out(method, url, timeout)) from None
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
    MAX_BODY_BYTES = MAX_BODY_BYTES  # the largest answer read

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
            max_bytes=self.MAX_BODY_BYTES,
        )
