"""The built collection: what users install holds what they run, no more, and runs under every
ansible-core it declares (the pinned newest and meta/runtime.yml's oldest)."""

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
NEWEST_BIN = Path(sys.executable).parent
# `make integration` makes this venv with meta/runtime.yml's oldest ansible-core.
OLDEST_BIN = Path(os.environ.get("GARDENOS_OLDEST_ANSIBLE", REPO / ".venv-oldest" / "bin"))
# The collections the shipped content needs (community.crypto, kubernetes.core) come from the
# PyPI `ansible` bundle of the dev venv, for both ansible-cores.
BUNDLED_COLLECTIONS = Path(sysconfig.get_paths()["purelib"])
# Everything the tarball may hold at its top: what users run and its documentation.
SHIPPED_TOP = {"MANIFEST.json", "FILES.json", "README.md", "COPYING", "CHANGELOG.rst", "changelogs", "meta"}
SHIPPED_TOP |= {"plugins", "roles", "playbooks", "docs"}
PLAYBOOKS = sorted(path.stem for path in (REPO / "playbooks").glob("*.yml"))


def oldest_declared():
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text(encoding="utf-8"))
    match = re.fullmatch(r">=\s*([0-9.]+)", runtime["requires_ansible"])
    assert match, f"requires_ansible must be '>=X.Y.Z', not {runtime['requires_ansible']!r}"
    return match.group(1)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build the collection with ansible-galaxy and install it into a fresh collections path,
    in a directory outside the repository (no ansible.cfg or .collections of the repo apply)."""
    work = tmp_path_factory.mktemp("collection")
    config = work / "ansible.cfg"
    config.write_text(
        "[defaults]\n"
        f"collections_path = {work / 'installed'}:{BUNDLED_COLLECTIONS}\n"
        "[inventory]\n"
        "enable_plugins = gardenos.cluster.servers, host_list, auto\n",
        encoding="utf-8",
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env["ANSIBLE_CONFIG"] = str(config)
    galaxy = [NEWEST_BIN / "ansible-galaxy", "collection"]
    subprocess.run([*galaxy, "build", "--output-path", work, REPO], check=True, env=env, cwd=work, capture_output=True)
    (tarball,) = work.glob("gardenos-cluster-*.tar.gz")
    subprocess.run(
        [*galaxy, "install", "--force", "--no-deps", "-p", work / "installed", tarball],
        check=True,
        env=env,
        cwd=work,
        capture_output=True,
    )
    return work, env, tarball


def run(built, *argv):
    work, env = built[:2]
    return subprocess.run([str(arg) for arg in argv], env=env, cwd=work, capture_output=True, text=True, check=False)


def test_tarball_holds_what_users_run_only(built):
    listing = subprocess.run(["tar", "tzf", built[2]], capture_output=True, text=True, check=True).stdout.split()
    tops = {Path(path).parts[0] for path in listing if Path(path).parts}
    assert tops <= SHIPPED_TOP, f"not for users: {sorted(tops - SHIPPED_TOP)}"
    assert {"plugins", "roles", "playbooks", "meta", "README.md", "CHANGELOG.rst"} <= tops
    for path in listing:
        parts = set(Path(path).parts)
        assert not {".venv", ".ssh", "pki", "secrets", "backups", ".git", "__pycache__", "fragments"} & parts, path


def test_galaxy_dependencies_are_what_the_content_uses():
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))
    shipped = "\n".join(
        path.read_text(encoding="utf-8")
        for top in ("roles", "playbooks", "plugins")
        for path in (REPO / top).rglob("*")
        if path.is_file() and path.suffix in {".yml", ".yaml", ".py", ".j2"}
    )
    used = set(re.findall(r"\b([a-z_]+\.[a-z_]+)\.[a-z_0-9]+\b", shipped)) & {
        "community.crypto",
        "kubernetes.core",
        "containers.podman",
        "ansible.posix",
        "community.general",
    }
    assert set(galaxy["dependencies"]) == used
    requirements = yaml.safe_load((REPO / "requirements.yml").read_text(encoding="utf-8"))
    assert {item["name"] for item in requirements["collections"]} == used


@pytest.mark.parametrize("ansible", ["newest", "oldest"])
def test_every_playbook_runs_by_fqcn(built, ansible):
    bin_dir = NEWEST_BIN if ansible == "newest" else OLDEST_BIN
    if ansible == "oldest":
        assert (bin_dir / "ansible-playbook").exists(), f"no {bin_dir}: run `make integration` (it makes .venv-oldest)"
        version = run(built, bin_dir / "ansible", "--version").stdout
        assert f"core {oldest_declared()}]" in version, version
    assert len(PLAYBOOKS) >= 7
    inventory = REPO / "inventory" / "servers.yaml"
    for name in PLAYBOOKS:
        result = run(built, bin_dir / "ansible-playbook", f"gardenos.cluster.{name}", "-i", inventory, "--syntax-check")
        assert result.returncode == 0, f"gardenos.cluster.{name}: {result.stderr}"
    graph = run(built, bin_dir / "ansible-inventory", "-i", inventory, "--graph")
    assert graph.returncode == 0, graph.stderr
    assert "@etcd:" in graph.stdout
    assert "ubuntu-8gb-hil-1" in graph.stdout


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
def test_ansible_doc_shows_installed_plugin(built, plugin_type, name):
    result = run(built, NEWEST_BIN / "ansible-doc", "-t", plugin_type, name)
    assert result.returncode == 0, result.stderr
    assert "installed" in result.stdout.split("\n", 1)[0]


def test_site_playbook_lists_the_hosts_of_a_servers_yaml(built):
    result = run(
        built,
        NEWEST_BIN / "ansible-playbook",
        "gardenos.cluster.site",
        "-i",
        REPO / "inventory" / "servers.yaml",
        "--list-hosts",
    )
    assert result.returncode == 0, result.stderr
    assert "ubuntu-8gb-hil-1" in result.stdout
    assert re.search(r"play #\d+ \(etcd\): The etcd cluster", result.stdout), result.stdout


@pytest.mark.parametrize(
    ("playbook", "named"),
    [("etcd_remove_member", "member"), ("remove_server", "server")],
)
@pytest.mark.parametrize("confirmation", [None, "ubuntu-8gb-ash-2"])
def test_removals_are_refused_unless_the_name_is_confirmed(built, playbook, named, confirmation):
    """A removal wipes a member's data: without -e confirm_remove=<the same name> nothing runs."""
    argv = [NEWEST_BIN / "ansible-playbook", f"gardenos.cluster.{playbook}", "-i", REPO / "inventory" / "servers.yaml"]
    argv += ["-e", f"{named}=ubuntu-8gb-ash-1"]
    if confirmation:
        argv += ["-e", f"confirm_remove={confirmation}"]
    result = run(built, *argv)
    said = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, said[-2000:]
    assert f"-e {named}=<name> -e confirm_remove=<name>" in said, said[-2000:]
    assert "TASK [Remove the member]" not in result.stdout
    assert "Read which servers etcd still has" not in result.stdout


def test_execution_environment_takes_the_controller_requirements(built):
    """ansible-builder reads meta/execution-environment.yml of the installed collection."""
    result = run(built, NEWEST_BIN / "ansible-builder", "introspect", built[0] / "installed")
    assert result.returncode == 0, result.stderr
    introspected = yaml.safe_load(result.stdout)
    ours = [line for line in introspected["python"] if line.endswith("# from collection gardenos.cluster")]
    assert {re.split(r"[<>=\s]", line, maxsplit=1)[0] for line in ours} == {"cryptography", "kubernetes"}
