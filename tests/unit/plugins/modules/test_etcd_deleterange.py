"""gardenos.cluster.etcd_deleterange: which ranges need allow_all, and how the options make a range.

etcd reads [key, range_end) in byte order; range_end "\\0" means "to the end of the keyspace". No key
is empty, so the first possible key is "\\0", and a range from "" is the same as one from "\\0". The
"/" tree is every key that starts with "/": the range ["/", "0"), "0" being the byte after "/".
"""

import pytest
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_keys import covers_everything
from ansible_collections.gardenos.cluster.plugins.modules.etcd_deleterange import resolve_range

END = b"\0"  # range_end: to the end of the keyspace
WHOLE_KEYSPACE = "the whole keyspace"
FROM_FIRST_KEY = "a range from the first key of the keyspace"
WHOLE_TREE = "the whole '/' tree"


@pytest.mark.parametrize(
    ("key", "range_end", "covers"),
    [
        # the whole keyspace: from the first key to the end
        (b"", END, WHOLE_KEYSPACE),
        (b"\0", END, WHOLE_KEYSPACE),
        # from the first key to anywhere: every tree before range_end, whole
        (b"", b"/zzz", FROM_FIRST_KEY),
        (b"\0", b"\x01", FROM_FIRST_KEY),
        (b"", b"/", FROM_FIRST_KEY),
        # every key that starts with "/": from "/" or before, to "0" or past it
        (b"/", b"0", WHOLE_TREE),
        (b"/", END, WHOLE_TREE),
        (b".", b"0", WHOLE_TREE),
        (b"!", END, WHOLE_TREE),
        (b"\x01", b"1", WHOLE_TREE),
        (b"/", b"0\0", WHOLE_TREE),
        (b"/", b"\xff", WHOLE_TREE),
        # ... and not when one of its keys stays out
        (b"/", b"/\xff", None),  # keeps /\xff... (not UTF-8: a key no text option can name)
        (b"/\0", b"0", None),  # keeps the key "/"
        (b"/", b"/zzz", None),
        (b"0", END, None),  # every key after the "/" tree
        (b"/\xff", END, None),
        # a single key is never a range
        (b"/", None, None),
        (b"\0", None, None),
        # what the module is for
        (b"/service/postgres-cluster/", b"/service/postgres-cluster0", None),
        (b"/registry/events/", b"/registry/events0", None),
        (b"/service/", b"/service0", None),
        (b"/a", END, None),
    ],
)
def test_covers_everything(key, range_end, covers):
    assert covers_everything(key, range_end) == covers


def params(**options):
    base = dict(key=None, prefix=False, range_end=None, allow_all=False)
    base.update(options)
    return base


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(key="", prefix=True), "refusing to delete ['', \\0), the whole keyspace"),
        (dict(key="\\0", range_end="\\0"), "refusing to delete [\\0, \\0), the whole keyspace"),
        (dict(key="\0", range_end="\0"), "refusing to delete [\\0, \\0), the whole keyspace"),
        (dict(key="\\0", prefix=True), "refusing to delete [\\0, '\\x01'), a range from the first key"),
        (dict(key="", range_end="/zzz"), "refusing to delete ['', '/zzz'), a range from the first key"),
        (dict(key="/", prefix=True), "refusing to delete ['/', '0'), the whole '/' tree"),
        (dict(key="/", range_end="0"), "refusing to delete ['/', '0'), the whole '/' tree"),
        (dict(key="/", range_end="\\0"), "refusing to delete ['/', \\0), the whole '/' tree"),
        (dict(key="!", range_end="\\0"), "refusing to delete ['!', \\0), the whole '/' tree"),
        (dict(key="-", range_end="1"), "refusing to delete ['-', '1'), the whole '/' tree"),
    ],
)
def test_resolve_range_refuses_without_allow_all(options, message):
    with pytest.raises(GardenosClusterError) as info:
        resolve_range(params(**options))
    assert info.value.msg.startswith(message), info.value.msg
    assert info.value.msg.endswith(": set allow_all=true if that is really meant")
    assert resolve_range(params(allow_all=True, **options))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            dict(key="/service/postgres-cluster/", prefix=True),
            (b"/service/postgres-cluster/", b"/service/postgres-cluster0"),
        ),
        (dict(key="/registry/events/", range_end="/registry/events0"), (b"/registry/events/", b"/registry/events0")),
        (dict(key="/service/pg/leader"), (b"/service/pg/leader", None)),
        (dict(key="/", range_end="/zzz"), (b"/", b"/zzz")),
        (dict(key="0", range_end="\\0"), (b"0", b"\0")),
        (dict(key="\\0"), (b"\0", None)),
    ],
)
def test_resolve_range_allows(options, expected):
    assert resolve_range(params(**options)) == expected
