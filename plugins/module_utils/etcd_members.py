# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd members as the v3 JSON gateway gives them, and as the modules return them.

The gateway writes member IDs in decimal (an int64 as a string); etcdctl and the modules show them
in hex. Standard library and ``ansible.module_utils`` only: it runs on the managed node.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def member_id_to_hex(member_id):
    """A member ID as the gateway gives it (decimal string) -> hex, as etcdctl shows it."""
    return "%x" % int(member_id)


def member_id_to_decimal(member_id_hex):
    """A hex member ID (as etcdctl shows it) -> the decimal string the gateway wants."""
    return str(int(member_id_hex, 16))


def normalize_member(member):
    """A member from the gateway -> the shape the modules return (ID in hex, as etcdctl)."""
    return dict(
        id=member_id_to_hex(member.get("ID", "0")),
        name=member.get("name", ""),
        peer_urls=list(member.get("peerURLs") or []),
        client_urls=list(member.get("clientURLs") or []),
        is_learner=bool(member.get("isLearner", False)),
    )
