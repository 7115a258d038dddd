# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The backup checks of the health report, from the pgbackrest role's tasks/health.yml: on the repository server
(or, without one, a member) `pgbackrest info` and `pgbackrest check`, on each Patroni member its pg_stat_archiver.
The repository answers, the newest full or differential backup is young enough, the primary archives its WAL
within the RPO, and pgBackRest's own check passes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.common import (
    as_dict,
    as_int,
    as_list,
    check,
    fix_reach,
)
from ansible_collections.gardenos.cluster.plugins.plugin_utils.pgbackrest_info import info_backups

GROUP = "backups"
# WAL segments in one WAL "log" file number (16 MiB segments: the default, and the only size of the collection).
SEGMENTS_PER_LOG = 0x100


def backup_checks(obs, settings):
    """The repository, backup age, archiving and check results; one skip without backups. The repositories are read
    on the repository server, or without one on the member that read them (every member archives there)."""
    members = obs.group("patroni")
    archiving = [host for host in members if "pgbackrest_archiver" in obs.host(host)]
    servers = obs.group("backup") or [host for host in members if "pgbackrest_info" in obs.host(host)]
    if not servers and not archiving:
        return [
            check(
                GROUP,
                "PostgreSQL backups",
                "skip",
                "no server with the service backup nor cluster.backup.s3 in servers.yaml",
            )
        ]
    if not servers:
        return [
            check(
                GROUP,
                "repository reachable",
                "fail",
                "not checked: no member read the repository",
                fix_reach(members[0]),
            )
        ]
    server = servers[0]
    seen = obs.host(server)
    if "pgbackrest_info" not in seen:
        return [
            check(GROUP, "repository reachable", "fail", "not checked: %s" % obs.why_missing(server), fix_reach(server))
        ]
    stanza, problem = _stanza(seen.get("pgbackrest_info"))
    if problem:
        return [
            check(
                GROUP,
                "repository reachable",
                "fail",
                "%s: %s" % (server, problem),
                "on %s: runuser -u postgres -- pgbackrest info; journalctl -u pgbackrest -n 50" % server,
            )
        ]
    checks = [
        check(
            GROUP,
            "repository reachable",
            "pass",
            "%s: stanza %s ok, %d backups, cipher %s"
            % (server, stanza.get("name"), len(as_list(stanza.get("backup"))), stanza.get("cipher", "?")),
        ),
        *_backup_age_checks(stanza, server, settings),
        _archiving_check(obs, settings),
        _pgbackrest_check(seen.get("pgbackrest_check"), server),
    ]
    return checks


def _stanza(info):
    """(the stanza of `pgbackrest info --output=json`, None) or (None, what is wrong)."""
    info = as_dict(info)
    if as_int(info.get("rc"), 1) != 0:
        return None, _last_error(info.get("stderr") or info.get("stdout") or info.get("msg"))
    try:
        stanzas = json.loads(info.get("stdout") or "[]")
    except ValueError:
        return None, "pgbackrest info said no JSON: %s" % (info.get("stdout") or "")[:200]
    stanza = as_dict(stanzas[0]) if stanzas else {}
    status = as_dict(stanza.get("status"))
    if not stanza or as_int(status.get("code"), 1) != 0:
        return None, "stanza %s: %s" % (stanza.get("name", "?"), status.get("message", "no stanza"))
    return stanza, None


def _last_error(text):
    lines = [line.strip() for line in ("%s" % (text or "")).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["no output"])[-1]


def _hours(seconds):
    return "%.1f h" % (seconds / 3600.0)


def _backup_age_checks(stanza, server, settings):
    """'newest full or differential backup', one per repository: WARN older than backup_warn_hours, FAIL older than
    backup_fail_hours. Only the backups of the database the stanza backs up now count: a cluster made anew cannot be
    restored from the backups of the one before."""
    usable = [
        backup
        for backup in info_backups([stanza])
        if backup["type"] in ("full", "diff") and backup["current"] and not backup["error"] and backup["stop"]
    ]
    repositories = sorted({as_int(as_dict(repo).get("key"), 1) for repo in as_list(stanza.get("repo"))} or {1})
    return [
        _backup_age_check(
            [backup for backup in usable if backup["repository"] == repository],
            "newest full or differential backup" + (" in repo%d" % repository if len(repositories) > 1 else ""),
            server,
            settings,
        )
        for repository in repositories
    ]


def _backup_age_check(backups, name, server, settings):
    now = settings["now"].timestamp()
    fix = (
        "take one: ansible-playbook playbooks/postgres_backup.yml -e postgres_backup_type=diff; then see why the "
        "timers did not: on %s, systemctl list-timers 'gardenos-pgbackrest-*'; "
        "journalctl -u 'gardenos-pgbackrest-backup@*' -n 50" % server
    )
    if not backups:
        return check(
            GROUP, name, "fail", "the repository holds no full or differential backup of the current database", fix
        )
    newest = max(backups, key=lambda b: b["stop"])
    fulls = [b for b in backups if b["type"] == "full"]
    age = now - newest["stop"]
    saw = "%s (%s) finished %s ago" % (newest["label"], newest["type"], _hours(age))
    if fulls:
        newest_full = max(fulls, key=lambda b: b["stop"])
        saw += "; newest full %s, %s ago" % (newest_full["label"], _hours(now - newest_full["stop"]))
    if age > settings["backup_fail_hours"] * 3600:
        return check(GROUP, name, "fail", saw + " (over %s h)" % settings["backup_fail_hours"], fix)
    if age > settings["backup_warn_hours"] * 3600:
        return check(GROUP, name, "warn", saw + " (over %s h)" % settings["backup_warn_hours"], fix)
    return check(GROUP, name, "pass", saw)


def _segment(wal):
    """A WAL file name's position (log * segments + segment), None when it names no segment. pg_stat_archiver's
    last archived file may be a backup history file (000000010000000000000006.00000028.backup): its segment."""
    match = re.fullmatch(
        r"[0-9A-F]{8}([0-9A-F]{8})([0-9A-F]{8})(?:\.[0-9A-F]{8}\.backup|\.partial)?", "%s" % (wal or "")
    )
    if not match:
        return None
    return int(match.group(1), 16) * SEGMENTS_PER_LOG + int(match.group(2), 16)


def _archiving_check(obs, settings):
    """'WAL archived within the RPO', from the primary's pg_stat_archiver: FAIL when archiving fails (a failure
    after the last success), WARN when completed segments wait longer than the RPO (the settings' rpo_seconds, else
    the primary's archive_timeout)."""
    primaries = []
    for host in obs.group("patroni"):
        archiver = as_dict(obs.host(host).get("pgbackrest_archiver"))
        if archiver.get("in_recovery") is False:
            primaries.append((host, archiver))
    rpo = settings["rpo_seconds"] or (as_int(as_dict(primaries[0][1]).get("archive_timeout"), 0) if primaries else 0)
    name = "WAL archived within the RPO"
    if len(primaries) != 1:
        return check(
            GROUP,
            name,
            "fail",
            "no primary answered"
            if not primaries
            else "more than one primary: %s" % ", ".join(h for h, a in primaries),
            "see the Patroni checks",
        )
    host, archiver = primaries[0]
    now = settings["now"].timestamp()
    archived_at = as_int(archiver.get("last_archived_epoch"), 0)
    failed_at = as_int(archiver.get("last_failed_epoch"), 0)
    fix = (
        "on %s: journalctl -u patroni -n 50 (PostgreSQL logs each failed archive_command); "
        "on the repository server: journalctl -u pgbackrest -n 50" % host
    )
    if failed_at and failed_at >= archived_at:
        return check(
            GROUP,
            name,
            "fail",
            "%s fails to archive %s since %s ago (last archived: %s)"
            % (
                host,
                archiver.get("last_failed_wal"),
                _hours(now - failed_at),
                archiver.get("last_archived_wal") or "none",
            ),
            fix,
        )
    current, archived = _segment(archiver.get("current_wal")), _segment(archiver.get("last_archived_wal"))
    # Completed segments wait when the one written now is past the one after the last archived.
    waiting = current is not None and archived is not None and current - archived > 1
    age = now - archived_at if archived_at else None
    saw = "%s: last archived %s%s, writing %s (RPO %s)" % (
        host,
        archiver.get("last_archived_wal") or "none",
        (" %d s ago" % age) if age is not None else "",
        archiver.get("current_wal"),
        "%d s" % rpo if rpo else "unset: archive_timeout is off",
    )
    if waiting and (age is None or age > rpo):
        return check(GROUP, name, "warn", saw + ": %d completed segments wait" % (current - archived - 1), fix)
    return check(GROUP, name, "pass", saw)


def _pgbackrest_check(result, server):
    result = as_dict(result)
    if "rc" not in result:
        return check(
            GROUP, "pgbackrest check", "fail", "not run: %s" % result.get("msg", "no result"), fix_reach(server)
        )
    if as_int(result.get("rc"), 1) != 0:
        return check(
            GROUP,
            "pgbackrest check",
            "fail",
            "%s: %s" % (server, _last_error(result.get("stdout", "") + "\n" + result.get("stderr", ""))),
            "on %s: runuser -u postgres -- pgbackrest --stanza=<scope> check" % server,
        )
    return check(GROUP, "pgbackrest check", "pass", "%s: the primary's WAL reaches the repository" % server)
