"""gardenos.cluster.haproxy_info: HAProxy's runtime API read over a UNIX socket.

The answers are real captures of HAProxy 2.6 (the lab's lab-1, fixtures/); a small server on a UNIX
socket under tmp_path stands in for HAProxy, the boundary the module talks to.
"""

import json
import os
import socket
import threading
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.gardenos.cluster.plugins.modules import haproxy_info
from ansible_collections.gardenos.cluster.plugins.modules.haproxy_info import (
    StatsSocketError,
    ask,
    parse_info,
    parse_stat,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHOW_STAT = (FIXTURES / "haproxy-show-stat.txt").read_text()
SHOW_INFO = (FIXTURES / "haproxy-show-info.txt").read_text()
UNKNOWN = "Unknown command, but maybe one of the following ones is a better match:\n  show info : ...\n\n"


class FakeHAProxy:
    """Answers each connection's one command from ``answers`` and closes it, as HAProxy's CLI does."""

    def __init__(self, path, answers):
        self.path = str(path)
        self.answers = answers
        self.commands = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(5)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn = self.server.accept()[0]
            except OSError:
                return
            with conn:
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(1024)
                    if not chunk:
                        break
                    data += chunk
                command = data.decode().strip()
                self.commands.append(command)
                conn.sendall(self.answers.get(command, UNKNOWN).encode())

    def close(self):
        self.server.close()


@pytest.fixture
def haproxy(tmp_path):
    server = FakeHAProxy(tmp_path / "admin.sock", {"show info": SHOW_INFO, "show stat": SHOW_STAT})
    yield server
    server.close()


def test_parse_stat_gives_every_row_with_haproxys_column_names():
    rows = parse_stat(SHOW_STAT)
    assert [(row["pxname"], row["svname"]) for row in rows][:5] == [
        ("postgres_primary", "FRONTEND"),
        ("postgres_primary", "lab-1"),
        ("postgres_primary", "lab-2"),
        ("postgres_primary", "lab-3"),
        ("postgres_primary", "BACKEND"),
    ]
    assert len(rows) == 12
    lab2 = rows[2]
    assert lab2["status"] == "UP"
    assert lab2["check_status"] == "L7OK"
    assert lab2["check_code"] == "200"
    assert lab2["addr"] == "10.77.0.12:5532"
    assert rows[1]["check_desc"] == "Layer7 wrong status"
    # the header's trailing comma makes no empty column
    assert "" not in rows[0]


def test_parse_stat_keeps_quoted_commas():
    text = '# pxname,svname,status,check_desc,\npx,s1,DOWN,"a, b",\n\n'
    assert parse_stat(text) == [{"pxname": "px", "svname": "s1", "status": "DOWN", "check_desc": "a, b"}]


def test_parse_stat_gives_the_last_checks_status_of_a_server_whose_check_runs_now():
    text = "# pxname,svname,status,check_status,\npx,s1,DOWN,* L4CON,\npx,s2,UP,L7OK,\npx,BACKEND,UP,,\n"
    rows = parse_stat(text)
    assert [(row["check_status"], row.get("check_running")) for row in rows] == [
        ("L4CON", True),
        ("L7OK", False),
        ("", None),
    ]


@pytest.mark.parametrize("text", ["", "\n", "pxname,svname\n"])
def test_parse_stat_refuses_an_answer_without_header(text):
    with pytest.raises(StatsSocketError, match="no CSV header"):
        parse_stat(text)


def test_parse_info():
    info = parse_info(SHOW_INFO)
    assert info["Name"] == "HAProxy"
    assert info["Version"].startswith("2.6.")
    assert info["Build info"].startswith("2.6.")
    assert int(info["Uptime_sec"]) >= 0


def test_ask_sends_one_command_per_connection(haproxy):
    assert ask(haproxy.path, "show stat", 5) == SHOW_STAT
    assert ask(haproxy.path, "show info", 5) == SHOW_INFO
    assert haproxy.commands == ["show stat", "show info"]


def test_a_refused_command_is_an_error(haproxy):
    with pytest.raises(StatsSocketError, match=r"HAProxy refused 'show nothing'.*Unknown command"):
        ask(haproxy.path, "show nothing", 5)


def test_a_missing_socket_says_what_to_check(tmp_path):
    with pytest.raises(StatsSocketError, match=r"no HAProxy stats socket at .*is HAProxy running"):
        ask(str(tmp_path / "none.sock"), "show stat", 1)


def test_a_stale_socket_file_means_haproxy_is_not_running(tmp_path):
    path = str(tmp_path / "stale.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()
    with pytest.raises(StatsSocketError, match="refuses connections: HAProxy is not running"):
        ask(path, "show stat", 1)


@pytest.mark.skipif(os.geteuid() == 0, reason="root opens any socket")
def test_no_permission_asks_for_become(haproxy):
    os.chmod(haproxy.path, 0)
    with pytest.raises(StatsSocketError, match="become"):
        ask(haproxy.path, "show stat", 1)


def test_a_silent_server_times_out(tmp_path):
    path = str(tmp_path / "silent.sock")
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.bind(path)
    silent.listen(1)
    try:
        with pytest.raises(StatsSocketError, match="did not answer 'show stat'"):
            ask(path, "show stat", 0.2)
    finally:
        silent.close()


def run_main(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit):
        haproxy_info.main()
    return json.loads(capsys.readouterr().out)


def test_main_returns_info_and_stats(haproxy, capsys):
    result = run_main(capsys, {"socket": haproxy.path})
    assert result["changed"] is False
    assert "failed" not in result
    assert result["info"]["Name"] == "HAProxy"
    assert len(result["stats"]) == 12


def test_main_fails_with_the_reason(tmp_path, capsys):
    result = run_main(capsys, {"socket": str(tmp_path / "none.sock"), "timeout": 1})
    assert result["failed"] is True
    assert "no HAProxy stats socket" in result["msg"]
    assert result["socket"] == str(tmp_path / "none.sock")
