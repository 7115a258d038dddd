"""servers.yaml's backups (cluster.backup.s3 and the service 'backup'), through the gardenos.cluster.servers plugin
with a real InventoryData and DataLoader."""

import textwrap

import pytest
from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

SERVERS = """\
servers:
  db-1: {ip: 192.0.2.11, region: a, services: [etcd, patroni, haproxy]}
  db-2: {ip: 192.0.2.12, region: b, services: [etcd, patroni]}
  db-3: {ip: 192.0.2.13, region: c, services: [etcd, patroni]}
  db-4: {ip: 192.0.2.14, region: c, services: [backup]}
"""
S3 = """\
cluster:
  backup:
    s3: {endpoint: "https://[2001:db8::9]:8333", bucket: pg-backups}
"""


@pytest.fixture
def parse(tmp_path):
    def _parse(text):
        path = tmp_path / "servers.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        plugin = inventory_loader.get("gardenos.cluster.servers")
        inventory = InventoryData()
        plugin.parse(inventory, DataLoader(), str(path), cache=False)
        return inventory

    return _parse


def test_the_backup_server_joins_its_group_and_s3_gets_its_defaults(parse):
    inventory = parse(S3 + SERVERS)
    assert sorted(h.name for h in inventory.groups["backup"].get_hosts()) == ["db-4"]
    assert inventory.groups["all"].get_vars()["gardenos_cluster_backup_s3"] == {
        "endpoint": {"url": "https://[2001:db8::9]:8333", "host": "2001:db8::9", "port": 8333},
        "bucket": "pg-backups",
        "region": "us-east-1",
        "uri_style": "path",
        "tls_ca": "system",
    }


def test_s3_alone_needs_no_backup_server(parse):
    inventory = parse(S3 + SERVERS.replace("services: [backup]", "services: []"))
    assert not inventory.groups["backup"].get_hosts()
    assert inventory.groups["all"].get_vars()["gardenos_cluster_backup_s3"]["endpoint"]["port"] == 8333


def test_without_backups_nothing_is_set(parse):
    inventory = parse(SERVERS.replace("services: [backup]", "services: []"))
    assert "gardenos_cluster_backup_s3" not in inventory.groups["all"].get_vars()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            SERVERS.replace("region: b, services: [etcd, patroni]}", "region: b, services: [etcd, backup]}"),
            r"server 'db-4': field 'services': only one server may have the service 'backup' .*found 2: db-2, db-4",
        ),
        (
            SERVERS.replace(
                "region: c, services: [etcd, patroni]}", "region: c, services: [etcd, patroni, backup]}"
            ).replace("services: [backup]", "services: []"),
            r"server 'db-3': field 'services': has the services 'backup' and 'patroni': the repository of the backups "
            r"must not be a PostgreSQL server",
        ),
        (
            SERVERS.replace("patroni, ", "").replace("[etcd, patroni]", "[etcd]"),
            r"server 'db-4': field 'services': backs up PostgreSQL, and no server has the service 'patroni'",
        ),
        (
            "cluster:\n  backup: {}\n" + SERVERS.replace("services: [backup]", "services: []"),
            r"field 'cluster\.backup': says where backups go in 's3', or a server has the service 'backup'",
        ),
        ("cluster:\n  backup: [s3]\n" + SERVERS, r"field 'cluster\.backup': must be a mapping with the key 's3'"),
        ("cluster:\n  backup: {s4: {}}\n" + SERVERS, r"field 'cluster\.backup\.s4': unknown key \(allowed: s3\)"),
        (
            S3.replace("bucket: pg-backups", "bucket: PG") + SERVERS,
            r"field 'cluster\.backup\.s3\.bucket': 'PG' is not an S3 bucket name",
        ),
        (S3.replace(", bucket: pg-backups", "") + SERVERS, r"field 'cluster\.backup\.s3\.bucket': is missing"),
        (
            S3.replace("https://[2001:db8::9]:8333", "http://s3.example.com") + SERVERS,
            r"field 'cluster\.backup\.s3\.endpoint': 'http://s3\.example\.com' must be an https URL",
        ),
        (
            S3.replace("https://[2001:db8::9]:8333", "https://s3.example.com/pg-backups") + SERVERS,
            r"field 'cluster\.backup\.s3\.endpoint': '\S+' must be the object store's address only \(https://host\[:port\]\)",
        ),
        (
            S3.replace("https://[2001:db8::9]:8333", "https://s3.example.com:99999") + SERVERS,
            r"field 'cluster\.backup\.s3\.endpoint': '\S+:99999' is not a URL such as https://s3\.example\.com:9000",
        ),
        (
            S3.replace("bucket: pg-backups", "bucket: pg-backups, uri_style: virtual") + SERVERS,
            r"field 'cluster\.backup\.s3\.uri_style': unknown value 'virtual' \(allowed: path, host\)",
        ),
        (
            S3.replace("bucket: pg-backups", "bucket: pg-backups, region: 1") + SERVERS,
            r"field 'cluster\.backup\.s3\.region': must be a non-empty string, got a number",
        ),
    ],
)
def test_errors_name_the_file_the_server_and_the_field(parse, text, message):
    with pytest.raises(AnsibleParserError, match=r"servers\.yaml: " + message):
        parse(text)


def test_a_server_may_not_set_the_s3_settings_itself(parse):
    text = SERVERS.replace(
        "services: [etcd, patroni]}", "services: [etcd, patroni], vars: {gardenos_cluster_backup_s3: {}}}"
    )
    with pytest.raises(
        AnsibleParserError,
        match=r"server 'db-2': field 'vars': 'gardenos_cluster_backup_s3' is set for every server from",
    ):
        parse(text)
