"""The repository builds into an installable collection whose plugins and playbooks resolve."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def installed_collection(tmp_path_factory):
    """Build the collection with ansible-galaxy and install it into a fresh collections path."""
    work = tmp_path_factory.mktemp("collection")
    config = work / "ansible.cfg"
    config.write_text(
        "[defaults]\n"
        f"collections_path = {work / 'installed'}:{Path(sys.prefix) / 'lib'}\n"
        "[inventory]\n"
        "enable_plugins = gardenos.cluster.servers, host_list, auto\n",
        encoding="utf-8",
    )
    env = {**os.environ, "ANSIBLE_CONFIG": str(config)}
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "build", "--output-path", work, REPO],
        check=True,
        env=env,
        cwd=work,
        capture_output=True,
    )
    (tarball,) = work.glob("gardenos-cluster-*.tar.gz")
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "install", "--force", "--no-deps", "-p", work / "installed", tarball],
        check=True,
        env=env,
        cwd=work,
        capture_output=True,
    )
    return work, env, tarball


def run(installed_collection, *argv):
    work, env = installed_collection[:2]
    return subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True, check=False)


def test_tarball_leaves_out_secrets_and_environments(installed_collection):
    tarball = installed_collection[2]
    listing = subprocess.run(["tar", "tzf", tarball], capture_output=True, text=True, check=True).stdout.split()
    assert listing
    for path in listing:
        parts = Path(path).parts
        assert not {".venv", ".venv-sanity", ".collections", ".ssh", "pki", ".git"} & set(parts), path


@pytest.mark.parametrize(
    ("plugin_type", "name"),
    [
        ("inventory", "gardenos.cluster.servers"),
        ("module", "gardenos.cluster.etcd_deleterange"),
        ("module", "gardenos.cluster.etcd_member"),
        ("module", "gardenos.cluster.etcd_info"),
        ("module", "gardenos.cluster.patroni_check"),
        ("filter", "gardenos.cluster.patroni_config"),
        ("filter", "gardenos.cluster.patroni_environment"),
    ],
)
def test_ansible_doc_shows_installed_plugin(installed_collection, plugin_type, name):
    result = run(installed_collection, BIN / "ansible-doc", "-t", plugin_type, name)
    assert result.returncode == 0, result.stderr
    assert "installed" in result.stdout.split("\n", 1)[0]


def test_site_playbook_runs_by_fqcn_on_a_servers_yaml(installed_collection):
    result = run(
        installed_collection,
        BIN / "ansible-playbook",
        "gardenos.cluster.site",
        "-i",
        REPO / "inventory" / "servers.yaml",
        "--list-hosts",
    )
    assert result.returncode == 0, result.stderr
    assert "ubuntu-8gb-hil-1" in result.stdout
    assert "play #2 (etcd)" in result.stdout
