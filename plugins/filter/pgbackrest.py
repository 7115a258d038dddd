# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pgBackRest's configuration of one host of a gardenos.cluster: the repository server (service `backup`) or a
Patroni member, with the repositories of servers.yaml (the repository server's disk, an S3 object store)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.plugin_utils.pgbackrest_info import info_backups

# Options every host has, whatever its part (pgBackRest's [global] section).
COMMON = {
    "log-level-console": "info",
    "log-level-file": "detail",
    "compress-type": "zst",
    "start-fast": "y",
}
_REQUIRED = ("stanza", "members", "pg", "tls", "retention_full_days")
# The CN of a host's pgBackRest certificate. The cluster CA also signs etcd's client certificates, and etcd takes a
# client certificate's CN as its user: this one must never be an etcd user name (a server named "root").
CLIENT_CN = "pgbackrest@%s"


def _tls_client(prefix, tls):
    """The options of a TLS connection to another host's pgBackRest server (prefix repo1-host or pg2-host)."""
    return {
        prefix + "-type": "tls",
        prefix + "-port": str(tls["port"]),
        prefix + "-ca-file": tls["ca_file"],
        prefix + "-cert-file": tls["cert_file"],
        prefix + "-key-file": tls["key_file"],
    }


def _tls_server(address, tls, clients, stanza):
    """The options of this host's pgBackRest server: who may connect (by certificate CN) and for which stanza."""
    return {
        "tls-server-address": address,
        "tls-server-port": str(tls["port"]),
        "tls-server-ca-file": tls["ca_file"],
        "tls-server-cert-file": tls["cert_file"],
        "tls-server-key-file": tls["key_file"],
        "tls-server-auth": ["%s=%s" % (CLIENT_CN % client, stanza) for client in clients],
    }


def _repositories(settings):
    """The repositories' options where they are kept (the repository server, or every member without one)."""
    options = {}
    retention = str(int(settings["retention_full_days"]))
    index = 0
    if settings.get("repository"):
        index += 1
        options.update(
            {
                "repo%d-path" % index: settings["repository"]["path"],
                "repo%d-retention-full-type" % index: "time",
                "repo%d-retention-full" % index: retention,
                "repo%d-cipher-type" % index: "aes-256-cbc",
            }
        )
    s3 = settings.get("s3")
    if s3:
        index += 1
        prefix = "repo%d-" % index
        options.update(
            {
                prefix + "type": "s3",
                prefix + "path": s3["path"],
                prefix + "s3-bucket": s3["bucket"],
                prefix + "s3-endpoint": s3["endpoint"]["host"],
                prefix + "storage-port": str(s3["endpoint"]["port"]),
                prefix + "s3-region": s3["region"],
                prefix + "s3-uri-style": s3["uri_style"],
                prefix + "retention-full-type": "time",
                prefix + "retention-full": retention,
                prefix + "cipher-type": "aes-256-cbc",
            }
        )
        if s3.get("ca_file"):
            options[prefix + "storage-ca-file"] = s3["ca_file"]
    return options


def _check(settings, host):
    if not isinstance(settings, dict):
        raise AnsibleFilterError("pgbackrest_config: the settings must be a mapping")
    missing = [key for key in _REQUIRED if key not in settings]
    if missing:
        raise AnsibleFilterError("pgbackrest_config: the settings have no %s" % ", ".join(missing))
    members = settings["members"]
    if not isinstance(members, Mapping) or not members:
        raise AnsibleFilterError("pgbackrest_config: members must be a non-empty mapping of name to address")
    if not settings.get("repository") and not settings.get("s3"):
        raise AnsibleFilterError("pgbackrest_config: no repository: neither a repository server nor s3")
    names = list(members)
    repository = (settings.get("repository") or {}).get("name")
    if host != repository and host not in names:
        raise AnsibleFilterError(
            "pgbackrest_config: %s is neither the repository server (%s) nor a Patroni member (%s)"
            % (host, repository or "none", ", ".join(names))
        )


def pgbackrest_config(settings, host):
    """pgbackrest.conf of ``host`` as {section: {option: value or list of values}}: [global] and [<stanza>].

    ``settings``: stanza, members ({name: address} of the Patroni members, in the order of pg1..pgN), pg ({path,
    port, socket_path}), tls ({port, ca_file, cert_file, key_file}, one certificate per host, its CN
    pgbackrest@<host>), retention_full_days, optionally backup_standby (default true), repository ({name, address,
    path}: the repository server) and s3 (gardenos_cluster_backup_s3 with path and optionally ca_file).

    With a repository server every repository is kept there: the backups run there (pgBackRest's backup command runs
    where the repositories are), from the primary or a standby among pg1..pgN (backup-standby), and the members
    reach it over TLS for archive-push, archive-get and restore; they hold no secret of the repositories. Without
    one, each member keeps the S3 repository's settings and reaches the other members as pg2..pgN over TLS: the
    backups run on the Patroni leader, from a standby among them. No password or key is here: the repository cipher
    passphrase and the S3 keys are in a file of their own in pgBackRest's include path, where the repositories are
    kept."""
    _check(settings, host)
    stanza = settings["stanza"]
    members = settings["members"]
    tls = settings["tls"]
    pg = settings["pg"]
    repository = settings.get("repository")
    config = {"global": dict(COMMON), stanza: {}}

    # From a standby when there is one to stream from, unless the settings say otherwise.
    standby = settings.get("backup_standby", True) and len(members) > 1
    if repository and host == repository["name"]:
        config["global"].update(_repositories(settings))
        config["global"]["backup-standby"] = "y" if standby else "n"
        config["global"].update(_tls_server(repository["address"], tls, sorted(members), stanza))
        config[stanza].update(_remote_members(members.values(), 1, pg, tls))
        return config

    config[stanza].update({"pg1-path": pg["path"], "pg1-port": str(pg["port"]), "pg1-socket-path": pg["socket_path"]})
    if repository:
        count = 1 + (1 if settings.get("s3") else 0)
        for index in range(1, count + 1):
            config["global"]["repo%d-host" % index] = repository["address"]
            config["global"].update(_tls_client("repo%d-host" % index, tls))
        config["global"].update(_tls_server(members[host], tls, [repository["name"]], stanza))
        return config

    # No repository server: each member keeps the S3 repository's settings and takes the backups when it leads,
    # from a standby among the other members (pg2..pgN), which each reach the others' TLS servers.
    others = sorted(name for name in members if name != host)
    config["global"].update(_repositories(settings))
    config["global"]["backup-standby"] = "y" if standby else "n"
    if others:
        config["global"].update(_tls_server(members[host], tls, others, stanza))
        config[stanza].update(_remote_members([members[name] for name in others], 2, pg, tls))
    return config


def _remote_members(addresses, first, pg, tls):
    """The options of the members at ``addresses`` as pg<first>.., reached over their pgBackRest TLS servers."""
    options = {}
    for index, address in enumerate(addresses, start=first):
        options.update(
            {
                "pg%d-host" % index: address,
                "pg%d-path" % index: pg["path"],
                "pg%d-port" % index: str(pg["port"]),
                "pg%d-socket-path" % index: pg["socket_path"],
            }
        )
        options.update(_tls_client("pg%d-host" % index, tls))
    return options


def pgbackrest_repositories(config):
    """The repositories of a host's configuration (pgbackrest_config's), by number: [{number, type, kept}]; type
    posix or s3 where the host keeps the repository (kept), none where it reaches it through the repository
    server."""
    options = config.get("global", {}) if isinstance(config, Mapping) else {}
    numbers = sorted({int(key[4:].split("-", 1)[0]) for key in options if re.match(r"repo[0-9]+-(path|host)$", key)})
    repositories = []
    for number in numbers:
        kept = "repo%d-host" % number not in options
        kind = options.get("repo%d-type" % number, "posix") if kept else None
        repositories.append({"number": number, "type": kind, "kept": kept})
    return repositories


def _utc(epoch):
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def pgbackrest_backups(info):
    """The backups of `pgbackrest info --output=json` (its parsed output, or its text), oldest first, each
    {label, type, start, stop (UTC, ISO 8601), seconds, size, repository_size (bytes), wal_start, wal_stop, error,
    repository (its number, 1 for repo1), current (a backup of the database the stanza backs up now)}."""
    if isinstance(info, str):
        try:
            info = json.loads(info or "[]")
        except ValueError as exc:
            raise AnsibleFilterError("pgbackrest_backups: pgbackrest info's output is no JSON: %s" % exc) from None
    if not isinstance(info, list):
        raise AnsibleFilterError("pgbackrest_backups expects the list of stanzas of pgbackrest info --output=json")
    backups = [
        dict(backup, start=_utc(backup["start"]), stop=_utc(backup["stop"]), seconds=backup["stop"] - backup["start"])
        for backup in info_backups(info)
    ]
    return sorted(backups, key=lambda backup: (backup["stop"], backup["label"] or ""))


def pgbackrest_restore_target(value):
    """A point-in-time recovery's target time, ISO 8601 with its zone ("2026-12-04T23:10:00+01:00", "...Z"), as
    PostgreSQL's recovery_target_time takes it, in UTC ("2026-12-04 22:10:00.000000+00:00"). A time without a zone
    is refused: whose 23:10 it is must not be a guess."""
    text = ("%s" % (value or "")).strip()
    try:
        when = datetime.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise AnsibleFilterError(
            "pgbackrest_restore_target: '%s' is not an ISO 8601 time such as 2026-12-04T23:10:00+00:00" % text
        ) from None
    if when.tzinfo is None:
        raise AnsibleFilterError(
            "pgbackrest_restore_target: '%s' has no time zone: add one, such as +00:00 or Z (2026-12-04T23:10:00Z)"
            % text
        )
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


def pgbackrest_restore_set(backups, target=""):
    """The label of the backup a restore to ``target`` (pgbackrest_restore_target's form; empty: the latest) starts
    from: the newest backup of the current database that finished before the target, in the first repository (by
    number: the repository server's disk before the S3 object store) that holds one. ``backups``:
    pgbackrest_backups' list."""
    usable = [backup for backup in backups or [] if backup.get("current") and not backup.get("error")]
    if target:
        limit = datetime.datetime.strptime(target, "%Y-%m-%d %H:%M:%S.%f+00:00").strftime("%Y-%m-%dT%H:%M:%SZ")
        usable = [backup for backup in usable if backup["stop"] < limit]
    if not usable:
        raise AnsibleFilterError(
            "pgbackrest_restore_set: the repository holds no backup of the current database that finished before %s"
            % (target or "now")
        )
    first = min(backup.get("repository", 1) for backup in usable)
    usable = [backup for backup in usable if backup.get("repository", 1) == first]
    return max(usable, key=lambda backup: (backup["stop"], backup["label"]))["label"]


class FilterModule(object):
    def filters(self):
        return {
            "pgbackrest_backups": pgbackrest_backups,
            "pgbackrest_config": pgbackrest_config,
            "pgbackrest_repositories": pgbackrest_repositories,
            "pgbackrest_restore_set": pgbackrest_restore_set,
            "pgbackrest_restore_target": pgbackrest_restore_target,
        }
