#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: haproxy_info
short_description: Read HAProxy's process information and the state of every proxy and server from its stats socket
version_added: 0.1.0
description:
  - Sends C(show info) and C(show stat) to HAProxy's runtime API (the C(stats socket) of
    C(haproxy.cfg)) and returns the answers, like C(echo "show stat" | socat stdio /run/haproxy/admin.sock)
    does, without needing C(socat).
  - Every row of C(show stat) is returned with HAProxy's own column names (C(pxname), C(svname),
    C(status), C(check_status) and the others); one C(FRONTEND) row and one C(BACKEND) row for each proxy that has
    them, and one row for each server.
  - Changes nothing. Uses only the Python standard library on the target.
author:
  - gardenos.cluster developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - gardenos.cluster.attributes
  - gardenos.cluster.attributes.info_module
options:
  socket:
    description:
      - Path of HAProxy's stats socket (a UNIX socket).
      - The socket is usually only open to root and the C(haproxy) group, so run the module with C(become).
    type: path
    default: /run/haproxy/admin.sock
  timeout:
    description:
      - Seconds to wait for each answer.
    type: float
    default: 5
notes:
  - The socket needs no particular level for these two commands (C(level user) is enough).
seealso:
  - name: HAProxy management guide, the stats socket's CSV format
    description: The meaning of each column of C(show stat).
    link: https://docs.haproxy.org/2.6/management.html#9.1
"""

EXAMPLES = r"""
- name: Read HAProxy's state
  gardenos.cluster.haproxy_info:
  become: true
  register: haproxy

- name: The PostgreSQL primary backend must have exactly one server up
  ansible.builtin.assert:
    that:
      - >-
        haproxy.stats | selectattr('pxname', '==', 'postgres_primary')
        | rejectattr('svname', 'in', ['FRONTEND', 'BACKEND']) | selectattr('status', '==', 'UP') | list | length == 1
"""

RETURN = r"""
info:
  description: The answer to C(show info), field by field, values as HAProxy writes them (text).
  returned: success
  type: dict
  sample: {"Name": "HAProxy", "Version": "2.6.12-1+deb12u4", "Uptime_sec": "5321", "Pid": "27"}
stats:
  description:
    - The rows of C(show stat), each a mapping of HAProxy's column names to the values as HAProxy writes
      them (text; empty when HAProxy leaves a column empty).
    - C(pxname) is the proxy, C(svname) the server name or C(FRONTEND) or C(BACKEND), C(status) the state
      (C(UP), C(DOWN), C(MAINT), C(no check), C(OPEN) for a frontend ...), C(check_status) and C(check_desc)
      the last health check.
    - HAProxy marks the C(check_status) of a server whose check is running at the moment with a C(* ) prefix. The
      module removes it, so that C(check_status) is always the last check's result, and sets C(check_running)
      (C(true) or C(false)) on each row that has a C(check_status).
  returned: success
  type: list
  elements: dict
  sample:
    - {"pxname": "postgres_primary", "svname": "db-1", "status": "UP", "check_status": "L7OK", "check_running": false}
    - {"pxname": "postgres_primary", "svname": "db-2", "status": "DOWN", "check_status": "L7STS", "check_running": true}
    - {"pxname": "postgres_primary", "svname": "BACKEND", "status": "UP", "check_status": ""}
"""

import csv
import errno
import socket

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

# What HAProxy answers instead of the data when a command is refused.
REFUSALS = ("Unknown command", "Permission denied")
# HAProxy's prefix of the check_status of a server whose check runs at the moment.
CHECK_RUNNING = "* "


class StatsSocketError(Exception):
    """The socket could not be used; the message is written for the user."""


def _connect_error(path, exc):
    """Why the socket at ``path`` could not be opened, for the user."""
    if exc.errno == errno.ENOENT:
        return (
            "no HAProxy stats socket at %s: is HAProxy running, and does haproxy.cfg have "
            "'stats socket %s' in its global section?" % (path, path)
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "not allowed to open %s: run the module as root (become: true)" % path
    if exc.errno == errno.ECONNREFUSED:
        return "%s refuses connections: HAProxy is not running (a stale socket file)" % path
    return "cannot connect to %s: %s" % (path, exc)


def ask(path, command, timeout):
    """One command on the runtime API: HAProxy answers and closes the connection (non-interactive mode)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(path)
        except socket.timeout:
            raise
        except OSError as exc:
            raise StatsSocketError(_connect_error(path, exc)) from exc
        sock.sendall(to_bytes(command + "\n"))
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except socket.timeout as exc:
        raise StatsSocketError(
            "HAProxy did not answer '%s' on %s within %s seconds" % (command, path, timeout)
        ) from exc
    except StatsSocketError:
        raise
    except OSError as exc:
        raise StatsSocketError("reading '%s' from %s failed: %s" % (command, path, exc)) from exc
    finally:
        sock.close()
    answer = to_text(b"".join(chunks), errors="surrogate_or_replace")
    for refusal in REFUSALS:
        if answer.startswith(refusal):
            raise StatsSocketError("HAProxy refused '%s' on %s: %s" % (command, path, answer.strip().splitlines()[0]))
    return answer


def parse_info(text):
    """``show info`` ("Name: value" lines) -> a dict."""
    info = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            info[name.strip()] = value.strip()
    return info


def parse_stat(text):
    """``show stat`` (CSV whose header line starts with "# ") -> a list of dicts, one per row."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        raise StatsSocketError(
            "unexpected answer to 'show stat' (no CSV header): %s" % (lines[0] if lines else "empty")
        )
    reader = csv.reader([lines[0][2:], *lines[1:]])
    header = next(reader)
    # The header ends with a comma: its last, empty column name is not a field.
    while header and not header[-1]:
        header.pop()
    rows = []
    for values in reader:
        row = dict(zip(header, values))
        if row.get("check_status"):
            # "* L4CON": the last check failed to connect, and the next one is running now.
            row["check_running"] = row["check_status"].startswith(CHECK_RUNNING)
            if row["check_running"]:
                row["check_status"] = row["check_status"][len(CHECK_RUNNING) :]
        rows.append(row)
    return rows


def main():
    module = AnsibleModule(
        argument_spec=dict(
            socket=dict(type="path", default="/run/haproxy/admin.sock"),
            timeout=dict(type="float", default=5),
        ),
        supports_check_mode=True,
    )
    path = module.params["socket"]
    timeout = module.params["timeout"]
    try:
        info = parse_info(ask(path, "show info", timeout))
        stats = parse_stat(ask(path, "show stat", timeout))
    except StatsSocketError as exc:
        module.fail_json(msg="%s" % exc, socket=path)
    else:
        module.exit_json(changed=False, info=info, stats=stats)


if __name__ == "__main__":
    main()
