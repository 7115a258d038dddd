"""The shared HTTP transport against real sockets: a small server on 127.0.0.1 plays a slow or
oversized server, and the real ``open_url`` of each client talks to it (nothing is patched).

A server that sends one byte now and then never trips a socket timeout, which bounds each read
only: the transport's deadline must end the request, whatever phase it is in.
"""

import socket
import threading
import time

import pytest
from ansible.module_utils.urls import open_url
from ansible_collections.gardenos.cluster.plugins.module_utils import etcd_gateway as gw
from ansible_collections.gardenos.cluster.plugins.module_utils import http_transport as ht
from ansible_collections.gardenos.cluster.plugins.module_utils import patroni_rest as pr
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError

MIB = 1024 * 1024
TIMEOUT = 1.0
# Time past the deadline allowed for the failure to come back (thread hand-over, a loaded machine).
MARGIN = 1.0
# How long a slow server keeps dribbling: far past TIMEOUT + MARGIN, so a request that only has
# per-read timeouts takes this long, and the test fails instead of hanging.
DRIBBLE_FOR = 6.0


class Server:
    """An HTTP server on 127.0.0.1 (a free port) that answers every request with ``respond(conn)``."""

    def __init__(self, respond):
        self.respond = respond
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.stopped = threading.Event()
        self.connections = []
        self.closed_early = threading.Event()  # the client hung up while the server was still sending
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, _address = self.listener.accept()
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                request += chunk
            try:
                self.respond(self, conn)
            except OSError:
                self.closed_early.set()

    def dribble(self, conn, data, every=0.5):
        """Send ``data`` one byte every ``every`` seconds, for at most DRIBBLE_FOR seconds."""
        ends = time.monotonic() + DRIBBLE_FOR
        for byte in data:
            if self.stopped.is_set() or time.monotonic() > ends:
                return
            conn.sendall(bytes([byte]))
            self.stopped.wait(every)

    def stop(self):
        self.stopped.set()
        self.listener.close()
        for conn in self.connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def serve():
    servers = []

    def start(respond):
        server = Server(respond)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


JSON_HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


def dribbled_status_line(server, conn):
    server.dribble(conn, JSON_HEADERS + b"Content-Length: 2\r\n\r\n{}")


def dribbled_body(server, conn):
    body = b'{"etcdserver": "3.5.1", "etcdcluster": "3.5.0"}'
    conn.sendall(JSON_HEADERS + b"Content-Length: %d\r\n\r\n" % len(body))
    server.dribble(conn, body)


def timed(call, error=GardenosClusterError):
    started = time.monotonic()
    with pytest.raises(error) as info:
        call()
    return time.monotonic() - started, str(info.value)


def request_threads():
    return [t for t in threading.enumerate() if t.name == "gardenos-http-request"]


@pytest.mark.timing
@pytest.mark.parametrize("respond", [dribbled_status_line, dribbled_body], ids=["headers", "body"])
def test_etcd_request_has_one_deadline(serve, respond):
    server = serve(respond)
    client = gw.EtcdClient([server.url], timeout=TIMEOUT)
    elapsed, msg = timed(client.member_list)
    assert elapsed < TIMEOUT + MARGIN, (elapsed, msg)
    assert msg == (
        f"cannot reach etcd at any endpoint: {server.url}: timed out: no complete answer to GET {server.url}/version"
        " within 1s (the timeout is the deadline for the whole request: connecting, sending it and reading all of the"
        " answer)"
    )


@pytest.mark.timing
def test_patroni_request_has_one_deadline(serve):
    server = serve(dribbled_body)
    client = pr.PatroniClient([server.url], timeout=TIMEOUT)
    elapsed, msg = timed(client.cluster)
    assert elapsed < TIMEOUT + MARGIN, (elapsed, msg)
    assert f"{server.url}: timed out: no complete answer to GET {server.url}/cluster within 1s" in msg


@pytest.mark.timing
def test_abandoned_body_read_stops(serve):
    # Past the deadline the connection whose body was being read is shut down: the worker ends, and
    # the server sees the client gone instead of feeding it for DRIBBLE_FOR seconds.
    server = serve(dribbled_body)
    timed(lambda: ht.send(open_url, server.url, timeout=0.5, service="etcd", url_kind="URL"), ht.Unreachable)
    ends = time.monotonic() + 2
    while request_threads() and time.monotonic() < ends:
        time.sleep(0.05)
    assert request_threads() == []
    assert server.closed_early.wait(2)


@pytest.mark.timing
def test_a_silent_server_times_out_the_same_way(serve):
    server = serve(lambda server, conn: server.stopped.wait(DRIBBLE_FOR))
    elapsed, msg = timed(lambda: gw.EtcdClient([server.url], timeout=TIMEOUT).status())
    assert elapsed < TIMEOUT + MARGIN
    assert f"timed out: no complete answer to GET {server.url}/version within 1s" in msg


def oversized(length_header):
    def respond(server, conn):
        size = 4 * MIB + 1
        head = JSON_HEADERS + (b"Content-Length: %d\r\n" % size if length_header else b"Connection: close\r\n")
        conn.sendall(head + b"\r\n")
        chunk = b" " * 65536
        sent = 0
        while sent < size:
            conn.sendall(chunk[: size - sent])
            sent += len(chunk)

    return respond


@pytest.mark.parametrize(
    ("length_header", "size"),
    [(True, "announces 4194305 bytes (Content-Length), more than 4 MiB"), (False, "is larger than 4 MiB")],
    ids=["content-length", "read"],
)
def test_etcd_answer_too_large(serve, length_header, size):
    server = serve(oversized(length_header))
    with pytest.raises(GardenosClusterError) as info:
        gw.EtcdClient([server.url], timeout=5).member_list()
    assert info.value.msg == (
        f"{server.url}/version: the answer {size}, the most this client reads: is this an etcd client URL?"
    )
    assert info.value.details["too_large"] is True


def test_patroni_answer_too_large(serve):
    server = serve(oversized(False))
    with pytest.raises(GardenosClusterError) as info:
        pr.PatroniClient([server.url], timeout=5).cluster()
    assert (
        f"{server.url}/cluster: the answer is larger than 4 MiB, the most this client reads:"
        " is this a Patroni REST API URL?"
    ) in info.value.msg


def test_answer_up_to_the_limit_is_read(serve):
    body = b"x" * 1000

    def respond(server, conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + body)

    server = serve(respond)
    assert ht.send(open_url, server.url, timeout=5, service="s", url_kind="URL", max_bytes=1000) == (200, body)
    with pytest.raises(GardenosClusterError, match=r"announces 1000 bytes \(Content-Length\), more than 999 bytes"):
        ht.send(open_url, server.url, timeout=5, service="s", url_kind="URL", max_bytes=999)


def test_error_status_body_is_kept_and_capped(serve):
    def respond(server, conn):
        body = b'{"error": "x", "code": 7, "message": "etcdserver: permission denied"}'
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    server = serve(respond)
    status, body = ht.send(open_url, server.url, timeout=5, service="s", url_kind="URL")
    assert status == 403 and b"permission denied" in body
    assert ht.send(open_url, server.url, timeout=5, service="s", url_kind="URL", max_bytes=10)[1] == body[:10]


@pytest.mark.parametrize(
    ("size", "text"), [(10, "10 bytes"), (1536, "1.5 KiB"), (4 * MIB, "4 MiB"), (5 * MIB, "5 MiB")]
)
def test_describe_size(size, text):
    assert ht.describe_size(size) == text
