"""Unit tests of the collection's one version parser (plugins/module_utils/versions.py), which the etcd
gateway client (API prefix) and the Patroni client (replica states) use."""

import pytest
from ansible_collections.gardenos.cluster.plugins.module_utils import etcd_gateway, patroni_rest, versions


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("3.5.17", (3, 5, 17)),
        ("3.0.2", (3, 0, 2)),
        ("3.10", (3, 10)),
        ("3.0.4rc1", (3, 0, 4)),
        ("v1.30.4+k3s1", (1, 30, 4)),
        ("15.8 (Debian 15.8-0+deb12u1)", (15, 8)),
        ("3.5.x", (3, 5)),
        (" 4.1.5\n", (4, 1, 5)),
        ("3", (3,)),
        ("not_decided", None),
        ("dev", None),
        ("", None),
        (None, None),
        (b"3.4.23", (3, 4, 23)),
    ],
)
def test_version_tuple(version, expected):
    assert versions.version_tuple(version) == expected


def test_tuples_compare_as_versions_where_text_does_not():
    assert versions.version_tuple("3.10.0") > versions.version_tuple("3.4.0")
    assert versions.version_tuple("4.1.5") >= patroni_rest.STREAMING_STATE_SINCE > versions.version_tuple("3.0.2")


def test_the_clients_use_the_one_parser():
    assert etcd_gateway.version_tuple is versions.version_tuple
    assert patroni_rest.version_tuple is versions.version_tuple
