"""pgbackrest_config: the repository server keeps every repository and reaches each Patroni member over TLS; a member
reaches the repository server (or, without one, S3 itself); no secret in any of it."""

import copy
import json

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.pgbackrest import (
    pgbackrest_backups,
    pgbackrest_config,
    pgbackrest_repositories,
    pgbackrest_restore_set,
    pgbackrest_restore_target,
)

TLS = {
    "port": 8432,
    "ca_file": "/etc/pgbackrest/pki/ca.crt",
    "cert_file": "/etc/pgbackrest/pki/host.crt",
    "key_file": "/etc/pgbackrest/pki/host.key",
}
S3 = {
    "endpoint": {"url": "https://[fd78::44]:8333", "host": "fd78::44", "port": 8333},
    "bucket": "pg-backups",
    "region": "us-east-1",
    "uri_style": "path",
    "tls_ca": "cluster",
    "path": "/molecule-cluster",
    "ca_file": "/etc/pgbackrest/pki/ca.crt",
}
SETTINGS = {
    "stanza": "postgres-cluster",
    "members": {"pg-1": "fd78::41", "pg-2": "fd78::42"},
    "pg": {"path": "/var/lib/postgresql/15/main", "port": 5532, "socket_path": "/var/run/postgresql"},
    "tls": TLS,
    "retention_full_days": 30,
    "repository": {"name": "backup-1", "address": "fd78::44", "path": "/var/lib/pgbackrest"},
    "s3": S3,
}


def test_the_repository_server_keeps_both_repositories_and_reaches_every_member():
    config = pgbackrest_config(SETTINGS, "backup-1")
    glob, stanza = config["global"], config["postgres-cluster"]
    assert glob["repo1-path"] == "/var/lib/pgbackrest"
    assert (
        glob["repo2-type"] == "s3" and glob["repo2-s3-endpoint"] == "fd78::44" and glob["repo2-storage-port"] == "8333"
    )
    assert glob["repo2-storage-ca-file"] == "/etc/pgbackrest/pki/ca.crt"
    assert {glob["repo1-retention-full"], glob["repo2-retention-full"]} == {"30"}
    assert {glob["repo1-cipher-type"], glob["repo2-cipher-type"]} == {"aes-256-cbc"}
    assert glob["backup-standby"] == "y"
    assert glob["tls-server-auth"] == ["pgbackrest@pg-1=postgres-cluster", "pgbackrest@pg-2=postgres-cluster"]
    assert stanza["pg1-host"] == "fd78::41" and stanza["pg2-host"] == "fd78::42"
    assert stanza["pg2-host-type"] == "tls" and stanza["pg2-host-port"] == "8432"
    assert stanza["pg1-port"] == "5532"


def test_a_member_reaches_both_repositories_through_the_repository_server_and_holds_none():
    config = pgbackrest_config(SETTINGS, "pg-2")
    glob = config["global"]
    assert glob["repo1-host"] == glob["repo2-host"] == "fd78::44"
    assert glob["repo2-host-type"] == "tls"
    assert not any(key.endswith(("-path", "-type")) and key.startswith("repo") and "host" not in key for key in glob)
    assert glob["tls-server-address"] == "fd78::42"
    assert glob["tls-server-auth"] == ["pgbackrest@backup-1=postgres-cluster"]
    assert config["postgres-cluster"] == {
        "pg1-path": "/var/lib/postgresql/15/main",
        "pg1-port": "5532",
        "pg1-socket-path": "/var/run/postgresql",
    }


def test_without_a_repository_server_each_member_keeps_s3_and_reaches_the_others():
    settings = dict(SETTINGS, repository=None, members={"pg-1": "fd78::41", "pg-2": "fd78::42", "pg-3": "fd78::43"})
    config = pgbackrest_config(settings, "pg-2")
    glob, stanza = config["global"], config["postgres-cluster"]
    assert glob["repo1-type"] == "s3" and glob["repo1-s3-bucket"] == "pg-backups"
    assert glob["repo1-cipher-type"] == "aes-256-cbc" and "repo2-type" not in glob
    assert not any(key.startswith("repo1-host") for key in glob)
    # The leader backs up from a standby: pg1 is the member itself, the others pg2, pg3 over their TLS servers.
    assert glob["backup-standby"] == "y"
    assert "pg1-host" not in stanza and stanza["pg1-path"] == "/var/lib/postgresql/15/main"
    assert (stanza["pg2-host"], stanza["pg3-host"]) == ("fd78::41", "fd78::43")
    assert stanza["pg3-host-type"] == "tls" and stanza["pg3-port"] == "5532"
    assert glob["tls-server-address"] == "fd78::42"
    assert glob["tls-server-auth"] == ["pgbackrest@pg-1=postgres-cluster", "pgbackrest@pg-3=postgres-cluster"]


def test_a_lone_member_is_backed_up_from_the_primary():
    settings = dict(SETTINGS, members={"pg-1": "fd78::41"})
    assert pgbackrest_config(settings, "backup-1")["global"]["backup-standby"] == "n"
    alone = pgbackrest_config(dict(settings, repository=None), "pg-1")
    assert alone["global"]["backup-standby"] == "n" and "tls-server-auth" not in alone["global"]
    assert "pg2-host" not in alone["postgres-cluster"]


@pytest.mark.parametrize(
    ("settings", "host", "expected"),
    [
        (SETTINGS, "backup-1", [(1, "posix", True), (2, "s3", True)]),
        (SETTINGS, "pg-1", [(1, None, False), (2, None, False)]),
        (dict(SETTINGS, s3=None), "pg-1", [(1, None, False)]),
        (dict(SETTINGS, repository=None), "pg-1", [(1, "s3", True)]),
    ],
)
def test_the_repositories_are_numbered_from_the_configuration(settings, host, expected):
    repositories = pgbackrest_repositories(pgbackrest_config(settings, host))
    assert [(repo["number"], repo["type"], repo["kept"]) for repo in repositories] == expected


def test_no_secret_and_no_empty_value_anywhere():
    for settings, host in ((SETTINGS, "backup-1"), (SETTINGS, "pg-1"), (dict(SETTINGS, repository=None), "pg-1")):
        for section in pgbackrest_config(settings, host).values():
            for option, value in section.items():
                assert "pass" not in option and "secret" not in option and not option.endswith("-s3-key")
                assert value not in ("", None, [])


def test_the_settings_are_not_changed():
    settings = copy.deepcopy(SETTINGS)
    pgbackrest_config(settings, "backup-1")
    assert settings == SETTINGS


@pytest.mark.parametrize(
    ("settings", "host", "message"),
    [
        ({}, "pg-1", "the settings have no stanza, members, pg, tls, retention_full_days"),
        (dict(SETTINGS, members={}), "pg-1", "members must be a non-empty mapping"),
        (dict(SETTINGS, repository=None, s3=None), "pg-1", "no repository"),
        (SETTINGS, "pg-9", r"pg-9 is neither the repository server \(backup-1\) nor a Patroni member \(pg-1, pg-2\)"),
    ],
)
def test_refusals(settings, host, message):
    with pytest.raises(AnsibleFilterError, match=message):
        pgbackrest_config(settings, host)


def test_backups_from_the_primary_when_the_settings_say_so():
    assert pgbackrest_config(dict(SETTINGS, backup_standby=False), "backup-1")["global"]["backup-standby"] == "n"


INFO = [
    {
        "name": "postgres-cluster",
        "db": [
            {"id": 1, "repo-key": 1, "system-id": 7715582311210518103},
            {"id": 2, "repo-key": 1, "system-id": 7715590955212594415},
        ],
        "backup": [
            {
                "label": "20261204-020000F_20261205-020000D",
                "type": "diff",
                "timestamp": {"start": 1796436000, "stop": 1796436012},
                "info": {"size": 23066320, "repository": {"delta": 40960, "size": 2847888}},
                "archive": {"start": "000000010000000000000009", "stop": "000000010000000000000009"},
                "database": {"id": 2, "repo-key": 1},
                "error": False,
            },
            {
                "label": "20261204-020000F",
                "type": "full",
                "timestamp": {"start": 1796349600, "stop": 1796349606},
                "info": {"size": 23066320, "repository": {"delta": 2847888, "size": 2847888}},
                "archive": {"start": "000000010000000000000006", "stop": "000000010000000000000007"},
                "database": {"id": 1, "repo-key": 1},
            },
        ],
    }
]


def test_the_backups_oldest_first_with_utc_times_and_sizes():
    backups = pgbackrest_backups(json.dumps(INFO))
    assert [b["type"] for b in backups] == ["full", "diff"]
    assert backups[0]["start"] == "2026-12-04T02:00:00Z" and backups[0]["seconds"] == 6
    assert backups[1]["repository_size"] == 40960 and backups[1]["size"] == 23066320
    assert backups[0]["error"] is False and backups[0]["wal_stop"] == "000000010000000000000007"
    # The full one backs up the database before the cluster was made anew (stanza-upgrade): not the current one.
    assert [b["current"] for b in backups] == [False, True]
    assert pgbackrest_backups([{"name": "s", "status": {"code": 1}}]) == []


def test_each_repository_has_its_own_current_database():
    """An S3 repository added after a stanza-upgrade numbers its one database 1: its backups are current."""
    info = copy.deepcopy(INFO)
    info[0]["db"].append({"id": 1, "repo-key": 2, "system-id": 7715590955212594415})
    info[0]["backup"].append(
        dict(
            info[0]["backup"][1],
            label="20261205-030000F",
            database={"id": 1, "repo-key": 2},
            timestamp={"start": 1796443200, "stop": 1796443205},
        )
    )
    backups = pgbackrest_backups(info)
    assert [(b["repository"], b["current"]) for b in backups] == [(1, False), (1, True), (2, True)]


def test_the_backups_refuse_what_is_no_pgbackrest_info():
    with pytest.raises(AnsibleFilterError, match="no JSON"):
        pgbackrest_backups("ERROR: [055]")
    with pytest.raises(AnsibleFilterError, match="expects the list of stanzas"):
        pgbackrest_backups({"backup": []})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-04T23:10:00+01:00", "2026-12-04 22:10:00.000000+00:00"),
        ("2026-12-04T22:10:00Z", "2026-12-04 22:10:00.000000+00:00"),
        ("2026-12-04 22:10:00.123456+00:00", "2026-12-04 22:10:00.123456+00:00"),
    ],
)
def test_a_target_time_is_taken_to_utc(text, expected):
    assert pgbackrest_restore_target(text) == expected


@pytest.mark.parametrize(
    ("text", "message"), [("2026-12-04T22:10:00", "has no time zone"), ("yesterday", "is not an ISO 8601 time")]
)
def test_a_target_time_without_zone_or_no_time_is_refused(text, message):
    with pytest.raises(AnsibleFilterError, match=message):
        pgbackrest_restore_target(text)


def test_the_restore_starts_from_the_newest_current_backup_before_the_target():
    backups = pgbackrest_backups(INFO)
    # Only the diff is of the current database.
    assert pgbackrest_restore_set(backups) == "20261204-020000F_20261205-020000D"
    assert pgbackrest_restore_set(backups, "2026-12-05 02:00:13.000000+00:00") == "20261204-020000F_20261205-020000D"
    with pytest.raises(AnsibleFilterError, match="no backup of the current database that finished before 2026-12-05"):
        pgbackrest_restore_set(backups, "2026-12-05 02:00:11.000000+00:00")


def test_the_restore_takes_the_first_repository_that_holds_a_backup_before_the_target():
    """repo1 (the repository server's disk) before repo2 (S3), even when repo2's backup is newer."""
    repo1 = dict(pgbackrest_backups(INFO)[1], label="repo1-diff")
    repo2 = dict(repo1, label="repo2-full", repository=2, stop="2026-12-05T03:00:00Z")
    assert pgbackrest_restore_set([repo1, repo2]) == "repo1-diff"
    # repo1 holds none that finished before the target (its disk was lost and made anew): repo2's.
    assert (
        pgbackrest_restore_set([dict(repo1, stop="2026-12-05T04:00:00Z"), repo2], "2026-12-05 03:30:00.000000+00:00")
        == "repo2-full"
    )


def test_a_pgbackrest_certificate_is_no_etcd_user_and_names_its_address_for_pgbackrest():
    from ansible_collections.gardenos.cluster.plugins.filter.etcd_pki import pgbackrest_certificates

    (certificate,) = pgbackrest_certificates({"pg-1": "fd78::41"}, "-pgbackrest", "example.net")
    assert certificate["name"] == "pg-1-pgbackrest"
    # The cluster CA signs etcd's client certificates too: a CN with "@" is no etcd user's name.
    assert certificate["subject"] == {"common_name": "pgbackrest@pg-1"}
    # pgBackRest 2.45 matches the host it dials against DNS names and the CN only.
    assert certificate["sans"] == ["IP:fd78::41", "DNS:fd78::41", "DNS:pg-1", "DNS:pg-1.example.net"]
    assert certificate["usages"] == ["serverAuth", "clientAuth"]
    with pytest.raises(AnsibleFilterError, match="pgbackrest_certificates expects a mapping"):
        pgbackrest_certificates(["pg-1"], "-pgbackrest")


def test_the_object_store_certificate_is_made_only_for_the_cluster_ca_and_serves_only():
    from ansible_collections.gardenos.cluster.plugins.filter.etcd_pki import object_store_certificate

    assert object_store_certificate(None, "object-store") == []
    assert object_store_certificate(dict(S3, tls_ca="system"), "object-store") == []
    (certificate,) = object_store_certificate(S3, "object-store")
    assert certificate == {
        "name": "object-store",
        "subject": {"common_name": "fd78::44"},
        "sans": ["IP:fd78::44", "DNS:fd78::44"],
        "usages": ["serverAuth"],
    }
    named = dict(S3, endpoint={"url": "https://s3.example.net", "host": "s3.example.net", "port": 443})
    assert object_store_certificate(named, "object-store")[0]["sans"] == ["DNS:s3.example.net"]
    with pytest.raises(AnsibleFilterError, match="object_store_certificate expects"):
        object_store_certificate(dict(S3, endpoint="https://s3.example.net"), "object-store")
