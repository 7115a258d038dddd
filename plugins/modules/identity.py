#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# An action plugin (plugins/action/identity.py) that runs on the controller only; this file documents it.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: identity
short_description: Sync the controller's copy of the cluster's identity with the one the etcd members keep
version_added: 0.2.0
description:
  - The cluster's identity is its etcd PKI (O(pki_dir)) and its generated secrets (O(generated_secrets) in
    O(secrets_dir)). Every etcd member keeps a copy sealed with Ansible Vault under the identity key
    (O(key_file)), with its metadata (cluster id, generation, digest; no secret). The role
    C(gardenos.cluster.identity) reads what the members keep
    and passes it in O(members); this action works on the controller's files only.
  - O(state=synced) compares the two. A controller without the identity fetches the cluster's (it needs the key); a
    controller whose copy is older than the cluster's takes the cluster's (its old files are moved aside, never
    deleted); a new cluster gets a new identity and a new key; a controller whose identity is another cluster's, or a
    running etcd cluster whose identity nobody keeps, fails with one message saying what disagrees and what to do.
    Then the missing generated secrets are made.
  - O(state=published) raises the controller's generation when its identity changed, and writes the sealed identity
    (C(identity.vault) in O(secrets_dir), never a result) for the members in RV(targets), which do not keep it.
  - O(state=restored) puts back the identity of a sealed copy (O(sealed_file)) on the controller, its files moved
    aside first; site.yml then gives it to members that lost theirs.
  - This is controller state, like the PKI, so the files are written in check mode too.
author:
  - gardenos.cluster developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: none
    details: It writes the controller's identity files in check mode too; it changes nothing on a node.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  state:
    description:
      - V(synced) fetches, creates or checks the controller's identity; V(published) seals it for the members;
        V(restored) puts it back from O(sealed_file).
    type: str
    choices: [synced, published, restored]
    default: synced
  sealed_file:
    description:
      - With O(state=restored), a sealed copy of the identity (the etcd backup keeps one beside each snapshot,
        C(<snapshot>.identity.vault)). It is opened with the identity key and replaces the controller's identity.
    type: path
  pki_dir:
    description: The controller's PKI directory (the wiring role's C(wiring_pki_controller_dir)).
    type: path
    required: true
  secrets_dir:
    description: The controller's secrets directory (C(wiring_secrets_controller_dir)).
    type: path
    required: true
  key_file:
    description: The identity key (C(wiring_identity_key_file)). Made with a new identity.
    type: path
    required: true
  ca_file:
    description: The etcd CA certificate in O(pki_dir). A controller has an identity when it has this file.
    type: path
    required: true
  generated_secrets:
    description: The generated secrets, file name in O(secrets_dir) to length (C(wiring_generated_secrets)).
    type: dict
    default: {}
  members:
    description: What each etcd member keeps (for O(state=synced) and O(state=published)).
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description: The member's inventory name.
        type: str
        required: true
      store:
        description: The metadata it keeps (C(identity.json)), empty when it keeps none.
        type: str
      sealed:
        description: The sealed identity it keeps (C(identity.vault)), empty when it keeps none.
        type: str
      etcd_running:
        description: Whether etcd serves on its client port.
        type: bool
        default: false
"""

EXAMPLES = r"""
- name: Sync the controller's identity with the one the cluster keeps
  gardenos.cluster.identity:
    pki_dir: "{{ wiring_pki_controller_dir }}"
    secrets_dir: "{{ wiring_secrets_controller_dir }}"
    key_file: "{{ wiring_identity_key_file }}"
    ca_file: "{{ wiring_etcd_pki_controller_dir }}/{{ wiring_etcd_ca_file }}"
    generated_secrets: "{{ wiring_generated_secrets }}"
    members:
      - host: etcd-1
        store: "{{ etcd_1_metadata }}"
        sealed: "{{ etcd_1_sealed }}"
        etcd_running: true
  run_once: true
"""

RETURN = r"""
action:
  description: With O(state=synced), what was done.
  returned: state is synced
  type: str
  sample: fetch
  choices: [create, adopt, fetch, publish, in_sync]
source:
  description: The member the cluster's identity was read from.
  returned: state is synced
  type: str
  sample: etcd-1
moved_aside:
  description: The controller's directories moved aside, replaced by the cluster's identity or the restored copy.
  returned: state is synced or restored
  type: list
  elements: str
secrets_made:
  description: The names (never the values) of the generated secrets made.
  returned: state is synced
  type: list
  elements: str
key_made:
  description: Whether the identity key was made (a new cluster).
  returned: state is synced
  type: bool
identity:
  description: The controller's identity after publication.
  returned: state is published and the identity has a CA, or state is restored
  type: dict
  contains:
    cluster_id:
      description: Made once with the identity.
      type: str
    generation:
      description: Raised by every change published.
      type: int
    digest:
      description: SHA-256 of the identity's paths, modes and contents.
      type: str
metadata:
  description: The metadata the members keep beside the sealed identity (JSON text).
  returned: state is published and the identity has a CA
  type: str
targets:
  description: The members that do not keep the controller's identity.
  returned: state is published
  type: list
  elements: str
sealed_file:
  description: The sealed identity for RV(targets), on the controller.
  returned: state is published and RV(targets) is not empty
  type: str
"""
