# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the K3s roles read from a running cluster."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from ansible.errors import AnsibleFilterError

# The keys K3s, kubeadm and older setups put on control-plane nodes, and the effects that keep
# workloads off them (PreferNoSchedule does not).
CONTROL_PLANE_TAINT_KEYS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")


def _node_list(nodes):
    """The parsed ``kubectl get nodes --output json``: a JSON string (empty for none) or the mapping."""
    if isinstance(nodes, str):
        if not nodes.strip():
            return {}
        try:
            nodes = json.loads(nodes)
        except ValueError as exc:
            raise AnsibleFilterError("k3s_control_plane_taints: not the JSON of kubectl get nodes: %s" % exc) from exc
    if not isinstance(nodes, dict) or not isinstance(nodes.get("items") or [], list):
        raise AnsibleFilterError("k3s_control_plane_taints expects a NodeList (with items), got %r" % (nodes,))
    return nodes


def k3s_control_plane_taints(nodes):
    """``[{node, key, effect}]`` of every control-plane taint that keeps workloads off a node."""
    found = []
    for node in _node_list(nodes).get("items") or []:
        name = (node.get("metadata") or {}).get("name")
        for taint in (node.get("spec") or {}).get("taints") or []:
            if taint.get("key") in CONTROL_PLANE_TAINT_KEYS and taint.get("effect") in BLOCKING_EFFECTS:
                found.append({"node": name, "key": taint["key"], "effect": taint["effect"]})
    return found


# K3s's secure token: K10<sha256 of the cluster's server CA, as stored on disk>::<user>:<password>.
SECURE_TOKEN_PREFIX = "K10"  # noqa: S105 - the format's fixed prefix, not a secret


def k3s_token_credential(token):
    """The credential of a K3s token: the password of a short token, what follows ``::`` in a
    secure one (``server:<password>``), without the ``server:`` user."""
    token = ("%s" % (token or "")).strip()
    if token.startswith(SECURE_TOKEN_PREFIX) and "::" in token:
        token = token.split("::", 1)[1]
    return token[len("server:") :] if token.startswith("server:") else token


def k3s_join_token(token, server_ca=""):
    """The token pinned to the cluster's CA (``K10<sha256(server_ca)>::server:<password>``), so that a
    joining node checks the CA it is given before it sends its credential; the short token while
    the cluster has no CA yet (``server_ca`` empty). A secure token given as such is kept."""
    token = ("%s" % (token or "")).strip()
    if not token:
        raise AnsibleFilterError("k3s_join_token: the token is empty")
    if token.startswith(SECURE_TOKEN_PREFIX) and "::" in token:
        return token
    if not server_ca:
        return token
    if not ("%s" % server_ca).lstrip().startswith("-----BEGIN CERTIFICATE-----"):
        raise AnsibleFilterError("k3s_join_token: the server CA is not a PEM certificate")
    digest = hashlib.sha256(("%s" % server_ca).encode("utf-8")).hexdigest()
    return "%s%s::server:%s" % (SECURE_TOKEN_PREFIX, digest, k3s_token_credential(token))


class FilterModule(object):
    def filters(self):
        return {
            "k3s_control_plane_taints": k3s_control_plane_taints,
            "k3s_join_token": k3s_join_token,
            "k3s_token_credential": k3s_token_credential,
        }
