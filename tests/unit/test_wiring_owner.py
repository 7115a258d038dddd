"""The cluster's wiring has one owner, roles/wiring/defaults/main.yml: the etcd client port, the controller's PKI,
secrets and backups directories and the HAProxy stats socket are defined there and nowhere else in roles/,
playbooks/ or plugins/ (documentation aside: READMEs, argument specs, module and filter docs)."""

import ast
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
OWNER = REPO / "roles" / "wiring" / "defaults" / "main.yml"
DERIVED = REPO / "roles" / "wiring" / "vars" / "main.yml"
# Values whose only definition is the wiring role's, and variables only the wiring role may define.
VALUES = {"wiring_etcd_client_port": "2379", "wiring_haproxy_stats_socket": "/run/haproxy/admin.sock"}
DIRECTORY_VARIABLE = re.compile(r"^\w*_(pki|secrets|backups)_controller_dir$|^\w*kubeconfig_controller_path$")
DOCS = ("README.md", "argument_specs.yml")


def _yaml_sources():
    for top in ("roles", "playbooks"):
        for path in sorted((REPO / top).rglob("*")):
            if path.is_file() and path.suffix in (".yml", ".yaml", ".j2") and path.name not in DOCS:
                yield path


def _code_strings(path):
    """The string and number constants of a Python file, without its docstrings and documentation blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id in ("DOCUMENTATION", "EXAMPLES", "RETURN")
            for target in node.targets
        ):
            skipped.update(id(child) for child in ast.walk(node))
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                skipped.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and id(node) not in skipped and isinstance(node.value, (str, int)):
            yield str(node.value)


def test_the_owner_defines_them():
    defaults = yaml.safe_load(OWNER.read_text())
    for name, value in VALUES.items():
        assert str(defaults[name]) == value


@pytest.mark.parametrize("value", sorted(VALUES.values()))
def test_no_role_or_playbook_repeats_a_wiring_value(value):
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for path in _yaml_sources()
        if path != OWNER
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(rf"(?<![0-9]){re.escape(value)}(?![0-9])", line) and not line.lstrip().startswith("#")
    ]
    assert not found, f"{value} is the wiring role's (roles/wiring/defaults/main.yml); found again at {found}"


# haproxy_info's socket option defaults to HAProxy's own default path, documented there; the roles pass
# wiring_haproxy_stats_socket.
@pytest.mark.parametrize("value", [VALUES["wiring_etcd_client_port"]])
def test_no_plugin_code_repeats_a_wiring_value(value):
    found = [
        str(path.relative_to(REPO))
        for path in sorted((REPO / "plugins").rglob("*.py"))
        if "doc_fragments" not in path.parts and any(value in text for text in _code_strings(path))
    ]
    assert not found, f"{value} outside the documentation of {found}"


def test_only_the_owner_defines_controller_directories():
    found = []
    for path in _yaml_sources():
        if path in (OWNER, DERIVED) or path.suffix == ".j2" or path.parent.name not in ("defaults", "vars"):
            continue
        for name in yaml.safe_load(path.read_text(encoding="utf-8")) or {}:
            if DIRECTORY_VARIABLE.match(name):
                found.append(f"{path.relative_to(REPO)}: {name}")
    assert not found, f"controller directories belong to the wiring role (wiring_*_controller_dir): {found}"


def test_every_role_that_reads_the_wiring_depends_on_it():
    for role in sorted(p for p in (REPO / "roles").iterdir() if p.is_dir() and p.name != "wiring"):
        reads = any("wiring_" in path.read_text(encoding="utf-8") for path in role.rglob("*") if path.is_file())
        meta = yaml.safe_load((role / "meta" / "main.yml").read_text(encoding="utf-8"))
        dependencies = [dep["role"] if isinstance(dep, dict) else dep for dep in meta.get("dependencies") or []]
        if reads:
            assert "gardenos.cluster.wiring" in dependencies, f"{role.name} reads wiring_* without depending on it"
