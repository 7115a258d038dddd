# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gardenos.cluster.identity: the controller's side of the cluster's identity (docs: plugins/modules/identity.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase
from ansible_collections.gardenos.cluster.plugins.plugin_utils import identity

ARGUMENT_SPEC = {
    "state": {"type": "str", "choices": ["synced", "published", "restored"], "default": "synced"},
    "sealed_file": {"type": "path"},
    "pki_dir": {"type": "path", "required": True},
    "secrets_dir": {"type": "path", "required": True},
    "key_file": {"type": "path", "required": True},
    "ca_file": {"type": "path", "required": True},
    "generated_secrets": {"type": "dict", "default": {}},
    "members": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "host": {"type": "str", "required": True},
            "store": {"type": "str"},
            "sealed": {"type": "str", "no_log": True},
            "etcd_running": {"type": "bool", "default": False},
        },
    },
}


SYNC_MESSAGES = {
    "create": "A new cluster: made its identity on this controller ({controller}).",
    "adopt": "This controller's identity ({controller}) is now kept by the cluster's etcd members too.",
    "fetch": "Fetched the identity the cluster keeps, from {source}, to this controller.",
    "publish": "This controller's identity is newer than the members' copies: they get it.",
    "in_sync": "This controller's identity is the one the cluster keeps.",
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        del validation
        try:
            result.update(Controller(args).run())
        except identity.IdentityError as error:
            raise AnsibleActionFail(to_text(error)) from None
        return result


class Controller:
    """One run of the action on the controller's identity files."""

    def __init__(self, args):
        self.args = args
        self.metadata_file = os.path.join(args["secrets_dir"], identity.METADATA_FILE)
        self.members = [
            {
                "host": member["host"],
                "store": identity.parse_metadata(member["store"], member["host"]) if member["store"] else None,
                "sealed": member["sealed"],
                "etcd_running": member["etcd_running"],
            }
            for member in args["members"]
        ]

    def files(self):
        return identity.read_files(self.args["pki_dir"], self.args["secrets_dir"], self.args["generated_secrets"])

    def controller(self):
        files = self.files()
        return {
            "present": os.path.isfile(self.args["ca_file"]),
            "metadata": identity.read_metadata(self.metadata_file),
            "digest": identity.digest(files),
        }

    def key(self, make):
        """The identity key; made (48 random letters and digits) only for a new identity."""
        path = self.args["key_file"]
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                key = to_text(handle.read()).strip()
            if key:
                return key, False
        if not make:
            return None, False
        key = identity.make_secret(identity.KEY_LENGTH)
        identity.write_file(path, to_bytes(key + "\n"), 0o600)
        return key, True

    def run(self):
        if self.args["state"] == "published":
            return self.publish()
        if self.args["state"] == "restored":
            return self.restore()
        return self.sync()

    def sync(self):
        decision = identity.plan(self.controller(), self.members)
        paths = {name: self.args[name] for name in ("pki_dir", "secrets_dir", "key_file", "ca_file")}
        if decision["action"] == "refuse":
            raise identity.IdentityError(identity.refusal(decision, self.members, paths))
        outcome = {"action": decision["action"], "moved_aside": [], "key_made": False}
        if decision["action"] == "fetch":
            outcome["moved_aside"] = self.fetch(decision["source"])
        elif decision["action"] in ("create", "adopt"):
            outcome["key_made"] = self.key(make=True)[1]
            if identity.read_metadata(self.metadata_file) is None:
                identity.write_file(
                    self.metadata_file, to_bytes(identity.metadata_text(identity.new_metadata())), 0o600
                )
        made = self.make_secrets()
        # Changed means new for the cluster: a new identity or secret. Fetching the cluster's own identity
        # fills the controller's copy and changes nothing the cluster has (a second controller's run is changed=0).
        outcome.update(
            changed=decision["action"] in ("create", "adopt") or bool(made),
            secrets_made=made,
            source=decision["source"],
            msg=SYNC_MESSAGES[decision["action"]].format(source=decision["source"], controller=self.args["pki_dir"]),
        )
        if outcome["moved_aside"]:
            outcome["warnings"] = [
                "This controller's identity differed from the one the cluster keeps (%s): took the cluster's, and moved"
                " this controller's to %s." % (decision["source"], ", ".join(outcome["moved_aside"]))
            ]
        if outcome["key_made"]:
            outcome["warnings"] = [
                "Made the cluster's identity key %s: keep a copy away from this machine (a password store). Any other"
                " controller needs it to manage this cluster (README, 'The cluster's identity')."
                % self.args["key_file"]
            ]
        return outcome

    def restore(self):
        """Puts back the identity of a sealed copy (an etcd backup's); what the controller had is moved aside."""
        path = self.args["sealed_file"]
        if not path or not os.path.isfile(path):
            raise identity.IdentityError(
                "No sealed identity at %r: name a copy the etcd backup kept (<snapshot>.identity.vault)." % path
            )
        key = self.key(make=False)[0]
        if key is None:
            raise identity.IdentityError(
                "The identity key %s is missing: the copy %s cannot be opened without it."
                % (self.args["key_file"], path)
            )
        with open(path, "rb") as handle:
            sealed = handle.read()
        try:
            files, metadata = identity.unseal(sealed, key, path)
        except identity.WrongKeyError:
            raise identity.IdentityError(
                "The identity key %s does not open %s: it is another cluster's key." % (self.args["key_file"], path)
            ) from None
        moved = identity.write_files(
            files, self.args["pki_dir"], self.args["secrets_dir"], self.args["generated_secrets"]
        )
        identity.write_file(self.metadata_file, to_bytes(identity.metadata_text(metadata)), 0o600)
        return {"changed": True, "moved_aside": moved, "identity": metadata}

    def fetch(self, source):
        key = self.key(make=False)[0]
        store = next(member for member in self.members if member["host"] == source)
        if key is None:
            raise identity.IdentityError(
                "The cluster (%s) keeps its identity on its etcd members (%s), sealed with the identity key, and this"
                " controller has neither the identity nor the key (%s). Nothing was changed on any node. Copy the key"
                " from the controller that built the cluster, or from where it is kept, to that path (or set"
                " wiring_identity_key_file), and run again."
                % (
                    store["store"]["cluster_id"],
                    ", ".join(member["host"] for member in self.members if member["store"]),
                    self.args["key_file"],
                )
            )
        if not store["sealed"]:
            raise identity.IdentityError(
                "%s keeps the identity's metadata but not the sealed identity: run again." % source
            )
        try:
            files, metadata = identity.unseal(store["sealed"], key, source)
        except identity.WrongKeyError:
            raise identity.IdentityError(
                "The identity key %s does not open the identity kept on %s (cluster %s): it is another cluster's key or"
                " a mistyped one. Nothing was changed on any node. Put this cluster's key there and run again."
                % (self.args["key_file"], source, store["store"]["cluster_id"])
            ) from None
        moved = identity.write_files(
            files, self.args["pki_dir"], self.args["secrets_dir"], self.args["generated_secrets"]
        )
        identity.write_file(self.metadata_file, to_bytes(identity.metadata_text(metadata)), 0o600)
        return moved

    def make_secrets(self):
        """Makes the generated secrets that are missing; their names (never their values)."""
        made = []
        for name, length in sorted(self.args["generated_secrets"].items()):
            path = os.path.join(self.args["secrets_dir"], name)
            if not os.path.isfile(path):
                identity.write_file(path, to_bytes(identity.make_secret(int(length)) + "\n"), 0o600)
                made.append(name)
        return made

    def publish(self):
        """The sealed identity for the members that keep another (the generation is raised when it changed)."""
        if not os.path.isfile(self.args["ca_file"]):
            return {"changed": False, "targets": [], "msg": "The identity has no CA yet: nothing to publish."}
        files = self.files()
        current = identity.digest(files)
        metadata = identity.read_metadata(self.metadata_file) or identity.new_metadata()
        changed = metadata["digest"] != current
        if changed:
            metadata = dict(metadata, generation=metadata["generation"] + 1, digest=current)
            identity.write_file(self.metadata_file, to_bytes(identity.metadata_text(metadata)), 0o600)
        targets = [
            member["host"] for member in self.members if not member["store"] or member["store"]["digest"] != current
        ]
        outcome = {
            "changed": changed,
            "targets": targets,
            "identity": metadata,
            "metadata": identity.metadata_text(metadata),
        }
        if targets:
            key = self.key(make=False)[0]
            if key is None:
                raise identity.IdentityError(
                    "The identity key %s is missing: the identity cannot be sealed for the cluster. Put this cluster's"
                    " key there and run again." % self.args["key_file"]
                )
            # A file, not a result: the sealed identity stays out of every log (-v prints results).
            outcome["sealed_file"] = os.path.join(self.args["secrets_dir"], identity.SEALED_FILE)
            identity.write_file(outcome["sealed_file"], to_bytes(identity.seal(files, metadata, key)), 0o600)
        return outcome
