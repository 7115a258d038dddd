"""k3s_control_plane_taints: which taints the k3s_server role removes."""

import json
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.k3s import (
    k3s_control_plane_taints,
    k3s_join_token,
    k3s_token_credential,
)

NODES = {
    "items": [
        {
            "metadata": {"name": "server-a"},
            "spec": {
                "taints": [
                    {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                    {"key": "node-role.kubernetes.io/master", "value": "true", "effect": "NoExecute"},
                    {"key": "node-role.kubernetes.io/control-plane", "effect": "PreferNoSchedule"},
                    {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                ]
            },
        },
        {"metadata": {"name": "server-b"}, "spec": {}},
        {"metadata": {"name": "agent-c"}, "spec": {"taints": None}},
    ]
}


def test_only_blocking_control_plane_taints_are_returned():
    assert k3s_control_plane_taints(json.dumps(NODES)) == [
        {"node": "server-a", "key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
        {"node": "server-a", "key": "node-role.kubernetes.io/master", "effect": "NoExecute"},
    ]


def test_a_parsed_node_list_reads_the_same():
    assert k3s_control_plane_taints(NODES) == k3s_control_plane_taints(json.dumps(NODES))


@pytest.mark.parametrize("nothing", ["", "  \n", {"items": []}, {"kind": "NodeList", "items": None}])
def test_no_nodes_no_taints(nothing):
    assert k3s_control_plane_taints(nothing) == []


@pytest.mark.parametrize(
    ("bad", "message"), [("error: the server doesn't have a resource", "not the JSON"), ([], "NodeList")]
)
def test_anything_else_is_refused(bad, message):
    with pytest.raises(AnsibleFilterError, match=message):
        k3s_control_plane_taints(bad)


# -- the join token pinned to the cluster's CA --------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures"
# A server CA as K3s stores it, and its SHA-256 as `sha256sum server-ca.crt` prints it.
SERVER_CA = (FIXTURES / "k3s-server-ca.crt").read_text(encoding="ascii")
SERVER_CA_SHA256 = "9f45acc504ec16bd50f427e053e77aac41e9205316266ee367df85c5e8579d5b"
PASSWORD = "a48charactertokenfromsecretsk3stokenxxxxxxxxxxxx"  # noqa: S105 - a test value


def test_the_token_is_pinned_to_the_ca_as_stored_on_disk():
    assert k3s_join_token(PASSWORD, SERVER_CA) == f"K10{SERVER_CA_SHA256}::server:{PASSWORD}"


def test_without_a_ca_yet_the_token_stays_short():
    assert k3s_join_token(PASSWORD, "") == PASSWORD
    assert k3s_join_token(PASSWORD) == PASSWORD


def test_a_secure_token_is_kept():
    secure = f"K10{SERVER_CA_SHA256}::server:{PASSWORD}"
    assert k3s_join_token(secure, "-----BEGIN CERTIFICATE-----\nanother\n") == secure


@pytest.mark.parametrize(
    ("token", "ca", "message"),
    [("", SERVER_CA, "the token is empty"), (PASSWORD, "not a certificate", "not a PEM certificate")],
)
def test_bad_input_is_refused(token, ca, message):
    with pytest.raises(AnsibleFilterError, match=message):
        k3s_join_token(token, ca)


@pytest.mark.parametrize(
    "token",
    [PASSWORD, f"K10{SERVER_CA_SHA256}::server:{PASSWORD}", f"server:{PASSWORD}", f" {PASSWORD}\n"],
)
def test_the_credential_is_the_password_whatever_the_form(token):
    assert k3s_token_credential(token) == PASSWORD
