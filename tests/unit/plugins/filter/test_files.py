"""files_to_install: what a copy loop still has to install after one find of the host."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.files import files_to_install


def wanted(name, checksum="a" * 40, mode="0600"):
    return {"dest": f"/etc/etcd/pki/{name}", "checksum": checksum, "mode": mode, "owner": "etcd", "group": "etcd"}


def found(name, checksum="a" * 40, mode="0600", owner="etcd", group="etcd"):
    return {"path": f"/etc/etcd/pki/{name}", "checksum": checksum, "mode": mode, "pw_name": owner, "gr_name": group}


def test_nothing_to_install_when_every_file_matches():
    files = [wanted("ca.crt", mode="0644"), wanted("server.key")]
    assert files_to_install(files, {"files": [found("ca.crt", mode="0644"), found("server.key")]}) == []


@pytest.mark.parametrize(
    "installed",
    [
        [],
        [found("server.key", checksum="b" * 40)],
        [found("server.key", mode="0644")],
        [found("server.key", owner="root")],
        [found("server.key", group="root")],
    ],
    ids=["missing", "content", "mode", "owner", "group"],
)
def test_a_missing_or_different_file_is_installed(installed):
    files = [wanted("server.key")]
    assert files_to_install(files, installed) == files


def test_only_the_stale_files_in_their_order():
    files = [wanted("a"), wanted("b"), wanted("c")]
    installed = [found("a", checksum="x" * 40), found("b"), {"path": "/etc/etcd/pki/other"}]
    assert files_to_install(files, installed) == [files[0], files[2]]


def test_modes_compare_as_numbers():
    assert files_to_install([wanted("k", mode="600")], [found("k", mode="0600")]) == []


def test_a_wanted_file_without_its_fields_is_refused():
    with pytest.raises(AnsibleFilterError, match="lacks checksum"):
        files_to_install([{"dest": "/x", "mode": "0600", "owner": "a", "group": "a"}], [])
