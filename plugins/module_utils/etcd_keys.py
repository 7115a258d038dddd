# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd keys and key ranges, as the v3 JSON gateway wants them, and which ranges need ``allow_all``.

etcd reads a range [key, range_end) in byte order; range_end ``b"\\0"`` means "to the end of the
keyspace", no range_end a single key. Keys and values travel base64-encoded in JSON. Standard
library and ``ansible.module_utils`` only: it runs on the managed node.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible.module_utils.common.text.converters import to_bytes, to_text

# The first key there can be: etcd has no empty key, so a range from b"" is one from b"\0".
FIRST_KEY = b"\0"
# The "/" tree, every key that starts with "/", is [TREE_START, TREE_END): b"0" is the byte after b"/".
TREE_START = b"/"
TREE_END = b"0"


def b64encode(data):
    """bytes -> base64 text, as the gateway wants keys and values."""
    return to_text(base64.b64encode(data))


def b64decode(text):
    """base64 text from the gateway -> bytes (an omitted field is empty)."""
    if not text:
        return b""
    return base64.b64decode(text)


def key_to_bytes(key):
    """A key given as text (UTF-8) -> bytes; bytes stay as they are."""
    return to_bytes(key, errors="surrogate_or_strict")


def key_to_text(key):
    """A key from etcd -> text for reports (bytes that are not UTF-8 come back escaped)."""
    return key.decode("utf-8", "backslashreplace")


def range_end_for_prefix(key):
    """The range_end that makes [key, range_end) cover every key starting with ``key``.

    That is ``key`` with its last byte incremented, after dropping trailing 0xff bytes (which
    cannot be incremented). An empty or all-0xff prefix gives ``b"\\0"``, which etcd reads as
    "up to the end of the keyspace".
    """
    key = bytearray(key)
    while key and key[-1] == 0xFF:
        key.pop()
    if not key:
        return b"\0"
    key[-1] += 1
    return bytes(key)


def range_fields(key, range_end):
    """The key/range_end fields of a request for [key, range_end) (bytes; range_end None: one key).

    etcd refuses an empty key, so a range from the very first key starts at "\\0", as etcdctl does.
    """
    if not key and range_end is not None:
        key = b"\0"
    fields = {"key": b64encode(key)}
    if range_end is not None:
        fields["range_end"] = b64encode(range_end)
    return fields


def covers_everything(key, range_end):
    """What [key, range_end) takes of the keyspace when that needs etcd_deleterange's allow_all; else None.

    ``range_end`` b"\\0" means "to the end of the keyspace", None a single key. A range needs
    allow_all when it starts at the first key (it takes every tree that sorts before its end, whole;
    to the end, that is the whole keyspace), or when it holds every key that starts with "/": it
    starts at "/" or before and ends at "0" or after, or at the end.
    """
    if range_end is None:
        return None
    to_the_end = range_end == b"\0"
    if key <= FIRST_KEY:
        return "the whole keyspace" if to_the_end else "a range from the first key of the keyspace"
    if key <= TREE_START and (to_the_end or range_end >= TREE_END):
        return "the whole '/' tree"
    return None
