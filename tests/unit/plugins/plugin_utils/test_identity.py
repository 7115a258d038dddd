"""The cluster's identity: the decision of a run (plan), sealing, and the controller-side action on real files."""

import json
import os
import stat

import pytest
from ansible_collections.gardenos.cluster.plugins.action.identity import Controller
from ansible_collections.gardenos.cluster.plugins.plugin_utils import identity

SECRETS = {"patroni-superuser": 32, "k3s-token": 48}


def member(host, cluster_id=None, generation=0, digest="d", running=False):
    store = {"cluster_id": cluster_id, "generation": generation, "digest": digest} if cluster_id else None
    return {"host": host, "store": store, "etcd_running": running}


def controller(present=True, cluster_id="A", generation=1, digest="d"):
    metadata = {"cluster_id": cluster_id, "generation": generation, "digest": digest} if cluster_id else None
    return {"present": present, "metadata": metadata, "digest": digest}


class TestPlan:
    def test_nothing_anywhere_creates(self):
        assert (
            identity.plan(controller(present=False, cluster_id=None), [member("a"), member("b")])["action"] == "create"
        )

    def test_running_etcd_that_nobody_keeps_is_refused(self):
        decision = identity.plan(
            controller(present=False, cluster_id=None), [member("b", running=True), member("a", running=True)]
        )
        assert decision == {"action": "refuse", "reason": "unknown", "source": None, "hosts": ["a", "b"]}

    def test_controller_identity_not_kept_yet_is_adopted(self):
        assert identity.plan(controller(), [member("a", running=True)])["action"] == "adopt"

    def test_controller_without_identity_fetches_from_the_newest_member(self):
        members = [member("c", "A", 3), member("a", "A", 2), member("b", "A", 3)]
        assert identity.plan(controller(present=False, cluster_id=None), members) == {
            "action": "fetch",
            "source": "b",
            "hosts": ["a", "b", "c"],
        }

    def test_same_digest_is_in_sync(self):
        assert identity.plan(controller(digest="x"), [member("a", "A", 1, "x")])["action"] == "in_sync"

    def test_another_clusters_identity_is_refused(self):
        decision = identity.plan(controller(cluster_id="B", digest="y"), [member("a", "A", 1, "x")])
        assert decision["action"] == "refuse" and decision["reason"] == "other" and decision["source"] == "a"

    def test_controller_without_metadata_and_another_digest_is_refused(self):
        decision = identity.plan(controller(cluster_id=None, digest="y"), [member("a", "A", 1, "x")])
        assert decision["reason"] == "other"

    def test_older_controller_fetches(self):
        decision = identity.plan(controller(generation=1, digest="old"), [member("a", "A", 2, "new")])
        assert decision["action"] == "fetch"

    def test_controller_newer_than_the_members_copies_is_published(self):
        decision = identity.plan(controller(generation=3, digest="y"), [member("a", "A", 2, "x")])
        assert decision["action"] == "publish"

    def test_controller_changed_outside_a_run_takes_the_clusters(self):
        # A CA key deleted or edited by hand must never become a new CA: the cluster's copy wins.
        decision = identity.plan(
            {"present": True, "metadata": {"cluster_id": "A", "generation": 2, "digest": "x"}, "digest": "y"},
            [member("a", "A", 2, "x")],
        )
        assert decision["action"] == "fetch"

    def test_members_of_different_clusters_are_refused(self):
        decision = identity.plan(controller(), [member("a", "A"), member("b", "B")])
        assert decision["reason"] == "mixed"
        message = identity.refusal(decision, [member("a", "A"), member("b", "B")], {})
        assert "cluster A on a; cluster B on b" in message and "Nothing was changed on any node" in message


def test_seal_and_unseal_round_trip_and_wrong_key():
    files = {
        "pki/etcd/ca.key": {"mode": "0600", "content": b"\x00key"},
        "secrets/k3s-token": {"mode": "0600", "content": b"t\n"},
    }
    sealed = identity.seal(files, {"cluster_id": "A", "generation": 1, "digest": "d"}, "right-key")
    assert sealed.startswith("$ANSIBLE_VAULT;1.1;AES256") and "key" not in sealed.split("\n", 1)[1]
    assert identity.unseal(sealed, "right-key", "m") == (files, {"cluster_id": "A", "generation": 1, "digest": "d"})
    with pytest.raises(identity.WrongKeyError, match="does not open the identity kept on m"):
        identity.unseal(sealed, "another-key", "m")


def test_digest_follows_content_and_mode():
    files = {"pki/a": {"mode": "0600", "content": b"x"}}
    assert identity.digest(files) != identity.digest({"pki/a": {"mode": "0644", "content": b"x"}})
    assert identity.digest(files) != identity.digest({"pki/a": {"mode": "0600", "content": b"y"}})
    assert identity.digest(files) == identity.digest(dict(files))


class ControllerDirs:
    """A controller's directories, and the action run on them as the role runs it."""

    def __init__(self, root):
        self.pki = root / "pki"
        self.secrets = root / "secrets"
        self.key = self.secrets / "identity.key"
        self.ca = self.pki / "etcd" / "ca.crt"

    def run(self, state, members):
        return Controller(
            {
                "state": state,
                "pki_dir": str(self.pki),
                "secrets_dir": str(self.secrets),
                "key_file": str(self.key),
                "ca_file": str(self.ca),
                "generated_secrets": SECRETS,
                "members": members,
            }
        ).run()

    def make_ca(self):
        identity.write_file(str(self.ca), b"CA certificate\n", 0o644)
        identity.write_file(str(self.pki / "etcd" / "ca.key"), b"CA key\n", 0o600)


def kept(dirs, hosts, running=True):
    """What the members keep after a publication by ``dirs`` (as publish.yml writes it)."""
    sealed = (dirs.secrets / identity.SEALED_FILE).read_text()
    metadata = (dirs.secrets / identity.METADATA_FILE).read_text()
    return [{"host": host, "store": metadata, "sealed": sealed, "etcd_running": running} for host in hosts]


def test_new_cluster_then_second_controller_then_stranger(tmp_path):
    first = ControllerDirs(tmp_path / "first")
    empty = [{"host": h, "store": "", "sealed": "", "etcd_running": False} for h in ("m1", "m2", "m3")]
    created = first.run("synced", empty)
    assert (
        created["action"] == "create"
        and created["key_made"]
        and created["secrets_made"] == ["k3s-token", "patroni-superuser"]
    )
    assert stat.S_IMODE(os.stat(first.key).st_mode) == 0o600 and len(first.key.read_text().strip()) == 48
    assert first.run("published", empty) == {
        "changed": False,
        "targets": [],
        "msg": "The identity has no CA yet: nothing to publish.",
    }
    first.make_ca()
    published = first.run("published", empty)
    assert published["targets"] == ["m1", "m2", "m3"] and published["identity"]["generation"] == 1
    members = kept(first, ["m1", "m2", "m3"])
    assert first.run("synced", members)["action"] == "in_sync"
    assert first.run("published", members)["targets"] == []

    # A second controller without the key stops with the one message; with it, it gets the same files.
    second = ControllerDirs(tmp_path / "second")
    with pytest.raises(identity.IdentityError, match="neither the identity nor the key"):
        second.run("synced", members)
    assert not second.pki.exists()
    identity.write_file(str(second.key), first.key.read_bytes(), 0o600)
    fetched = second.run("synced", members)
    assert fetched["action"] == "fetch" and fetched["secrets_made"] == [] and fetched["moved_aside"] == []
    for path in ("pki/etcd/ca.key", "pki/etcd/ca.crt", "secrets/k3s-token", "secrets/patroni-superuser"):
        assert (second.pki.parent / path).read_bytes() == (first.pki.parent / path).read_bytes()
    assert oct(os.stat(second.pki / "etcd" / "ca.key").st_mode & 0o777) == "0o600"
    assert second.run("synced", members)["action"] == "in_sync"
    assert second.run("published", members)["targets"] == []

    # A wrong key, and another cluster's identity, stop the run and change no file.
    third = ControllerDirs(tmp_path / "third")
    identity.write_file(str(third.key), b"not-the-key\n", 0o600)
    with pytest.raises(identity.IdentityError, match="does not open the identity kept on m1"):
        third.run("synced", members)
    third.run("synced", [{"host": "x", "store": "", "sealed": "", "etcd_running": False}])
    third.make_ca()
    before = sorted(p.read_bytes() for p in third.pki.rglob("*") if p.is_file())
    with pytest.raises(identity.IdentityError, match="is not the one the cluster keeps"):
        third.run("synced", members)
    assert sorted(p.read_bytes() for p in third.pki.rglob("*") if p.is_file()) == before


def test_stale_controller_takes_the_clusters_newer_identity_and_keeps_its_own_aside(tmp_path):
    first = ControllerDirs(tmp_path / "first")
    empty = [{"host": "m1", "store": "", "sealed": "", "etcd_running": False}]
    first.run("synced", empty)
    first.make_ca()
    first.run("published", empty)
    second = ControllerDirs(tmp_path / "second")
    identity.write_file(str(second.key), first.key.read_bytes(), 0o600)
    second.run("synced", kept(first, ["m1"]))
    # The first controller issues a certificate (a new member): generation 2 on the cluster.
    identity.write_file(str(first.pki / "etcd" / "m4.crt"), b"new member\n", 0o644)
    assert first.run("published", kept(first, ["m1"]))["identity"]["generation"] == 2
    members = kept(first, ["m1"])
    fetched = second.run("synced", members)
    assert fetched["action"] == "fetch" and len(fetched["moved_aside"]) == 2
    assert (second.pki / "etcd" / "m4.crt").read_bytes() == b"new member\n"
    assert json.loads((second.secrets / identity.METADATA_FILE).read_text())["generation"] == 2
    assert all(os.path.isdir(path) for path in fetched["moved_aside"])
