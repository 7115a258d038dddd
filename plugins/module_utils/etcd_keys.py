# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd keys and key ranges: the modules' key options as ranges, which ranges need ``allow_all``, and
reading the keys and values of a range.

etcd reads a range [key, range_end) in byte order; range_end ``b"\\0"`` means "to the end of the
keyspace", no range_end a single key. Keys and values travel base64-encoded in JSON. Standard
library and ``ansible.module_utils`` only: it runs on the managed node.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError

# The first key there can be: etcd has no empty key, so a range from b"" is one from b"\0".
FIRST_KEY = b"\0"
# The "/" tree, every key that starts with "/", is [TREE_START, TREE_END): b"0" is the byte after b"/".
TREE_START = b"/"
TREE_END = b"0"

# How many keys one range request of read_keys asks for; a page larger than the client reads
# (http_transport.MAX_BODY_BYTES) is asked again, halved.
READ_PAGE_KEYS = 1000


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


def option_key(value):
    """A key or range_end option -> bytes: "\\0" (backslash zero, as etcd's tools write it) or a NUL
    character is the NUL byte."""
    return b"\0" if value in ("\0", "\\0") else key_to_bytes(value)


def show_key(key):
    """A key for messages: quoted, control characters escaped; the NUL byte as \\0."""
    if key == b"\0":
        return "\\0"
    text = key_to_text(key)
    return "'%s'" % "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def show_range_end(range_end):
    """range_end for results: "\\0" (backslash zero) for "to the end of the keyspace"; None for one key."""
    if range_end is None:
        return None
    return "\\0" if range_end == b"\0" else key_to_text(range_end)


def key_range(key, prefix=False, range_end=None):
    """(key bytes, range_end bytes or None) from the modules' key, prefix and range_end options.

    ``prefix``: every key that starts with ``key``; ``range_end``: [key, range_end), "\\0" meaning to
    the end of the keyspace; neither: the one key, which must not be empty.
    """
    start = option_key(key)
    if prefix:
        end = range_end_for_prefix(start)
    elif range_end is not None:
        end = option_key(range_end)
        if end != b"\0" and end <= start:
            raise GardenosClusterError(
                "range_end %r must sort after key %r (or be \\0 for everything from key on)" % (range_end, key)
            )
    else:
        end = None
    if not start and end is None:
        raise GardenosClusterError("key must not be empty")
    return start, end


def _lease_to_hex(lease):
    """A lease ID from the gateway (decimal text) -> hex as etcdctl shows it; None for no lease."""
    try:
        lease = int(lease or 0)
    except (TypeError, ValueError):
        return None
    return "%x" % lease if lease else None


def decode_kv(kv):
    """One key-value of a range answer -> (record for the result, its size in bytes: key and value).

    Keys and values become text (UTF-8; other bytes as \\xNN escapes); revisions and the version are
    ints; the lease is its ID in hex, or None.
    """
    key = b64decode(kv.get("key"))
    value = b64decode(kv.get("value"))
    record = dict(
        key=key_to_text(key),
        value=key_to_text(value),
        create_revision=int(kv.get("create_revision", 0)),
        mod_revision=int(kv.get("mod_revision", 0)),
        version=int(kv.get("version", 0)),
        lease=_lease_to_hex(kv.get("lease")),
    )
    return record, len(key) + len(value)


def _read_page(client, start, range_end, *, limit, revision, keys_only):
    """One range request of at most ``limit`` keys; an answer too large to read is asked again, halved."""
    while True:
        try:
            return client.range(start, range_end, keys_only=keys_only, limit=limit, revision=revision), limit
        except GardenosClusterError as exc:
            if not exc.details.get("too_large") or limit == 1:
                raise
            limit = max(1, limit // 2)


def read_keys(client, key, range_end, *, keys_only=False, max_keys=1000, max_bytes=1048576):
    """The keys (and values) of [key, range_end) through ``client`` (an EtcdClient), in byte order, at
    one revision, in pages of READ_PAGE_KEYS keys.

    At most ``max_keys`` keys, and at most ``max_bytes`` of keys and values together: the key that
    would pass it and those after it are left out. Returns dict(kvs, count, truncated, revision):
    ``count`` is how many keys the range holds, ``truncated`` whether ``kvs`` lists fewer.
    """
    if max_keys <= 0:
        answer = client.range(key, range_end, count_only=True)
        count = int(answer.get("count", 0))
        return dict(kvs=[], count=count, truncated=count > 0, revision=_revision(answer))
    kvs = []
    size = 0
    revision = 0
    count = 0
    start = key
    page = min(READ_PAGE_KEYS, max_keys)
    while True:
        answer, page = _read_page(client, start, range_end, limit=page, revision=revision, keys_only=keys_only)
        if not revision:
            revision = _revision(answer)
            count = int(answer.get("count", 0))
        raw_kvs = answer.get("kvs") or []
        for raw in raw_kvs:
            record, record_size = decode_kv(raw)
            if size + record_size > max_bytes:
                return dict(kvs=kvs, count=count, truncated=True, revision=revision)
            if keys_only:
                del record["value"]
            kvs.append(record)
            size += record_size
        if len(kvs) >= max_keys or not answer.get("more") or not raw_kvs or range_end is None:
            return dict(kvs=kvs, count=count, truncated=len(kvs) < count, revision=revision)
        start = b64decode(raw_kvs[-1].get("key")) + b"\0"
        page = min(page, max_keys - len(kvs))


def _revision(answer):
    return int(answer.get("header", {}).get("revision", 0))
