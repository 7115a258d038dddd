"""The controller's certificates (gardenos.cluster.x509_certificates), made for real in a temporary
directory and read back with cryptography."""

import datetime
import ipaddress
import stat

import pytest
from ansible_collections.gardenos.cluster.plugins.plugin_utils import x509_certificates as xc
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime(2026, 12, 3, 12, 0, 0, tzinfo=datetime.timezone.utc)


def after(days, start=NOW):
    """The expiry text of a certificate made at ``start`` for ``days`` days."""
    return (start + datetime.timedelta(days=days)).strftime("%Y%m%d%H%M%SZ")


SERVER = {
    "name": "etcd-1-server",
    "subject": {"common_name": "etcd-1"},
    "sans": ["IP:2001:db8::11", "IP:127.0.0.1", "DNS:etcd-1"],
    "usages": ["serverAuth", "clientAuth"],
}
CLIENT = {"name": "client-patroni", "subject": {"organization_name": "gardenos-patroni"}, "usages": ["clientAuth"]}


def load(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def make_ca(directory, name="ca"):
    ca = {"name": name, "subject": {"common_name": "test etcd CA"}, "is_ca": True}
    return xc.make_all(str(directory), [ca], validity="+3650d", now=NOW)


def test_a_ca_then_certificates_it_signs(tmp_path):
    assert make_ca(tmp_path) == {"made": ["ca"], "not_after": {"ca": after(3650)}, "keys_made": []}
    made = xc.make_all(str(tmp_path), [SERVER, CLIENT], ca_cert="ca.crt", ca_key="ca.key", validity="+825d", now=NOW)
    assert made["made"] == ["etcd-1-server", "client-patroni"]
    assert made["not_after"] == dict.fromkeys(made["made"], after(825))

    ca = load(tmp_path / "ca.crt")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).critical
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign

    server = load(tmp_path / "etcd-1-server.crt")
    assert server.issuer == ca.subject
    assert server.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "etcd-1"
    ca.public_key().verify(server.signature, server.tbs_certificate_bytes, ec.ECDSA(server.signature_hash_algorithm))
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    addresses = [ipaddress.ip_address("2001:db8::11"), ipaddress.ip_address("127.0.0.1")]
    assert sans.get_values_for_type(x509.IPAddress) == addresses
    assert sans.get_values_for_type(x509.DNSName) == ["etcd-1"]
    usages = list(server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert usages == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not server.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert server.not_valid_before_utc == NOW

    client = load(tmp_path / "client-patroni.crt")
    assert client.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "gardenos-patroni"
    assert not client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    with pytest.raises(x509.ExtensionNotFound):
        client.extensions.get_extension_for_class(x509.SubjectAlternativeName)

    for name in ("ca", "etcd-1-server", "client-patroni"):
        assert stat.S_IMODE((tmp_path / f"{name}.key").stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / f"{name}.crt").stat().st_mode) == 0o644


def test_making_again_keeps_the_key_and_signs_anew(tmp_path):
    # A renewal: the same key (so a member's key file never changes), a new certificate.
    make_ca(tmp_path)
    xc.make_all(str(tmp_path), [SERVER], ca_cert="ca.crt", ca_key="ca.key", validity="+825d", now=NOW)
    key = (tmp_path / "etcd-1-server.key").read_bytes()
    first = load(tmp_path / "etcd-1-server.crt")
    later = NOW + datetime.timedelta(days=800)
    made = xc.make_all(str(tmp_path), [SERVER], ca_cert="ca.crt", ca_key="ca.key", validity="+825d", now=later)
    assert (tmp_path / "etcd-1-server.key").read_bytes() == key
    renewed = load(tmp_path / "etcd-1-server.crt")
    assert renewed.serial_number != first.serial_number and renewed.public_key() == first.public_key()
    assert made["not_after"]["etcd-1-server"] == after(825, later)


def test_a_key_of_another_kind_is_made_again(tmp_path):
    make_ca(tmp_path)
    (tmp_path / "etcd-1-server.key").write_text("not a key\n")
    xc.make_all(str(tmp_path), [SERVER], ca_cert="ca.crt", ca_key="ca.key", validity="+1d", now=NOW)
    assert xc.usable_key(str(tmp_path / "etcd-1-server.key")) is not None


def test_expiry_of_existing_certificates_is_read(tmp_path):
    make_ca(tmp_path)
    made = xc.make_all(str(tmp_path), [], validity="+1d", read=["ca"], now=NOW)
    assert made == {"made": [], "not_after": {"ca": after(3650)}, "keys_made": []}


def test_a_signing_key_is_made_once_and_its_public_key_kept_in_step(tmp_path):
    made = xc.make_all(str(tmp_path), [], validity="+1d", signing_keys=["token"], now=NOW)
    assert made == {"made": [], "not_after": {}, "keys_made": ["token"]}
    key = xc.usable_key(str(tmp_path / "token.key"))
    public = serialization.load_pem_public_key((tmp_path / "token.pub").read_bytes())
    assert public.public_numbers() == key.public_key().public_numbers()
    assert stat.S_IMODE((tmp_path / "token.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "token.pub").stat().st_mode) == 0o644
    assert not (tmp_path / "token.crt").exists()

    assert xc.make_all(str(tmp_path), [], validity="+1d", signing_keys=["token"], now=NOW)["keys_made"] == []
    (tmp_path / "token.pub").write_text("lost\n")
    assert xc.make_all(str(tmp_path), [], validity="+1d", signing_keys=["token"], now=NOW)["keys_made"] == ["token"]
    assert xc.usable_key(str(tmp_path / "token.key")).private_numbers() == key.private_numbers()
    assert (
        serialization.load_pem_public_key((tmp_path / "token.pub").read_bytes()).public_numbers()
        == public.public_numbers()
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("+825d", NOW + datetime.timedelta(days=825)), ("+1w2d3h4m5s", NOW + datetime.timedelta(days=9, seconds=11045))],
)
def test_relative_validity(spec, expected):
    assert xc.not_after(spec, NOW) == expected


def test_absolute_validity():
    assert xc.not_after("20301231000000Z", NOW) == datetime.datetime(2030, 12, 31, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sans": ["URI:https://x"]}, "subject alternative name 'URI:https://x'"),
        ({"sans": ["IP:300.1.1.1"]}, "subject alternative name 'IP:300.1.1.1'"),
        ({"usages": ["codeSigning"]}, "usages ['codeSigning'] are not among"),
        ({"subject": {"country_name": "DE"}}, "subject field 'country_name'"),
    ],
)
def test_bad_entries_are_named(tmp_path, change, message):
    make_ca(tmp_path)
    with pytest.raises(xc.CertificateError, match="etcd-1-server") as raised:
        xc.make_all(str(tmp_path), [dict(SERVER, **change)], ca_cert="ca.crt", ca_key="ca.key", validity="+1d", now=NOW)
    assert message in str(raised.value)


def test_without_a_ca_nothing_is_signed(tmp_path):
    with pytest.raises(xc.CertificateError, match="no CA to sign it"):
        xc.make_all(str(tmp_path), [SERVER], validity="+1d", now=NOW)
    with pytest.raises(xc.CertificateError, match=r"the CA certificate .*ca\.crt cannot be read"):
        xc.make_all(str(tmp_path), [SERVER], ca_cert="ca.crt", ca_key="ca.key", validity="+1d", now=NOW)


def test_a_bad_validity_is_named(tmp_path):
    with pytest.raises(xc.CertificateError, match="validity 'soon'"):
        make_all_with_validity(tmp_path, "soon")
    with pytest.raises(xc.CertificateError, match=r"validity '\+'"):
        make_all_with_validity(tmp_path, "+")


def make_all_with_validity(directory, validity):
    return xc.make_all(str(directory), [{"name": "ca", "is_ca": True}], validity=validity, now=NOW)


def test_without_cryptography_the_run_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(xc, "CRYPTOGRAPHY_IMPORT_ERROR", ImportError("No module named 'cryptography'"))
    with pytest.raises(xc.CertificateError, match="pip install cryptography"):
        make_all_with_validity(tmp_path, "+1d")
    assert list(tmp_path.iterdir()) == []
