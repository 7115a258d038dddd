# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster's identity: its etcd CA and certificates and every generated secret.

The controller keeps the identity in two directories (the wiring role's pki and secrets
directories); the cluster keeps a copy on every etcd member, sealed with Ansible Vault under the
identity key, which only operators hold. Every run of site.yml first compares the two
(:func:`plan`): a controller without the identity fetches the cluster's, a controller whose
identity is another cluster's stops the run before any node is touched, and a change the
controller made (a certificate issued for a new member) is published back.

Metadata (``identity.json``, beside the secrets on the controller and beside the sealed copy on
the members; no secret in it): the cluster id (made once, with the identity), the generation
(raised by every publication) and the digest of the files.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import hashlib
import json
import os
import secrets
import stat
import string
import uuid

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.parsing.vault import VaultLib, VaultSecret

FORMAT = 1
METADATA_FILE = "identity.json"
SEALED_FILE = "identity.vault"
PKI_PREFIX = "pki/"
SECRETS_PREFIX = "secrets/"
SECRET_CHARACTERS = string.ascii_letters + string.digits
KEY_LENGTH = 48


class IdentityError(AnsibleError):
    """The identity cannot be synced: one message naming what disagrees and what to do."""


class WrongKeyError(IdentityError):
    """The identity key does not open a sealed identity."""


def read_files(pki_dir, secrets_dir, secret_names):
    """The controller's identity files: ``{'pki/<path>' or 'secrets/<name>': {'mode', 'content'}}``.

    Everything under ``pki_dir``, and of ``secrets_dir`` only the generated secrets (not the
    identity key, the metadata or the kubeconfig fetched from K3s).
    """
    files = {}
    if os.path.isdir(pki_dir):
        for root, dirs, names in os.walk(pki_dir):
            dirs.sort()
            for name in sorted(names):
                path = os.path.join(root, name)
                files[PKI_PREFIX + os.path.relpath(path, pki_dir)] = _read(path)
    for name in sorted(secret_names):
        path = os.path.join(secrets_dir, name)
        if os.path.isfile(path):
            files[SECRETS_PREFIX + name] = _read(path)
    return files


def _read(path):
    with open(path, "rb") as handle:
        content = handle.read()
    return {"mode": "%04o" % stat.S_IMODE(os.stat(path).st_mode), "content": content}


def digest(files):
    """One digest of the identity files: their paths, modes and contents."""
    summary = hashlib.sha256()
    for path in sorted(files):
        entry = files[path]
        summary.update(to_bytes(path) + b"\0" + to_bytes(entry["mode"]) + b"\0")
        summary.update(hashlib.sha256(entry["content"]).digest())
    return summary.hexdigest()


def read_metadata(path):
    """The metadata recorded at ``path``, or None when there is none."""
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as handle:
        return parse_metadata(handle.read(), path)


def parse_metadata(text, where):
    try:
        metadata = json.loads(to_text(text))
        return {
            "cluster_id": str(metadata["cluster_id"]),
            "generation": int(metadata["generation"]),
            "digest": str(metadata["digest"]),
        }
    except (ValueError, KeyError, TypeError) as error:
        raise IdentityError(
            "The identity metadata in %s is not readable (%s): restore it from a backup." % (where, error)
        ) from error


def metadata_text(metadata):
    return json.dumps(dict(metadata, format=FORMAT), sort_keys=True, indent=2) + "\n"


def new_metadata():
    return {"cluster_id": str(uuid.uuid4()), "generation": 0, "digest": ""}


def _vault(key):
    return VaultLib([("default", VaultSecret(to_bytes(key)))])


def seal(files, metadata, key):
    """The identity as Ansible Vault text (``ansible-vault view --vault-password-file <key>`` opens it)."""
    payload = {
        "format": FORMAT,
        "metadata": metadata,
        "files": {
            path: {"mode": entry["mode"], "content": to_text(base64.b64encode(entry["content"]))}
            for path, entry in files.items()
        },
    }
    return to_text(_vault(key).encrypt(json.dumps(payload, sort_keys=True)))


def unseal(text, key, where):
    """``(files, metadata)`` of a sealed identity; IdentityError naming ``where`` on a wrong key."""
    try:
        payload = json.loads(to_text(_vault(key).decrypt(to_bytes(text))))
    except AnsibleError:
        raise WrongKeyError("The identity key does not open the identity kept on %s." % where) from None
    except ValueError as error:
        raise IdentityError("The identity kept on %s is not readable (%s)." % (where, error)) from error
    files = {
        path: {"mode": entry["mode"], "content": base64.b64decode(entry["content"])}
        for path, entry in payload["files"].items()
    }
    return files, payload["metadata"]


def write_files(files, pki_dir, secrets_dir, secret_names, aside_suffix=None):
    """Make the controller's identity ``files``; what was there before is moved aside, never deleted.

    Returns the directories moved aside.
    """
    moved = []
    suffix = aside_suffix or datetime.datetime.now(datetime.timezone.utc).strftime(".replaced-%Y%m%dT%H%M%SZ")
    if os.path.isdir(pki_dir) and os.listdir(pki_dir):
        os.rename(pki_dir, pki_dir + suffix)
        moved.append(pki_dir + suffix)
    present_secrets = [name for name in secret_names if os.path.isfile(os.path.join(secrets_dir, name))]
    if present_secrets:
        aside = os.path.join(secrets_dir, "replaced" + suffix)
        _makedirs(aside)
        for name in present_secrets:
            os.rename(os.path.join(secrets_dir, name), os.path.join(aside, name))
        moved.append(aside)
    for path, entry in sorted(files.items()):
        if path.startswith(PKI_PREFIX):
            target = os.path.join(pki_dir, path[len(PKI_PREFIX) :])
        elif path.startswith(SECRETS_PREFIX):
            target = os.path.join(secrets_dir, path[len(SECRETS_PREFIX) :])
        else:
            raise IdentityError("The sealed identity holds an unexpected file: %s." % path)
        write_file(target, entry["content"], int(entry["mode"], 8))
    return moved


def _makedirs(path):
    if not os.path.isdir(path):
        os.makedirs(path, 0o700)


def write_file(path, content, mode):
    _makedirs(os.path.dirname(path))
    temporary = path + ".tmp"
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
        handle.write(content)
    os.chmod(temporary, mode)
    os.rename(temporary, path)


def make_secret(length):
    return "".join(secrets.choice(SECRET_CHARACTERS) for position in range(length))


def plan(controller, members):
    """What a run does with the identity: the controller's and the members' compared.

    ``controller``: ``present`` (it has the etcd CA), ``metadata`` (recorded, or None), ``digest``
    (of its files now). ``members``: one dict per etcd member: ``host``, ``store`` (the metadata
    it keeps, or None) and ``etcd_running``. Returns ``{'action': ..., 'source': host, 'hosts': [...]}``:
    ``create`` (no cluster yet), ``adopt`` (the controller's identity, not kept by the cluster
    yet), ``fetch`` (from ``source``: the controller has none, an older one or one that changed
    outside a run), ``publish`` (the members keep an older generation than the controller's),
    ``in_sync``, or
    ``refuse`` with a ``reason``: ``mixed`` (the members keep different clusters' identities),
    ``unknown`` (etcd runs on ``hosts`` but nobody holds its identity) or ``other`` (the
    controller's identity is not the cluster's).
    """
    stored = sorted((member for member in members if member["store"]), key=lambda member: member["host"])
    if len({member["store"]["cluster_id"] for member in stored}) > 1:
        return {"action": "refuse", "reason": "mixed", "source": None, "hosts": [member["host"] for member in stored]}
    if not stored:
        running = sorted(member["host"] for member in members if member["etcd_running"])
        if controller["present"]:
            return {"action": "adopt", "source": None, "hosts": []}
        if running:
            return {"action": "refuse", "reason": "unknown", "source": None, "hosts": running}
        return {"action": "create", "source": None, "hosts": []}
    generation = max(member["store"]["generation"] for member in stored)
    source = next(member for member in stored if member["store"]["generation"] == generation)
    cluster = source["store"]
    hosts = [member["host"] for member in stored]
    if not controller["present"]:
        action = "fetch"
    elif controller["digest"] == cluster["digest"]:
        action = "in_sync"
    elif controller["metadata"] is None or controller["metadata"]["cluster_id"] != cluster["cluster_id"]:
        return {"action": "refuse", "reason": "other", "source": source["host"], "hosts": hosts}
    elif controller["metadata"]["generation"] > cluster["generation"]:
        # Published by this controller once, and the members' copies are older (restored).
        action = "publish"
    else:
        # Older, or changed since it was last in step (an interrupted run, a file lost or edited): what the
        # cluster keeps is what its nodes run; the controller's copy is moved aside.
        action = "fetch"
    return {"action": action, "source": source["host"], "hosts": hosts}


def refusal(decision, members, paths):
    """The one message of a refused run: what disagrees, and what to do."""
    stores = {member["host"]: member["store"] for member in members}
    hosts = ", ".join(decision["hosts"])
    nothing = " Nothing was changed on any node."
    if decision["reason"] == "mixed":
        held = "; ".join("cluster %s on %s" % (stores[host]["cluster_id"], host) for host in decision["hosts"])
        return (
            "The etcd members keep the identities of different clusters (%s)." % held
            + nothing
            + " Find out which is this cluster's before running again (README, 'The cluster's identity')."
        )
    if decision["reason"] == "unknown":
        return (
            "etcd runs on %s, but the cluster keeps no identity and this controller has none (no CA at %s):"
            " making a new one would replace every certificate of the running cluster."
            % (hosts, paths["ca_file"])
            + nothing
            + " Run site.yml once from the controller that built the cluster (it then keeps its identity on the etcd"
            " members), or put that controller's %s and %s back from a backup (README, 'The cluster's identity')."
            % (paths["pki_dir"], paths["secrets_dir"])
        )
    return (
        "This controller's identity (%s and %s) is not the one the cluster keeps (cluster %s, generation %s, on %s)."
        % (
            paths["pki_dir"],
            paths["secrets_dir"],
            stores[decision["source"]]["cluster_id"],
            stores[decision["source"]]["generation"],
            hosts,
        )
        + nothing
        + " If these directories are another cluster's or stale, move them aside and run again: the cluster's identity"
        " is then fetched with the identity key (%s). If they are right and the cluster's copy is wrong, see README,"
        " 'The cluster's identity'." % paths["key_file"]
    )
