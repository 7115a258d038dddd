# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PostgreSQL's backups in a servers.yaml, for the gardenos.cluster.servers inventory plugin: `cluster.backup`
(an S3-compatible object store) and the server with the service `backup` (pgBackRest's repository server).

The checks take `error(msg, server=None, field=None)`, which returns the exception to raise."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from ansible_collections.gardenos.cluster.plugins.plugin_utils.servers_fields import (
    check_keys,
    choices,
    describe,
    is_valid_host_name,
)

BACKUP_FIELDS = ("s3",)
S3_FIELDS = ("endpoint", "bucket", "region", "uri_style", "tls_ca")
S3_DEFAULTS = {"region": "us-east-1", "uri_style": "path", "tls_ca": "system"}
# path: https://endpoint/bucket/... (SeaweedFS, MinIO); host: https://bucket.endpoint/... (AWS S3)
S3_URI_STYLES = ("path", "host")
# whom the endpoint's certificate is checked against: the system's CAs, or the cluster's own CA (an object store the
# cluster's PKI issued a certificate to)
S3_TLS_CAS = ("system", "cluster")
# S3's bucket names: 3 to 63 lowercase letters, digits, '.' and '-', a letter or digit first and last
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def check_backup(backup, servers, error):
    """cluster.backup and the `backup` servers, given the checked servers: {} when neither is there, else
    {"server": the backup server or None, "s3": the checked S3 settings or None}."""
    repository_servers = sorted(name for name, server in servers.items() if "backup" in server["services"])
    if len(repository_servers) > 1:
        raise error(
            "only one server may have the service 'backup' (pgBackRest's repository), found %d: %s"
            % (len(repository_servers), ", ".join(repository_servers)),
            server=repository_servers[1],
            field="services",
        )
    if backup is None and not repository_servers:
        return {}
    for name in repository_servers:
        if "patroni" in servers[name]["services"]:
            # A repository on a member would fail with it: the backups must outlive the database servers.
            raise error(
                "has the services 'backup' and 'patroni': the repository of the backups must not be a PostgreSQL "
                "server (it would be lost with it)",
                server=name,
                field="services",
            )
    if backup is not None and not isinstance(backup, Mapping):
        raise error("must be a mapping with the key 's3', got %s" % describe(backup), field="cluster.backup")
    check_keys(backup or {}, BACKUP_FIELDS, error, field="cluster.backup")
    s3 = (backup or {}).get("s3")
    if not repository_servers and s3 is None:
        raise error(
            "says where backups go in 's3', or a server has the service 'backup': neither is there",
            field="cluster.backup",
        )
    if not any("patroni" in server["services"] for server in servers.values()):
        where = dict(server=repository_servers[0], field="services") if repository_servers else {}
        raise error(
            "backs up PostgreSQL, and no server has the service 'patroni'", **(where or dict(field="cluster.backup"))
        )
    return {"server": repository_servers[0] if repository_servers else None, "s3": _check_s3(s3, error)}


def _check_s3(s3, error):
    if s3 is None:
        return None
    field = "cluster.backup.s3"
    if not isinstance(s3, Mapping):
        raise error("must be a mapping with the keys %s, got %s" % (", ".join(S3_FIELDS), describe(s3)), field=field)
    check_keys(s3, S3_FIELDS, error, field=field)
    for key in ("endpoint", "bucket"):
        if key not in s3:
            raise error("is missing", field="%s.%s" % (field, key))
    checked = dict(S3_DEFAULTS, **s3)
    for key, value in checked.items():
        if not isinstance(value, str) or not value:
            raise error("must be a non-empty string, got %s" % describe(value), field="%s.%s" % (field, key))
    checked["endpoint"] = _check_endpoint(checked["endpoint"], error, field + ".endpoint")
    if not _BUCKET.fullmatch(checked["bucket"]) or ".." in checked["bucket"]:
        raise error(
            "'%s' is not an S3 bucket name (3 to 63 lowercase letters, digits, '.' and '-', a letter or digit "
            "first and last)" % checked["bucket"],
            field=field + ".bucket",
        )
    for key, allowed in (("uri_style", S3_URI_STYLES), ("tls_ca", S3_TLS_CAS)):
        if checked[key] not in allowed:
            raise error(
                "unknown value '%s'%s" % (checked[key], choices(checked[key], allowed)), field=field + "." + key
            )
    return checked


def _check_endpoint(endpoint, error, field):
    """An https URL of a host and optionally a port, nothing else: pgBackRest's repo-s3-endpoint and -port."""
    try:
        url = urlsplit(endpoint)
        port = url.port
    except ValueError:
        raise error("'%s' is not a URL such as https://s3.example.com:9000" % endpoint, field=field) from None
    if url.scheme != "https":
        raise error(
            "'%s' must be an https URL (pgBackRest speaks TLS to S3), such as https://s3.example.com" % endpoint,
            field=field,
        )
    host = url.hostname or ""
    if not host or (not is_valid_host_name(host) and not _is_ip(host)):
        raise error("'%s' has no valid host name or address" % endpoint, field=field)
    if url.path not in ("", "/") or url.query or url.fragment or url.username or url.password:
        raise error(
            "'%s' must be the object store's address only (https://host[:port]): the bucket goes in 'bucket', "
            "credentials in the cluster's secrets" % endpoint,
            field=field,
        )
    return {"url": "https://" + url.netloc, "host": host, "port": port or 443}


def _is_ip(host):
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
