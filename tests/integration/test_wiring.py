"""The cluster's wiring has one owner (roles/wiring): one variable moves the etcd client port or the
controller PKI everywhere. Renders the roles' files with Ansible (tests/integration/render/wiring.yml),
once with the defaults and once with the port and the PKI directory changed, on an IPv6 and an IPv4 server."""

import base64
import getpass
import grp
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "tests" / "integration" / "render" / "wiring.yml"
SERVERS = """\
cluster: {name: wiring-test}
servers:
  node-6:
    ip: 2001:db8::16
    region: zone-a
    services: [etcd, patroni]
  node-4:
    ip: 192.0.2.14
    region: zone-a
    services: [etcd, patroni]
"""


def render(tmp_path, *extra_vars):
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "servers.yaml").write_text(SERVERS)
    render_dir = tmp_path / "rendered"
    group = grp.getgrgid(os.getgid()).gr_name
    variables = [
        "ansible_connection=local",
        f"render_dir={render_dir}",
        f"etcd_config_dir={tmp_path / 'node' / 'etcd'}",
        f"etcd_user={getpass.getuser()}",
        f"etcd_group={group}",
        # No member runs here: the handler that restarts members after new certificates has none to restart.
        '{"_etcd_initialized_hosts": []}',
        *extra_vars,
    ]
    command = ["ansible-playbook", "-i", str(inventory / "servers.yaml"), str(PLAYBOOK)]
    for variable in variables:
        command += ["-e", variable]
    (tmp_path / "node" / "etcd" / "pki").mkdir(parents=True)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=REPO)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return inventory, render_dir


def rendered(render_dir, host):
    etcd = (render_dir / host / "etcd.conf.yml").read_text()
    etcdctl = (render_dir / host / "etcdctl.sh").read_text()
    patroni = json.loads((render_dir / host / "patroni.json").read_text())
    return etcd, etcdctl, patroni


@pytest.fixture(scope="module")
def defaults(tmp_path_factory):
    return render(tmp_path_factory.mktemp("defaults"))


@pytest.fixture(scope="module")
def moved(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("moved")
    return tmp, *render(tmp, "wiring_etcd_client_port=12379", f"wiring_pki_controller_dir={tmp / 'elsewhere'}")


def test_defaults_bracket_ipv6_and_keep_the_pki_beside_the_inventory(defaults):
    inventory, render_dir = defaults
    etcd, etcdctl, patroni = rendered(render_dir, "node-6")
    assert "listen-client-urls: https://[2001:db8::16]:2379,https://127.0.0.1:2379" in etcd
    assert "listen-peer-urls: https://[2001:db8::16]:2380" in etcd
    assert "initial-cluster: node-4=https://192.0.2.14:2380,node-6=https://[2001:db8::16]:2380" in etcd
    assert "ETCDCTL_ENDPOINTS=https://127.0.0.1:2379" in etcdctl
    hosts = ["192.0.2.14:2379", "[2001:db8::16]:2379"]
    assert patroni["patroni"]["etcd3"]["hosts"] == hosts
    assert patroni["spilo"]["etcd3"]["hosts"] == hosts
    # The etcd and patroni roles' etcd module calls (module_defaults of group/gardenos.cluster.etcd).
    urls = ["https://192.0.2.14:2379", "https://[2001:db8::16]:2379"]
    assert patroni["etcd_module_defaults"]["endpoints"] == urls
    assert patroni["patroni_etcd_module_defaults"]["endpoints"] == urls
    assert (inventory / "pki" / "etcd" / "ca.crt").is_file()
    assert (inventory / "pki" / "etcd" / "client-patroni.crt").is_file()


@pytest.mark.parametrize("fixture", ["defaults", "moved"])
def test_a_second_run_makes_no_certificate(request, fixture):
    """The digests recorded when the certificates were made are the ones computed again: nothing is stale."""
    render_dir = request.getfixturevalue(fixture)[-1]
    for host in ("node-6", "node-4"):
        assert json.loads((render_dir / host / "stale-certificates.json").read_text()) == []


def test_what_each_certificate_was_made_from_is_recorded(defaults):
    inventory, _render_dir = defaults
    recorded = json.loads((inventory / "pki" / "etcd" / "certificates.json").read_text())
    # Both hosts are etcd members and Patroni members (a REST API certificate each).
    members = [f"{host}-{kind}" for host in ("node-4", "node-6") for kind in ("server", "peer", "patroni-api")]
    assert sorted(recorded) == sorted([*members, "client-admin", "client-admin-api", "client-k3s", "client-patroni"])
    # Each with its digest and its expiry (x509_certificate_info's not_after), for the renewal window.
    assert all(len(record["digest"]) == 64 and record["not_after"].endswith("Z") for record in recorded.values())


def test_one_variable_moves_the_etcd_client_port_everywhere(moved):
    _tmp, _inventory, render_dir = moved
    for host in ("node-6", "node-4"):
        etcd, etcdctl, patroni = rendered(render_dir, host)
        everything = etcd + etcdctl + json.dumps(patroni)
        assert "12379" in etcd and "12379" in etcdctl
        assert patroni["patroni"]["etcd3"]["hosts"] == ["192.0.2.14:12379", "[2001:db8::16]:12379"]
        assert patroni["spilo"]["etcd3"]["hosts"] == ["192.0.2.14:12379", "[2001:db8::16]:12379"]
        urls = ["https://192.0.2.14:12379", "https://[2001:db8::16]:12379"]
        assert patroni["etcd_module_defaults"]["endpoints"] == urls
        assert patroni["patroni_etcd_module_defaults"]["endpoints"] == urls
        assert ":2379" not in everything


def test_one_variable_moves_the_controller_pki(moved, defaults):
    tmp, inventory, render_dir = moved
    assert (tmp / "elsewhere" / "etcd" / "ca.crt").is_file()
    assert (tmp / "elsewhere" / "etcd" / "client-patroni.key").is_file()
    assert not (inventory / "pki").exists()
    # The certificates a member gets come from there, and Spilo reads its client certificate there.
    installed = tmp / "node" / "etcd" / "pki" / "ca.crt"
    assert installed.read_bytes() == (tmp / "elsewhere" / "etcd" / "ca.crt").read_bytes()
    secrets = yaml.safe_load_all((render_dir / "node-6" / "spilo-secrets.yaml").read_text())
    etcd_client = next(doc for doc in secrets if doc and doc["metadata"]["name"].endswith("-etcd-client"))
    # The CA bundle: the CA alone outside a CA rotation.
    ca = base64.b64decode(etcd_client["data"]["ca-bundle.crt"])
    assert ca == (tmp / "elsewhere" / "etcd" / "ca.crt").read_bytes()
    assert ca != (defaults[0] / "pki" / "etcd" / "ca.crt").read_bytes()
