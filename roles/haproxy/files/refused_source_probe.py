# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Connects to a PostgreSQL frontend of HAProxy from a source address that servers.yaml does not allow (the
health report runs it on each HAProxy host, from the loopback address, which the host's firewall lets through,
so HAProxy's own refusal is what is seen) and asks for TLS as a client would (PostgreSQL's SSLRequest). Prints one
JSON object: outcome "answered" (PostgreSQL answered through HAProxy: the source was let in), "closed" (HAProxy
closed the connection without an answer: refused), "timeout", or "error" with the reason. Reads only."""

import json
import socket
import struct
import sys

SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def probe(source, host, port, timeout=5.0):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.bind((source, 0))
            conn.connect((host, port))
            conn.sendall(SSL_REQUEST)
            answer = conn.recv(1)
    except socket.timeout:
        return {"outcome": "timeout", "detail": f"no answer in {timeout:.0f} s"}
    except ConnectionResetError:
        return {"outcome": "closed", "detail": "the connection was reset"}
    except OSError as exc:
        return {"outcome": "error", "detail": str(exc)}
    if not answer:
        return {"outcome": "closed", "detail": "the connection was closed without an answer"}
    return {"outcome": "answered", "detail": f"PostgreSQL answered {answer.decode('latin-1')!r} to the SSLRequest"}


def main():
    source, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    result = probe(source, host, port)
    result.update(source=source, target=f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
