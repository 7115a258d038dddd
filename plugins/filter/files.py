# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which files of a set need installing, from one ``find`` of the target directory.

Copying n files with ``ansible.builtin.copy`` in a loop costs n remote module runs on every
converge, even when nothing changed (the etcd certificates: 7 a host, the slowest idempotent
task). One ``ansible.builtin.find`` with ``get_checksum`` reads them all; this filter keeps the
files that are missing or differ in content, mode, owner or group, so the copy loop runs only
for those.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError


def files_to_install(wanted, installed):
    """The items of ``wanted`` whose file in ``installed`` is missing or differs.

    ``wanted``: mappings with ``dest`` (absolute path), ``checksum`` (SHA-1 of the content, as
    ``find`` reports it), ``mode`` (octal string such as ``"0600"``), ``owner`` and ``group``.
    ``installed``: the ``files`` list of ``ansible.builtin.find`` (``get_checksum: true``), or
    the whole registered result of it.
    """
    if isinstance(installed, dict):
        installed = installed.get("files", [])
    if not isinstance(wanted, list) or not isinstance(installed, list):
        raise AnsibleFilterError("files_to_install expects a list of wanted files and find's files")
    found = {item.get("path"): item for item in installed if isinstance(item, dict)}
    stale = []
    for item in wanted:
        missing = [key for key in ("dest", "checksum", "mode", "owner", "group") if key not in item]
        if missing:
            raise AnsibleFilterError("files_to_install: a wanted file lacks %s: %r" % (", ".join(missing), item))
        current = found.get(item["dest"])
        if current is None or (
            current.get("checksum") != item["checksum"]
            or int(str(current.get("mode", "0")), 8) != int(str(item["mode"]), 8)
            or current.get("pw_name") != item["owner"]
            or current.get("gr_name") != item["group"]
        ):
            stale.append(item)
    return stale


class FilterModule(object):
    def filters(self):
        return {"files_to_install": files_to_install}
