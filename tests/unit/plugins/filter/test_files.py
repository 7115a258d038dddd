"""files_to_install: what a copy loop still has to install after one find of the host."""

import hashlib

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.files import files_to_install

DEST = "/etc/etcd/pki"


@pytest.fixture
def controller(tmp_path):
    """A controller PKI directory with three files."""
    for name in ("ca.crt", "node-1-server.key", "node-1-server.crt"):
        (tmp_path / name).write_bytes(f"{name} content\n".encode())
    return tmp_path


def sha1(controller, name):
    return hashlib.sha1((controller / name).read_bytes()).hexdigest()  # noqa: S324


def wanted(src, dest, mode="0600"):
    return {"src": src, "dest": dest, "mode": mode}


def found(controller, src, dest, *, mode="0600", owner="etcd", group="etcd", checksum=None):
    return {
        "path": f"{DEST}/{dest}",
        "checksum": checksum or sha1(controller, src),
        "mode": mode,
        "pw_name": owner,
        "gr_name": group,
    }


def install(controller, files, installed):
    return files_to_install(files, installed, src_dir=str(controller), dest_dir=DEST, owner="etcd", group="etcd")


def test_nothing_to_install_when_every_file_matches(controller):
    files = [wanted("ca.crt", "ca.crt", mode="0644"), wanted("node-1-server.key", "server.key")]
    installed = {
        "files": [
            found(controller, "ca.crt", "ca.crt", mode="0644"),
            found(controller, "node-1-server.key", "server.key"),
        ]
    }
    assert install(controller, files, installed) == []


@pytest.mark.parametrize(
    "difference",
    [None, {"checksum": "b" * 40}, {"mode": "0644"}, {"owner": "root"}, {"group": "root"}],
    ids=["missing", "content", "mode", "owner", "group"],
)
def test_a_missing_or_different_file_is_installed_with_full_paths(controller, difference):
    installed = [] if difference is None else [found(controller, "node-1-server.key", "server.key", **difference)]
    assert install(controller, [wanted("node-1-server.key", "server.key")], installed) == [
        {
            "src": str(controller / "node-1-server.key"),
            "dest": f"{DEST}/server.key",
            "mode": "0600",
            "owner": "etcd",
            "group": "etcd",
            "checksum": sha1(controller, "node-1-server.key"),
        }
    ]


def test_the_checksum_is_the_controller_files_sha1(controller):
    """A source changed on the controller (a re-issued certificate) is installed again."""
    installed = [found(controller, "node-1-server.crt", "server.crt", mode="0644")]
    files = [wanted("node-1-server.crt", "server.crt", mode="0644")]
    assert install(controller, files, installed) == []
    (controller / "node-1-server.crt").write_text("re-issued\n")
    assert [item["dest"] for item in install(controller, files, installed)] == [f"{DEST}/server.crt"]


def test_only_the_stale_files_in_their_order(controller):
    files = [wanted("ca.crt", "a"), wanted("ca.crt", "b"), wanted("ca.crt", "c")]
    installed = [
        found(controller, "ca.crt", "a", checksum="x" * 40),
        found(controller, "ca.crt", "b"),
        {"path": f"{DEST}/other"},
    ]
    assert [item["dest"] for item in install(controller, files, installed)] == [f"{DEST}/a", f"{DEST}/c"]


def test_modes_compare_as_numbers_and_paths_as_find_writes_them(controller):
    installed = [found(controller, "ca.crt", "k", mode="0600")]
    stale = files_to_install(
        [wanted("ca.crt", "k", mode="600")],
        installed,
        src_dir=str(controller),
        dest_dir=DEST + "/",
        owner="etcd",
        group="etcd",
    )
    assert stale == []


def test_a_wanted_file_without_its_fields_is_refused(controller):
    with pytest.raises(AnsibleFilterError, match="lacks mode"):
        install(controller, [{"src": "ca.crt", "dest": "ca.crt"}], [])


def test_a_source_missing_on_the_controller_is_named(controller):
    with pytest.raises(AnsibleFilterError, match=r"cannot read .*/node-2-peer\.key"):
        install(controller, [wanted("node-2-peer.key", "peer.key")], [])
