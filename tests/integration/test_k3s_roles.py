"""The K3s roles (roles/k3s_server, roles/k3s_agent, and roles/k3s_node, which both import).

Their files are rendered by Ansible itself, from the roles' own templates, defaults and vars, for
the hosts of a servers.yaml (render/k3s_render.yml run with ansible-playbook and the gardenos.cluster
inventory plugin); nothing is installed. The example cluster is inventory/servers.yaml (3 servers,
each etcd, k3s_server and, on the first, haproxy) plus an agent.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RENDER = REPO / "tests" / "integration" / "render" / "k3s_render.yml"
EXAMPLE = REPO / "inventory" / "servers.yaml"
ROLES = REPO / "roles"

SERVERS = {"ubuntu-8gb-hil-1": "192.0.2.11", "ubuntu-8gb-ash-1": "198.51.100.21", "ubuntu-8gb-ash-2": "198.51.100.22"}
HAPROXY_IP = "192.0.2.11"
AGENT, AGENT_IP = "ubuntu-8gb-fsn-1", "203.0.113.31"
# The etcd members in the order of their names (wiring_etcd_client_urls).
EXAMPLE_ENDPOINT = ",".join(f"https://{SERVERS[name]}:2379" for name in sorted(SERVERS))
CONTROL_PLANE_TAINT_KEYS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")


def example_servers(agent=True):
    servers = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    if agent:
        servers["servers"][AGENT] = {"ip": AGENT_IP, "region": "fsn", "services": ["k3s_agent"]}
    return servers


def run_playbook(workdir, servers, playbook, **extra_vars):
    inventory = workdir / "inventory"
    inventory.mkdir(parents=True)
    (inventory / "servers.yaml").write_text(yaml.safe_dump(servers, sort_keys=False), encoding="utf-8")
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
    return subprocess.run(
        [BIN / "ansible-playbook", "-i", inventory / "servers.yaml", playbook, "-e", json.dumps(extra_vars)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def render(workdir, servers, **extra_vars):
    """Render the K3s files of every host of `servers` (a servers.yaml as a dict): returns
    ({"hosts": {host: {"config.yaml", "unit", "unit_file"}}, "cluster": {...}}, the join token)."""
    out = workdir / "out"
    out.mkdir()
    result = run_playbook(workdir, servers, RENDER, render_dir=str(out), **extra_vars)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    rendered = json.loads((out / "rendered.json").read_text(encoding="utf-8"))
    token = (workdir / "inventory" / "secrets" / "k3s-token").read_text(encoding="utf-8").strip()
    return rendered, token


def config(rendered, host):
    return yaml.safe_load(rendered["hosts"][host]["config.yaml"])


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    return render(tmp_path_factory.mktemp("k3s-example"), example_servers())


# -- servers -----------------------------------------------------------------------------------


def test_server_datastore_is_every_etcd_member_over_mutual_tls(example):
    rendered, _token = example
    for host in SERVERS:
        cfg = config(rendered, host)
        assert cfg["datastore-endpoint"] == EXAMPLE_ENDPOINT
        assert cfg["datastore-cafile"] == "/etc/rancher/k3s/etcd/ca.crt"
        assert cfg["datastore-certfile"] == "/etc/rancher/k3s/etcd/client.crt"
        assert cfg["datastore-keyfile"] == "/etc/rancher/k3s/etcd/client.key"


def test_server_serves_on_7443_with_haproxy_in_its_certificate(example):
    rendered, _token = example
    for host, ip in SERVERS.items():
        cfg = config(rendered, host)
        assert cfg["https-listen-port"] == 7443
        assert cfg["node-ip"] == ip
        assert cfg["node-name"] == host
        assert HAPROXY_IP in cfg["tls-san"]
        assert ip in cfg["tls-san"]
        assert host in cfg["tls-san"]
        assert len(cfg["tls-san"]) == len(set(cfg["tls-san"]))


def test_server_config_holds_no_token_and_no_taint(example):
    rendered, token = example
    assert len(token) == 48
    for host in SERVERS:
        text = rendered["hosts"][host]["config.yaml"]
        cfg = yaml.safe_load(text)
        assert token not in text
        assert "token" not in cfg
        assert cfg["token-file"] == "/etc/rancher/k3s/cluster-token"
        assert not any("taint" in key for key in cfg), cfg
        # a string for K3s, not the number YAML would make of an unquoted 0600
        assert cfg["write-kubeconfig-mode"] == "0600"
        assert cfg["secrets-encryption"] is True
        assert cfg["disable"] == ["traefik", "servicelb"]
        assert "local-storage" not in cfg["disable"]
        assert text.startswith("#\n# Ansible managed\n")


def test_server_unit_is_upstreams(example):
    rendered, _token = example
    files = rendered["hosts"]["ubuntu-8gb-hil-1"]
    assert files["unit_file"] == "/etc/systemd/system/k3s.service"
    lines = files["unit"].splitlines()
    assert "ExecStart=/usr/local/bin/k3s server" in lines
    for line in (
        "Type=notify",
        "KillMode=process",
        "Delegate=yes",
        "LimitNOFILE=1048576",
        "LimitNPROC=infinity",
        "TasksMax=infinity",
        "Restart=always",
        "ExecStartPre=-/sbin/modprobe br_netfilter",
        "ExecStartPre=-/sbin/modprobe overlay",
        "EnvironmentFile=-/etc/systemd/system/k3s.service.env",
        "WantedBy=multi-user.target",
    ):
        assert line in lines, line


# -- agents ------------------------------------------------------------------------------------


def test_agent_joins_through_haproxy_with_the_token_file(example):
    rendered, token = example
    text = rendered["hosts"][AGENT]["config.yaml"]
    assert token not in text
    assert yaml.safe_load(text) == {
        "node-name": AGENT,
        "node-ip": AGENT_IP,
        "server": f"https://{HAPROXY_IP}:6443",
        "token-file": "/etc/rancher/k3s/cluster-token",
    }


def test_agent_unit_runs_k3s_agent(example):
    rendered, _token = example
    files = rendered["hosts"][AGENT]
    assert files["unit_file"] == "/etc/systemd/system/k3s-agent.service"
    lines = files["unit"].splitlines()
    assert "ExecStart=/usr/local/bin/k3s agent" in lines
    assert "EnvironmentFile=-/etc/systemd/system/k3s-agent.service.env" in lines
    assert "Type=notify" in lines


# -- cluster-wide steps ----------------------------------------------------------------------------


def test_kubeconfig_for_the_controller_points_at_haproxy(example):
    rendered, _token = example
    kubeconfig = rendered["cluster"]["kubeconfig.yaml"]
    parsed = yaml.safe_load(kubeconfig)
    assert [c["cluster"]["server"] for c in parsed["clusters"]] == [f"https://{HAPROXY_IP}:6443"]
    assert parsed["users"][0]["user"]["client-key-data"] == "S0VZCg=="
    assert "127.0.0.1" not in kubeconfig


def test_only_control_plane_taints_are_removed(example):
    rendered, _token = example
    assert sorted((t["node"], t["key"], t["effect"]) for t in rendered["cluster"]["taints"]) == [
        ("server-a", "node-role.kubernetes.io/control-plane", "NoSchedule"),
        ("server-a", "node-role.kubernetes.io/master", "NoExecute"),
    ]


# -- servers.yaml changes ----------------------------------------------------------------------------


def test_adding_etcd_members_changes_every_server_datastore_endpoint(tmp_path, example):
    servers = example_servers()
    servers["servers"]["ubuntu-8gb-fsn-2"] = {"ip": "203.0.113.41", "region": "fsn", "services": ["etcd"]}
    servers["servers"]["ubuntu-8gb-fsn-3"] = {"ip": "2001:db8::43", "region": "fsn", "services": ["etcd"]}
    rendered, _token = render(tmp_path, servers)
    for host in SERVERS:
        endpoint = config(rendered, host)["datastore-endpoint"]
        assert endpoint != config(example[0], host)["datastore-endpoint"]
        assert endpoint == ",".join(
            [
                "https://198.51.100.21:2379",  # ubuntu-8gb-ash-1
                "https://198.51.100.22:2379",  # ubuntu-8gb-ash-2
                "https://203.0.113.41:2379",  # ubuntu-8gb-fsn-2
                "https://[2001:db8::43]:2379",  # ubuntu-8gb-fsn-3
                "https://192.0.2.11:2379",  # ubuntu-8gb-hil-1
            ]
        )


def test_adding_a_server_and_an_agent_changes_no_other_node(tmp_path, example):
    servers = example_servers()
    servers["servers"]["ubuntu-8gb-fsn-4"] = {"ip": "203.0.113.44", "region": "fsn", "services": ["k3s_server"]}
    servers["servers"]["ubuntu-8gb-fsn-5"] = {"ip": "203.0.113.45", "region": "fsn", "services": ["k3s_agent"]}
    rendered, _token = render(tmp_path, servers)
    for host, files in example[0]["hosts"].items():
        assert rendered["hosts"][host] == files, host
    new = config(rendered, "ubuntu-8gb-fsn-4")
    assert new["datastore-endpoint"] == EXAMPLE_ENDPOINT
    assert HAPROXY_IP in new["tls-san"]
    assert config(rendered, "ubuntu-8gb-fsn-5")["server"] == f"https://{HAPROXY_IP}:6443"


def test_without_haproxy_agents_and_kubeconfig_use_the_first_server(tmp_path):
    servers = example_servers()
    for server in servers["servers"].values():
        server["services"] = [s for s in server["services"] if s != "haproxy"]
    rendered, _token = render(tmp_path, servers)
    first = f"https://{SERVERS['ubuntu-8gb-hil-1']}:7443"
    assert config(rendered, AGENT)["server"] == first
    assert rendered["cluster"]["api_url"] == first
    assert yaml.safe_load(rendered["cluster"]["kubeconfig.yaml"])["clusters"][0]["cluster"]["server"] == first


def test_extra_settings_are_merged_last(tmp_path):
    rendered, _token = render(
        tmp_path,
        example_servers(),
        k3s_server_disable=[],
        k3s_server_tls_san_extra=["k8s.example.net"],
        k3s_server_config_extra={"disable": ["traefik"], "kube-apiserver-arg": ["audit-log-maxage=30"]},
        k3s_agent_config_extra={"node-label": ["gardenos/pool=edge"]},
    )
    server = config(rendered, "ubuntu-8gb-ash-1")
    assert server["disable"] == ["traefik"]
    assert server["kube-apiserver-arg"] == ["audit-log-maxage=30"]
    assert "k8s.example.net" in server["tls-san"]
    assert config(rendered, AGENT)["node-label"] == ["gardenos/pool=edge"]


# -- settings ------------------------------------------------------------------------------------


def role_yaml(role, path):
    return yaml.safe_load((ROLES / role / path).read_text(encoding="utf-8")) or {}


def test_k3s_version_is_a_release_with_kubernetes_schemas():
    """Manifests are validated against the Kubernetes schemas of the pinned K3s's minor version."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate.utils")
    version = role_yaml("k3s_node", "defaults/main.yml")["k3s_node_version"]
    match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)\+k3s(\d+)", version)
    assert match, version
    minor = f"{match[1]}.{match[2]}"
    assert minor in {kubernetes_validate.major_minor(v) for v in kubernetes_validate.all_versions()}, minor


@pytest.mark.parametrize("role", ["k3s_node", "k3s_server", "k3s_agent"])
def test_argument_specs_document_every_default(role):
    defaults = role_yaml(role, "defaults/main.yml")
    options = role_yaml(role, "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(defaults) <= set(options), set(defaults) - set(options)
    for name, value in defaults.items():
        if "default" in options[name] and not (isinstance(value, str) and "{{" in value):
            assert options[name]["default"] == value, name
        assert all(option.get("description") for option in options.values())


def node_imports(role):
    """The imports of the k3s_node role in the role's tasks/main.yml."""
    tasks = role_yaml(role, "tasks/main.yml")
    node = "gardenos.cluster.k3s_node"
    return [task for task in tasks if task.get("ansible.builtin.import_role", {}).get("name") == node]


@pytest.mark.parametrize(("role", "command"), [("k3s_server", "server"), ("k3s_agent", "agent")])
def test_each_role_imports_the_node_role_once_with_explicit_inputs(role, command):
    """Servers and agents share the k3s_node role's tasks, each giving its inputs (no switch read elsewhere);
    every input is an option of k3s_node, and the required ones are given."""
    imports = node_imports(role)
    assert len(imports) == 1, imports
    inputs = imports[0]["vars"]
    options = role_yaml("k3s_node", "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(inputs) <= set(options), set(inputs) - set(options)
    assert {name for name, option in options.items() if option.get("required")} <= set(inputs)
    assert inputs["k3s_node_command"] == command
    assert command in options["k3s_node_command"]["choices"]


def test_config_starts_with_the_node_and_ends_with_the_token_file(example):
    """k3s_node writes every node's name and address first and its token file last, which the options of
    k3s_server_config_extra or k3s_agent_config_extra cannot replace."""
    rendered, _token = example
    for host in [*SERVERS, AGENT]:
        keys = list(config(rendered, host))
        assert keys[:2] == ["node-name", "node-ip"], (host, keys)
        assert keys[-1] == "token-file", (host, keys)


def test_servers_copy_the_etcd_client_certificate_from_the_wiring_pki(example):
    rendered, _token = example
    for host in SERVERS:
        assert rendered["hosts"][host]["files"] == [
            ["pki/etcd/ca-bundle.crt", "/etc/rancher/k3s/etcd/ca.crt", "0644"],
            ["pki/etcd/client-k3s.crt", "/etc/rancher/k3s/etcd/client.crt", "0644"],
            ["pki/etcd/client-k3s.key", "/etc/rancher/k3s/etcd/client.key", "0600"],
        ]
    assert rendered["hosts"][AGENT]["files"] == []


def test_settings_of_the_0_1_0_roles_are_refused_with_their_new_names(tmp_path):
    """A setting the K3s roles read no more would be ignored silently: the node checks stop the run instead."""
    result = run_playbook(
        tmp_path,
        example_servers(agent=False),
        REPO / "tests" / "integration" / "render" / "k3s_node_preflight.yml",
        k3s_version="v1.36.3+k3s1",
        k3s_disable=[],
        k3s_etcd_pki_controller_dir="/srv/pki/etcd",
    )
    assert result.returncode != 0
    words = " ".join((result.stdout + result.stderr).split())
    assert (
        "k3s_disable, k3s_etcd_pki_controller_dir, k3s_version are read no more: set k3s_server_disable, "
        "wiring_pki_controller_dir (the etcd PKI is in its etcd/), k3s_node_version instead" in words
    ), words[-3000:]


def test_the_wiring_moves_the_k3s_ports_etcd_and_pki_with_one_variable_each(tmp_path):
    """The etcd client port, the PKI directory and the K3s ports are the wiring role's: one variable each moves
    every K3s file that carries them."""
    rendered, _token = render(
        tmp_path,
        example_servers(),
        wiring_etcd_client_port=12379,
        wiring_pki_controller_dir="/srv/cluster-pki",
        wiring_k3s_server_port=17443,
        wiring_k3s_api_port=16443,
    )
    for host in SERVERS:
        cfg = config(rendered, host)
        assert cfg["datastore-endpoint"] == EXAMPLE_ENDPOINT.replace(":2379", ":12379")
        assert cfg["https-listen-port"] == 17443
        # the render gives the sources relative to the inventory's directory
        sources = [os.path.normpath(tmp_path / "inventory" / src) for src, _d, _m in rendered["hosts"][host]["files"]]
        assert sources == [
            f"/srv/cluster-pki/etcd/{name}" for name in ("ca-bundle.crt", "client-k3s.crt", "client-k3s.key")
        ]
    assert config(rendered, AGENT)["server"] == f"https://{HAPROXY_IP}:16443"
    assert rendered["cluster"]["api_url"] == f"https://{HAPROXY_IP}:16443"


def test_an_ipv6_api_address_is_bracketed(tmp_path):
    rendered, _token = render(tmp_path, example_servers(), k3s_node_api_address="2001:db8::6443")
    assert config(rendered, AGENT)["server"] == "https://[2001:db8::6443]:6443"
    assert yaml.safe_load(rendered["cluster"]["kubeconfig.yaml"])["clusters"][0]["cluster"]["server"] == (
        "https://[2001:db8::6443]:6443"
    )
    assert "2001:db8::6443" in config(rendered, "ubuntu-8gb-hil-1")["tls-san"]
