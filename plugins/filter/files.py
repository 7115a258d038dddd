# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which files of a set need installing, from one ``find`` of the target directory.

Copying n files with ``ansible.builtin.copy`` in a loop costs n remote module runs on every
converge, even when nothing changed (the etcd certificates: 7 a host, the slowest idempotent
task). One ``ansible.builtin.find`` with ``get_checksum`` reads them all; this filter keeps the
files that are missing or differ in content, mode, owner or group, so the copy loop runs only
for those. Filters run on the controller: the SHA-1 of each source file is read here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

from ansible.errors import AnsibleFilterError


def _sha1(path):
    """The SHA-1 of a controller file, as ``find`` reports the installed copy's."""
    digest = hashlib.sha1()  # noqa: S324  (find's checksum, compared, not a security measure)
    try:
        with open(path, "rb") as source:
            for block in iter(lambda: source.read(65536), b""):
                digest.update(block)
    except OSError as exc:
        raise AnsibleFilterError("files_to_install: cannot read %s: %s" % (path, exc.strerror)) from exc
    return digest.hexdigest()


def files_to_install(wanted, installed, *, src_dir, dest_dir, owner, group):
    """The files of ``wanted`` that are missing on the host or differ from their source.

    ``wanted``: mappings with ``src`` (a file in ``src_dir`` on the controller), ``dest`` (its
    name in ``dest_dir`` on the host) and ``mode`` (octal string such as ``"0600"``).
    ``installed``: the ``files`` list of ``ansible.builtin.find`` (``get_checksum: true``) of
    ``dest_dir``, or the whole registered result of it. Returns, in their order, the files to
    copy: ``src`` and ``dest`` as full paths, ``mode``, ``owner``, ``group`` and ``checksum``.
    """
    if isinstance(installed, dict):
        installed = installed.get("files", [])
    if not isinstance(wanted, list) or not isinstance(installed, list):
        raise AnsibleFilterError("files_to_install expects a list of wanted files and find's files")
    found = {os.path.normpath(item.get("path", "")): item for item in installed if isinstance(item, dict)}
    stale = []
    for item in wanted:
        missing = [key for key in ("src", "dest", "mode") if key not in item]
        if missing:
            raise AnsibleFilterError("files_to_install: a wanted file lacks %s: %r" % (", ".join(missing), item))
        file = dict(
            item,
            src=os.path.join(src_dir, item["src"]),
            dest=os.path.normpath(os.path.join(dest_dir, item["dest"])),
            owner=owner,
            group=group,
        )
        file["checksum"] = _sha1(file["src"])
        current = found.get(file["dest"])
        if current is None or (
            current.get("checksum") != file["checksum"]
            or int(str(current.get("mode", "0")), 8) != int(str(file["mode"]), 8)
            or current.get("pw_name") != owner
            or current.get("gr_name") != group
        ):
            stale.append(file)
    return stale


class FilterModule(object):
    def filters(self):
        return {"files_to_install": files_to_install}
