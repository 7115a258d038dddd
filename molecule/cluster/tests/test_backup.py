"""PostgreSQL's backups with pgBackRest (README "Backups"): the repository on the backup server, reached by the
members over TLS with certificates of the cluster CA; the secrets where they belong and nowhere else.

The converge made the stanza and a first full backup; the drills (PITR, failover between backups) are
test_drills.py's."""

import json
import shlex

import pytest
import testinfra
from conftest import scenario_servers, url

STANZA = "postgres-cluster"
REPOSITORY = next(iter(scenario_servers("backup")))
MEMBERS = sorted(scenario_servers("patroni"))
ETCD = sorted(scenario_servers("etcd"))
REPO_HOST = testinfra.get_host(f"podman://{REPOSITORY}")
HOSTS = {name: testinfra.get_host(f"podman://{name}") for name in MEMBERS}
SECRETS = "/etc/pgbackrest/conf.d/gardenos-secrets.conf"


def pgbackrest(host, *args):
    return host.run(f"runuser -u postgres -- pgbackrest --stanza={STANZA} {shlex.join(args)}")


@pytest.fixture(scope="module")
def info():
    result = pgbackrest(REPO_HOST, "--output=json", "info")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)[0]


def test_the_repository_is_encrypted_and_holds_a_full_backup(info):
    assert info["status"]["message"] == "ok", info["status"]
    assert info["cipher"] == "aes-256-cbc"
    assert any(backup["type"] == "full" and not backup["error"] for backup in info["backup"]), info["backup"]
    # What the repository keeps is ciphertext: no backup.info in plain INI.
    raw = REPO_HOST.check_output(f"head -c 8 /var/lib/pgbackrest/backup/{STANZA}/backup.info")
    assert raw.startswith("Salted__"), raw


@pytest.mark.parametrize("name", MEMBERS)
def test_a_member_reaches_the_repository_without_its_secret(name):
    host = HOSTS[name]
    assert not host.file(SECRETS).exists
    config = host.file("/etc/pgbackrest/pgbackrest.conf").content_string
    assert "cipher-pass" not in config and "repo1-host=" in config
    # The member reads each repository (decrypted by the repository server) through pgBackRest's TLS server. One at
    # a time: pgBackRest 2.45's info over every remote repository at once misses the second one's cipher (its
    # issues 1932 and 2291), so the members' own commands name the repository.
    for repository in ("--repo=1", "--repo=2"):
        result = pgbackrest(host, repository, "--output=json", "info")
        assert result.rc == 0, result.stderr
        assert json.loads(result.stdout)[0]["status"]["message"] == "ok", (repository, result.stdout)


def test_the_secret_is_the_postgres_users_alone_on_the_repository_server():
    secrets = REPO_HOST.file(SECRETS)
    assert (secrets.user, secrets.group, secrets.mode) == ("postgres", "postgres", 0o600)
    assert "repo1-cipher-pass=" in secrets.content_string
    assert "cipher-pass" not in REPO_HOST.file("/etc/pgbackrest/pgbackrest.conf").content_string


def test_the_primary_archives_through_the_repository_server():
    result = pgbackrest(REPO_HOST, "check")
    assert result.rc == 0, result.stdout + result.stderr


def test_the_timers_are_scheduled():
    listed = REPO_HOST.check_output("systemctl list-timers --all --no-legend 'gardenos-pgbackrest-*'")
    for timer in ("full", "diff", "verify"):
        assert f"gardenos-pgbackrest-{timer}.timer" in listed, listed
        assert REPO_HOST.service(f"gardenos-pgbackrest-{timer}.timer").is_enabled


def test_a_pgbackrest_certificate_is_no_etcd_user():
    """The cluster CA signs both; etcd takes a client certificate's CN as its user, pgBackRest's CN is none."""
    member = HOSTS[MEMBERS[0]]
    endpoint = url(scenario_servers("etcd")[ETCD[0]]["ip"], 2379)
    pki = "/etc/pgbackrest/pki"
    result = member.run(
        f"ETCDCTL_API=3 etcdctl --endpoints {endpoint} --cacert {pki}/ca.crt --cert {pki}/pgbackrest.crt"
        f" --key {pki}/pgbackrest.key get --prefix /service/ --keys-only"
    )
    assert result.rc != 0, result.stdout
    assert "user name" in result.stderr or "permission denied" in result.stderr, result.stderr


# The S3 object store of servers.yaml's cluster.backup.s3 (SeaweedFS on backup-1: object_store.yml), the second
# repository, kept by the repository server like the first.
OBJECT_STORE_FILER = "http://127.0.0.1:8888/buckets/gardenos-backups/pgbackrest"


def test_the_object_store_holds_an_encrypted_copy(info):
    repositories = {repo["key"]: repo["status"]["message"] for repo in info["repo"]}
    assert repositories == {1: "ok", 2: "ok"}, info["repo"]
    current = max(db["id"] for db in info["db"] if db["repo-key"] == 2)
    assert any(
        backup["type"] == "full" and backup["database"] == {"id": current, "repo-key": 2} for backup in info["backup"]
    ), info["backup"]
    # Every file of the copy reads back with its checksum (pgBackRest's verify: backups and WAL).
    verified = pgbackrest(REPO_HOST, "--repo=2", "verify")
    assert verified.rc == 0, verified.stdout + verified.stderr
    # What the object store keeps is ciphertext, as on the repository server's disk.
    raw = REPO_HOST.check_output(f"curl -sS {OBJECT_STORE_FILER}/backup/{STANZA}/backup.info | head -c 8")
    assert raw.startswith("Salted__"), raw


def test_the_object_store_is_checked_against_the_cluster_ca():
    """pgBackRest verifies the object store's certificate: the system's CAs do not trust the cluster CA's."""
    # --io-timeout: pgBackRest retries a failed S3 request until it (60 s by default).
    result = pgbackrest(
        REPO_HOST,
        "--repo=2",
        "--repo2-storage-ca-file=/etc/ssl/certs/ca-certificates.crt",
        "--io-timeout=1",
        "--output=json",
        "info",
    )
    assert "unable to verify certificate" in result.stdout + result.stderr, result.stdout + result.stderr


def test_the_object_store_keys_are_on_the_repository_server_alone():
    assert "repo2-s3-key-secret=" in REPO_HOST.file(SECRETS).content_string
    for name, host in HOSTS.items():
        config = host.file("/etc/pgbackrest/pgbackrest.conf").content_string
        # A member archives into both repositories through the repository server.
        assert "repo2-host=" in config and "s3-key" not in config, name
