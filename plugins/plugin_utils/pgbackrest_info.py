# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The backups of `pgbackrest info --output=json`, parsed once for the pgbackrest_backups filter and the health
report's backup checks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _number(value, default=0):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def info_backups(stanzas):
    """The backups of the parsed stanzas, in pgBackRest's order, each {label, type, start, stop (epoch seconds),
    size, repository_size (bytes), wal_start, wal_stop, error, repository (its number: 1 for repo1), current (a
    backup of the database the stanza backs up now in that repository)}."""
    backups = []
    for stanza in map(_mapping, stanzas if isinstance(stanzas, list) else []):
        # The database the stanza backs up now in each repository (a cluster made anew, its system-id new, is a new
        # one after pgBackRest's stanza-upgrade; each repository numbers its own): older ones' backups cannot serve it.
        current = {}
        for db in map(_mapping, stanza.get("db") or []):
            repository = _number(db.get("repo-key"), 1)
            current[repository] = max(current.get(repository, 0), _number(db.get("id")))
        for backup in map(_mapping, stanza.get("backup") or []):
            timestamp = _mapping(backup.get("timestamp"))
            sizes = _mapping(backup.get("info"))
            archive = _mapping(backup.get("archive"))
            database = _mapping(backup.get("database"))
            repository = _number(database.get("repo-key"), 1)
            backups.append(
                {
                    "label": backup.get("label"),
                    "type": backup.get("type"),
                    "start": _number(timestamp.get("start")),
                    "stop": _number(timestamp.get("stop")),
                    "size": _number(sizes.get("size")),
                    "repository_size": _number(_mapping(sizes.get("repository")).get("delta")),
                    "wal_start": archive.get("start"),
                    "wal_stop": archive.get("stop"),
                    "error": bool(backup.get("error")),
                    "repository": repository,
                    "current": database.get("id") is not None
                    and _number(database.get("id")) == current.get(repository),
                }
            )
    return backups
