"""The roles' argument specs (roles/*/meta/argument_specs.yml), read as YAML, against the roles' defaults and
the roles' callers. Nothing here runs Ansible.

Ansible validates an entry point's options whenever a role runs from it: `main` for the role itself, and the
entry point named exactly as the `tasks_from` value (`remove.yml`, extension included) for an `include_role` or
`import_role` with `tasks_from`. The role's defaults are variables by then, so every option defined in
defaults/main.yml is checked against its type, and an option's `default` only documents it (ansible-doc shows
it). The validation task templates the whole spec first, though: a Jinja default would be evaluated (a password
lookup run, and its result shown in clear if the validation fails), so the specs wrap templated defaults in
`{% raw %}...{% endraw %}`, which the validation renders to the template itself.
"""

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES_DIR = REPO / "roles"
ROLES = sorted(path.parent.parent.name for path in ROLES_DIR.glob("*/meta/argument_specs.yml"))
COLLECTION = "gardenos.cluster"

# Where the collection's roles are run with tasks_from. tests/ is left out on purpose: its render playbooks run
# internal steps of the roles (preflight, configure) for the integration tests; they are not entry points.
CALLERS = ["playbooks", "roles", "molecule", "bench", "site.yml"]

# Settings an entry point's tasks read but the entry point does not list, and why: Ansible templates every listed
# option when it validates the entry point.
NOT_LISTED = {
    ("haproxy", "health.yml", "haproxy_stats_password"): (
        "its default is a password lookup, which writes a new password file on the controller when there is none: "
        "the validation would run it, and the read-only health check must not (it takes the inventory's password, "
        "else the file's)"
    ),
}
# The keys an option shares with the same option of the role's main entry point.
SHARED_KEYS = ("type", "elements", "choices", "no_log", "default")

RAW = re.compile(r"\{% raw %\}(.*)\{% endraw %\}", re.DOTALL)
TEMPLATE = re.compile(r"\{\{|\{%|\{#")
WORD = re.compile(r"\b[a-z_][a-z0-9_]*\b")


class _CallerLoader(yaml.SafeLoader):
    """SafeLoader that also reads Ansible's tags (!unsafe, !vault) as the plain value they tag."""


def _tagged(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


_CallerLoader.add_multi_constructor("!", _tagged)


def load(path):
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def role_defaults(role):
    return load(ROLES_DIR / role / "defaults" / "main.yml")


def public(defaults):
    return {name: value for name, value in defaults.items() if not name.startswith("_")}


def entry_points(role):
    return load(ROLES_DIR / role / "meta" / "argument_specs.yml")["argument_specs"]


def rendered(value):
    """The default as the validation task renders it: `{% raw %}x{% endraw %}` is x."""
    if isinstance(value, str):
        match = RAW.fullmatch(value)
        return match.group(1) if match else value
    if isinstance(value, list):
        return [rendered(item) for item in value]
    if isinstance(value, dict):
        return {key: rendered(item) for key, item in value.items()}
    return value


def role_of(name):
    """The role of this collection an include names (FQCN, or the bare name through roles_path), else None."""
    if name.startswith(COLLECTION + "."):
        return name[len(COLLECTION) + 1 :]
    return name if (ROLES_DIR / name / "tasks").is_dir() else None


def _includes(node):
    if isinstance(node, dict):
        if "tasks_from" in node:
            yield node
        for value in node.values():
            yield from _includes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _includes(value)


def caller_files():
    for entry in CALLERS:
        path = REPO / entry
        if path.is_file():
            yield path
        else:
            yield from sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


def tasks_from_calls():
    """(caller, role, tasks_from) of every include of a role of this collection with tasks_from."""
    calls = []
    for path in caller_files():
        text = path.read_text(encoding="utf-8")
        if "tasks_from" not in text:
            continue
        written = sum(1 for line in text.splitlines() if "tasks_from:" in line and not line.lstrip().startswith("#"))
        found = list(_includes(yaml.load(text, Loader=_CallerLoader)))  # noqa: S506 (a SafeLoader)
        assert len(found) == written, f"{path}: {written} tasks_from lines, {len(found)} parsed"
        for include in found:
            name = include.get("name", include.get("role", ""))
            assert not TEMPLATE.search(name + include["tasks_from"]), f"{path}: templated include {include}"
            role = role_of(name)
            if role:
                calls.append((str(path.relative_to(REPO)), role, include["tasks_from"]))
    return calls


CALLS = tasks_from_calls()
ENTRY_POINTS = [(role, name) for role in ROLES for name in entry_points(role)]


def test_the_callers_are_found():
    """The search finds the includes known when this test was written (etcd and patroni playbooks)."""
    roles_called = {(role, tasks_from) for _caller, role, tasks_from in CALLS}
    assert {("etcd", "backup.yml"), ("patroni", "remove.yml")} <= roles_called


@pytest.mark.parametrize("role", ROLES)
def test_main_documents_every_default(role):
    """(a) Every public variable of defaults/main.yml is an option of `main`, with the same default."""
    options = entry_points(role)["main"].get("options") or {}
    defaults = public(role_defaults(role))
    assert not set(defaults) - set(options), f"not options of main: {sorted(set(defaults) - set(options))}"
    wrong = {
        name: options[name].get("default")
        for name, value in defaults.items()
        if "default" not in options[name] or rendered(options[name]["default"]) != value
    }
    assert not wrong, f"main's default differs from defaults/main.yml: {wrong}"


@pytest.mark.parametrize(("caller", "role", "tasks_from"), CALLS, ids=[f"{c}:{r}:{t}" for c, r, t in CALLS])
def test_every_tasks_from_has_its_entry_point(caller, role, tasks_from):
    """(b) Ansible validates an include with `tasks_from: X` against the entry point named X, if there is one."""
    assert tasks_from in entry_points(role), f"{caller} runs {role} with tasks_from {tasks_from}: no such entry point"


@pytest.mark.parametrize("role", ROLES)
def test_no_option_hides_its_default(role):
    """(c) No option of any entry point shows `default: null` where defaults/main.yml has a value."""
    defaults = public(role_defaults(role))
    wrong = []
    for entry, spec in entry_points(role).items():
        for name, option in (spec.get("options") or {}).items():
            if name not in defaults:
                continue
            if option.get("default") is None:
                wrong.append(f"{entry}: {name} has no default; defaults/main.yml: {defaults[name]!r}")
            elif rendered(option["default"]) != defaults[name]:
                wrong.append(f"{entry}: {name} default {option['default']!r}; defaults/main.yml: {defaults[name]!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_templated_defaults_are_not_evaluated_by_the_validation(role):
    """A Jinja default is wrapped in raw: the validation task would evaluate it (lookups included)."""

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, (list, tuple)):
            for item in value:
                yield from strings(item)
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)

    evaluated = [
        f"{entry}: {name}: {text!r}"
        for entry, spec in entry_points(role).items()
        for name, option in (spec.get("options") or {}).items()
        for text in strings(option.get("default"))
        if TEMPLATE.search(text) and not (RAW.fullmatch(text) and "{% raw %}" not in RAW.fullmatch(text).group(1))
    ]
    assert not evaluated, "\n".join(evaluated)


@pytest.mark.parametrize("role", ROLES)
def test_entry_points_agree_with_main(role):
    """An option of another entry point is the same option as main's (type, choices, default ...), and every
    option says what it is."""
    specs = entry_points(role)
    main = specs["main"].get("options") or {}
    wrong = []
    for entry, spec in specs.items():
        if not spec.get("short_description") or not spec.get("description"):
            wrong.append(f"{entry}: no short_description or description")
        for name, option in (spec.get("options") or {}).items():
            if not option.get("type") or not option.get("description"):
                wrong.append(f"{entry}: {name} has no type or description")
            if entry != "main" and name in main:
                wrong.extend(
                    f"{entry}: {name} {key} {option.get(key)!r}, main has {main[name].get(key)!r}"
                    for key in SHARED_KEYS
                    if option.get(key) != main[name].get(key)
                )
    assert not wrong, "\n".join(wrong)


# What a task file runs: its task files and templates (folder, pattern), and another role's tasks_from.
_REFERENCES = (
    ("tasks", re.compile(r"(?:import_tasks|include_tasks|file):\s*([\w.-]+\.yml)\b")),
    ("templates", re.compile(r"src:\s*([\w.-]+\.j2)\b")),
)
_OTHER_ROLE = re.compile(rf"name:\s*{re.escape(COLLECTION)}\.(\w+)\s*\n\s*tasks_from:\s*([\w.-]+)")


def _text_of(path):
    """A file without its comment lines."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith(("#", "{#")))


class _SettingsReader:
    """Follows a role's task file through what it names and runs; ``seen`` is shared with the other roles'."""

    def __init__(self, role, seen):
        self.role, self.seen, self.found = role, seen, set()
        self.role_dir = ROLES_DIR / role
        self.defaults = public(role_defaults(role))
        self.role_vars = load(self.role_dir / "vars" / "main.yml")

    def first_time(self, kind, what):
        key = (self.role, kind, what)
        new = key not in self.seen
        self.seen.add(key)
        return new

    def visit_words(self, text):
        for word in WORD.findall(text):
            if not self.first_time("name", word):
                continue
            if word in self.defaults:
                self.found.add(word)
                self.visit(yaml.safe_dump(self.defaults[word]))
            if word in self.role_vars:
                self.visit(yaml.safe_dump(self.role_vars[word]))

    def visit(self, text):
        self.visit_words(text)
        for folder, pattern in _REFERENCES:
            for name in pattern.findall(text):
                self.visit_file(self.role_dir / folder / name)
        for other, name in _OTHER_ROLE.findall(text):
            self.found.update(_settings_read(other, name, self.seen))

    def visit_file(self, path):
        if path.is_file() and self.first_time("file", path):
            self.visit(_text_of(path))


def _settings_read(role, tasks_file, seen=None):
    """The public defaults a task file reads: named in it, in the task files and templates it runs, in the
    role's vars it uses, in the defaults it uses, and in the tasks of another role it includes with tasks_from.
    Comment lines are left out."""
    reader = _SettingsReader(role, set() if seen is None else seen)
    reader.visit_file(reader.role_dir / "tasks" / tasks_file)
    return reader.found


@pytest.mark.parametrize(("role", "entry"), ENTRY_POINTS, ids=[f"{r}:{e}" for r, e in ENTRY_POINTS])
def test_entry_points_list_the_settings_their_tasks_read(role, entry):
    """Each entry point documents the role settings its tasks read (main: tasks/main.yml)."""
    tasks_file = "main.yml" if entry == "main" else entry
    if entry == "main" and not (ROLES_DIR / role / "tasks").exists():
        pytest.skip(f"{role} has no tasks (the wiring role: defaults other roles read)")
    assert (ROLES_DIR / role / "tasks" / tasks_file).is_file(), f"no tasks/{tasks_file} for entry point {entry}"
    options = entry_points(role)[entry].get("options") or {}
    not_listed = {name for (r, e, name) in NOT_LISTED if (r, e) == (role, entry)}
    assert not not_listed & set(options), f"{entry} lists {sorted(not_listed & set(options))}: drop its exception"
    missing = _settings_read(role, tasks_file) - set(options) - not_listed
    assert not missing, f"{entry} reads {sorted(missing)} but does not list them"
