"""served_certificates' checks of its input and its reports of what went wrong (served certificates
of real etcd members: tests/integration/test_etcd_info.py)."""

import datetime
import hashlib
import ssl

import pytest
from ansible_collections.gardenos.cluster.plugins.module_utils import served_certificates as sc
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_gateway import EtcdClient
from certificates import self_signed_pem


def test_a_certificate_file_is_fingerprinted_in_its_der_form(tmp_path):
    pem = self_signed_pem(datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)).decode()
    path = tmp_path / "server.crt"
    # A key after the certificate (a combined file) is not part of it.
    path.write_text(pem + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    assert sc.certificate_file_sha256(str(path)) == hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def test_reports_say_why_no_certificate_was_read(tmp_path):
    not_pem = tmp_path / "empty.crt"
    not_pem.write_text("nothing here\n")
    client = EtcdClient(["https://127.0.0.1:1"], timeout=1)
    reports = sc.served_certificate_reports(
        client,
        [{"url": "http://127.0.0.1:1"}, {"url": "https://127.0.0.1:1", "certificate": str(not_pem)}],
    )
    assert [report["url"] for report in reports] == ["http://127.0.0.1:1", "https://127.0.0.1:1"]
    assert "is read from an https:// URL" in reports[0]["error"]
    # The URL is tried first: nothing listens on port 1.
    assert reports[1]["sha256"] is None and reports[1]["serves_certificate"] is None
    assert "refused" in reports[1]["error"]


def test_a_file_without_a_certificate_is_named(tmp_path):
    not_pem = tmp_path / "empty.crt"
    not_pem.write_text("nothing here\n")
    with pytest.raises(sc.GardenosClusterError) as raised:
        sc.certificate_file_sha256(str(not_pem))
    assert str(not_pem) in raised.value.msg and "no PEM certificate" in raised.value.msg
