"""etcd_pki filters: the etcd role's certificates, their digests and which to make again.

Existing controllers hold certificates.json with the digests the role's former Jinja computed. The
role's variables, templated by Ansible with these filters, must give the same certificate entries
and byte-identical digests: otherwise an upgrade re-issues every certificate and restarts etcd.
The former expressions (fixtures/etcd_vars_before_filters.yml) are templated by Ansible's own Templar
beside the role's vars/main.yml as it is now, on the same variables.
"""

import json
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.etcd_pki import (
    etcd_certificate_digests,
    etcd_certificate_records,
    etcd_certificates_without_expiry,
    etcd_client_certificates,
    etcd_member_certificates,
    etcd_stale_certificates,
)

from .role_templating import load, role_variables, template

# roles/etcd/vars/main.yml's programs before the filters, verbatim.
FORMER_VARS = Path(__file__).parent / "fixtures" / "etcd_vars_before_filters.yml"

CA_CERTIFICATE = """\
-----BEGIN CERTIFICATE-----
MIIBkTCCATegAwIBAgIUFakeCaForTheDigestTestOnly0wCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTd2lyaW5nLXRlc3QgZXRjZCBDQTAeFw0yNjEyMDIwMDAwMDBa
-----END CERTIFICATE-----
"""

# Members as servers.yaml gives them: IPv4, IPv6 (compressed, full, mapped), a mixed-case name
# (Jinja's sort ignores case).
MEMBERS = {
    "node-6": "2001:db8::16",
    "node-4": "192.0.2.14",
    "Node-5": "2001:0db8:0000:0000:0000:0000:0000:0015",
    "node-7": "::ffff:192.0.2.17",
}

# roles/etcd/vars/main.yml as it was on f77e296, for MEMBERS, domain example.org, validity +825d
# and CA_CERTIFICATE: node-4-server's digest (computed by the former template).
FORMER_NODE_4_SERVER_DIGEST = "a0cec3d9beda5b6e050abf59b386736b3add7ad4125d87c03cb1d44a0878d008"


def etcd_variables(tmp_path, **overrides):
    """The wiring and etcd roles' defaults and vars, with an inventory of MEMBERS and a CA in the controller PKI."""
    pki = tmp_path / "pki" / "etcd"
    pki.mkdir(parents=True, exist_ok=True)
    (pki / "ca.crt").write_text(CA_CERTIFICATE)
    inventory = {
        "inventory_dir": str(tmp_path),
        "inventory_hostname": "node-4",
        "groups": {"all": list(MEMBERS), "etcd": list(MEMBERS)},
        "hostvars": {host: {"gardenos_ip": ip} for host, ip in MEMBERS.items()},
        "gardenos_cluster_domain": "example.org",
    }
    inventory.update(overrides)
    return role_variables("wiring/defaults", "wiring/vars", "etcd/defaults", "etcd/vars", **inventory)


def former(loader, variables):
    """The same variables with the former programs in place of the filters."""
    return dict(variables, **load(loader, FORMER_VARS))


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"gardenos_cluster_domain": "cluster.example.net", "etcd_cert_validity": "+365d"},
        # Non-ASCII subjects: to_json escapes them, and so must the filter.
        {"_etcd_client_certs": {"admin": {"common_name": "etcd-ädmin"}, "patroni": {"organization_name": "gärden"}}},
        {"groups": {"etcd": ["node-6"]}},
    ],
    ids=["defaults", "domain-and-validity", "non-ascii-subjects", "one-member"],
)
def test_the_role_gives_the_former_entries_and_digests(tmp_path, overrides):
    loader, variables = etcd_variables(tmp_path, **overrides)
    old = former(loader, variables)
    for name in ("_etcd_pki_certificates", "_etcd_pki_digests"):
        expression = "{{ " + name + " | to_json }}"
        assert template(loader, variables, expression) == template(loader, old, expression), name
    digests = template(loader, variables, "{{ _etcd_pki_digests }}")
    certificates = template(loader, variables, "{{ _etcd_pki_certificates }}")
    clients = variables["_etcd_client_certs"]
    assert len(certificates) == 2 * len(variables["groups"]["etcd"]) + len(clients)
    assert list(digests) == [certificate["name"] for certificate in certificates]


def test_without_a_domain_the_entries_and_digests_are_the_former_ones(tmp_path):
    loader, variables = etcd_variables(tmp_path)
    del variables["gardenos_cluster_domain"]
    old = former(loader, variables)
    now = template(loader, variables, "{{ _etcd_pki_digests | to_json }}")
    assert now == template(loader, old, "{{ _etcd_pki_digests | to_json }}")
    assert "example.org" not in template(loader, variables, "{{ _etcd_pki_certificates | to_json }}")


def test_a_digest_recorded_by_the_former_template_still_matches(tmp_path):
    """A fixed value: no change here or in Ansible's to_json may move it unnoticed."""
    loader, variables = etcd_variables(tmp_path)
    assert template(loader, variables, "{{ _etcd_pki_digests }}")["node-4-server"] == FORMER_NODE_4_SERVER_DIGEST


def test_stale_certificates_are_the_former_ones(tmp_path):
    loader, variables = etcd_variables(tmp_path)
    digests = template(loader, variables, "{{ _etcd_pki_digests }}")
    pki = tmp_path / "pki" / "etcd"
    # node-4's server certificate is made and recorded; node-4-peer is recorded with another digest;
    # client-admin is recorded but its key is missing; the rest were never made.
    for name in ("node-4-server", "node-4-peer", "client-admin"):
        (pki / f"{name}.crt").write_text("certificate")
    for name in ("node-4-server", "node-4-peer"):
        (pki / f"{name}.key").write_text("key")
    recorded = dict(digests, **{"node-4-peer": "0" * 64})
    for name in ("node-6-server", "node-6-peer", "client-k3s"):
        del recorded[name]
    (pki / "certificates.json").write_text(json.dumps(recorded))
    expression = "{{ _etcd_pki_stale_certificates | map(attribute='name') }}"
    stale = template(loader, variables, expression)
    assert stale == template(loader, former(loader, variables), expression)
    assert "node-4-server" not in stale
    assert {"node-4-peer", "client-admin", "node-6-server", "client-k3s"} <= set(stale)


def test_member_entries_by_host_name():
    entries = etcd_member_certificates({"node-2": "2001:db8::12", "node-1": "192.0.2.11"}, "example.org")
    assert [entry["name"] for entry in entries] == ["node-1-server", "node-1-peer", "node-2-server", "node-2-peer"]
    assert entries[2] == {
        "name": "node-2-server",
        "subject": {"common_name": "node-2"},
        "sans": ["IP:2001:db8::12", "IP:127.0.0.1", "DNS:localhost", "DNS:node-2", "DNS:node-2.example.org"],
        "usages": ["serverAuth", "clientAuth"],
    }
    assert entries[3]["sans"] == ["IP:2001:db8::12", "DNS:node-2", "DNS:node-2.example.org"]
    assert etcd_member_certificates({"node-1": "192.0.2.11"})[1]["sans"] == ["IP:192.0.2.11", "DNS:node-1"]


def test_client_entries_are_named_after_their_files():
    files = {"admin": {"cert": "client-admin.crt", "key": "client-admin.key"}, "k3s": {"cert": "k3s.crt.crt"}}
    entries = etcd_client_certificates({"k3s": {"common_name": "k3s"}, "admin": {"common_name": "etcd-admin"}}, files)
    assert entries == [
        {"name": "k3s.crt", "subject": {"common_name": "k3s"}, "sans": [], "usages": ["clientAuth"]},
        {"name": "client-admin", "subject": {"common_name": "etcd-admin"}, "sans": [], "usages": ["clientAuth"]},
    ]
    with pytest.raises(AnsibleFilterError, match="no certificate file named for client 'patroni'"):
        etcd_client_certificates({"patroni": {}}, files)


def test_a_digest_follows_the_entry_the_validity_and_the_ca():
    entry = etcd_member_certificates({"node-1": "192.0.2.11"})[:1]
    digest = etcd_certificate_digests(entry, "+825d", "CA")["node-1-server"]
    assert etcd_certificate_digests(entry, "+825d", "CA")["node-1-server"] == digest
    assert etcd_certificate_digests(entry, "+365d", "CA")["node-1-server"] != digest
    assert etcd_certificate_digests(entry, "+825d", "another CA")["node-1-server"] != digest
    moved = etcd_member_certificates({"node-1": "192.0.2.99"})[:1]
    assert etcd_certificate_digests(moved, "+825d", "CA")["node-1-server"] != digest


def test_a_certificate_is_stale_without_its_files_or_its_recorded_digest(tmp_path):
    entries = etcd_client_certificates({"admin": {}}, {"admin": {"cert": "client-admin.crt"}})
    digests = {"client-admin": "d"}
    assert etcd_stale_certificates(entries, digests, digests, str(tmp_path)) == entries
    (tmp_path / "client-admin.crt").write_text("c")
    (tmp_path / "client-admin.key").write_text("k")
    assert etcd_stale_certificates(entries, digests, digests, str(tmp_path)) == []
    assert etcd_stale_certificates(entries, digests, {}, str(tmp_path)) == entries
    assert etcd_stale_certificates(entries, digests, {"client-admin": "e"}, str(tmp_path)) == entries


def made_client_admin(tmp_path):
    """client-admin's entry and digests, its files in tmp_path."""
    entries = etcd_client_certificates({"admin": {}}, {"admin": {"cert": "client-admin.crt"}})
    (tmp_path / "client-admin.crt").write_text("c")
    (tmp_path / "client-admin.key").write_text("k")
    return entries, {"client-admin": "d"}


@pytest.mark.parametrize(
    ("not_after", "stale"),
    [
        ("20270131120000Z", False),  # 60 days and 1 second left: not yet
        ("20270131115959Z", True),  # 59 days 23:59:59 left: renewed
        ("20261201120000Z", True),  # expired
        (None, False),  # recorded before expiries were kept: known once pki.yml has read it
    ],
)
def test_a_certificate_is_stale_within_the_renewal_window(tmp_path, not_after, stale):
    entries, digests = made_client_admin(tmp_path)
    recorded = {"client-admin": {"digest": "d", "not_after": not_after}}
    due = etcd_stale_certificates(
        entries, digests, recorded, str(tmp_path), renew_before_days=60, now="20261202120000Z"
    )
    assert due == (entries if stale else [])


def test_a_record_of_a_digest_alone_still_counts(tmp_path):
    """certificates.json as the role wrote it before expiries were kept: no certificate is re-issued."""
    entries, digests = made_client_admin(tmp_path)
    assert etcd_stale_certificates(entries, digests, {"client-admin": "d"}, str(tmp_path), renew_before_days=60) == []
    assert etcd_certificates_without_expiry(
        {"client-admin": "d", "node-1-peer": {"digest": "e", "not_after": None}}
    ) == [
        "client-admin",
        "node-1-peer",
    ]
    assert etcd_certificates_without_expiry({"client-admin": {"digest": "d", "not_after": "20290101000000Z"}}) == []


def test_renew_all_re_issues_every_certificate(tmp_path):
    entries, digests = made_client_admin(tmp_path)
    recorded = {"client-admin": {"digest": "d", "not_after": "20290101000000Z"}}
    assert etcd_stale_certificates(entries, digests, recorded, str(tmp_path), renew_before_days=60) == []
    assert etcd_stale_certificates(entries, digests, recorded, str(tmp_path), renew_all=True) == entries


def test_records_keep_each_certificate_s_digest_and_expiry():
    digests = {"client-admin": "d2", "node-1-peer": "p", "node-1-server": "s"}
    recorded = {"client-admin": "d1", "node-1-peer": {"digest": "p", "not_after": "20290101000000Z"}}
    # client-admin was just made, node-1-server's expiry read; node-1-peer keeps its record.
    expiries = {"client-admin": "20290301000000Z", "node-1-server": "20281231000000Z"}
    assert etcd_certificate_records(digests, recorded, expiries) == {
        "client-admin": {"digest": "d2", "not_after": "20290301000000Z"},
        "node-1-peer": {"digest": "p", "not_after": "20290101000000Z"},
        "node-1-server": {"digest": "s", "not_after": "20281231000000Z"},
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: etcd_member_certificates(["node-1"]), "mapping of etcd host names"),
        (lambda: etcd_client_certificates([], {}), "mapping of clients"),
        (lambda: etcd_certificate_digests({}, "+1d", ""), "list of certificate entries"),
        (lambda: etcd_stale_certificates([], [], {}, "/"), "as mappings"),
        (lambda: etcd_stale_certificates([], {}, {}, "/", renew_before_days="soon"), "number of days"),
        (lambda: etcd_stale_certificates([], {}, {}, "/", now="today"), "not a time"),
        (lambda: etcd_certificates_without_expiry([]), "as a mapping"),
        (lambda: etcd_certificate_records({}, {}, []), "as mappings"),
        (lambda: etcd_certificate_records({"a": "d"}, {}, {"a": "2029"}), "not a time"),
    ],
)
def test_wrong_input_is_refused(call, message):
    with pytest.raises(AnsibleFilterError, match=message):
        call()
