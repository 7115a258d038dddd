"""gardenos.cluster.haproxy_info against a real HAProxy (the controller's /usr/sbin/haproxy) on loopback:
a listen section with one server that answers its health check and one that does not, read from the
stats socket as the health playbook reads it.
"""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from etcdlab import free_ports

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

CONFIG = """
global
    stats socket {socket} mode 600 level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 1s
listen postgres_primary
    bind 127.0.0.1:{frontend}
    default-server inter 200ms fall 1 rise 1
    server up-1 127.0.0.1:{open_port} check
    server down-1 127.0.0.1:{closed_port} check
"""


@pytest.fixture
def haproxy(tmp_path):
    if not Path(HAPROXY).exists():
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    frontend, open_port, closed_port = free_ports(3)
    backend = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    backend.bind(("127.0.0.1", open_port))
    backend.listen(16)
    sock = tmp_path / "admin.sock"
    config = tmp_path / "haproxy.cfg"
    config.write_text(CONFIG.format(socket=sock, frontend=frontend, open_port=open_port, closed_port=closed_port))
    process = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "haproxy made no stats socket"
            time.sleep(0.05)
        time.sleep(1)  # a few health checks (inter 200ms, rise 1, fall 1)
        yield sock
    finally:
        process.kill()
        process.wait(timeout=10)
        backend.close()


def test_reads_every_proxy_and_server_from_a_real_haproxy(haproxy, run_module):
    result = run_module("haproxy_info", {"socket": str(haproxy)})
    assert result["failed"] is False, result
    assert result["changed"] is False
    assert result["info"]["Name"] == "HAProxy"
    rows = {(row["pxname"], row["svname"]): row for row in result["stats"]}
    assert set(rows) == {
        ("postgres_primary", "FRONTEND"),
        ("postgres_primary", "up-1"),
        ("postgres_primary", "down-1"),
        ("postgres_primary", "BACKEND"),
    }
    assert rows[("postgres_primary", "up-1")]["status"] == "UP"
    assert rows[("postgres_primary", "down-1")]["status"] == "DOWN"
    assert rows[("postgres_primary", "down-1")]["check_status"] == "L4CON"
    assert rows[("postgres_primary", "BACKEND")]["status"] == "UP"


def test_check_mode_reads_too(haproxy, run_module):
    result = run_module("haproxy_info", {"socket": str(haproxy)}, check=True)
    assert result["failed"] is False, result
    assert len(result["stats"]) == 4


def test_fails_with_the_reason_without_haproxy(tmp_path, run_module):
    result = run_module("haproxy_info", {"socket": str(tmp_path / "admin.sock"), "timeout": 1})
    assert result["failed"] is True
    assert "no HAProxy stats socket at" in result["msg"]
