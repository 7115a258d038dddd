"""Every secret a role generates is one the identity role makes first and keeps with the cluster.

The roles read their generated secrets through ``lookup('ansible.builtin.password', <file>, length=N)``;
the identity role makes the files of the wiring role's ``wiring_generated_secrets`` before any node is
touched. A lookup of a file not in that list would make a secret the cluster does not keep (another
controller would make a different one), and a different length would be a second definition.
"""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
LOOKUP = re.compile(r"lookup\('ansible\.builtin\.password',\s*([^,]+?),\s*length=(\d+)", re.S)


def role_lookups():
    found = {}
    for path in sorted(REPO.glob("roles/*/*/main.yml")):
        text = path.read_text()
        for expression, length in LOOKUP.findall(text):
            target = expression.strip()
            if not target.startswith("wiring_secrets_controller_dir"):
                # A variable of the role that names the file (haproxy's _haproxy_stats_password_file).
                target = yaml.safe_load((path.parent.parent / "vars" / "main.yml").read_text())[target]
            name = re.search(r"/([A-Za-z0-9_.-]+)'?\s*(\}\})?\s*$", target).group(1)
            found.setdefault(name, set()).add((int(length), str(path.relative_to(REPO))))
    return found


def test_every_generated_secret_is_kept_by_the_identity_with_the_same_length():
    generated = yaml.safe_load((REPO / "roles/wiring/vars/main.yml").read_text())["wiring_generated_secrets"]
    lookups = role_lookups()
    assert lookups, "no password lookup found: the pattern no longer matches the roles"
    for name, uses in lookups.items():
        assert name in generated, f"{name} ({uses}) is not in wiring_generated_secrets"
        assert {length for length, role_file in uses} == {generated[name]}, (name, uses, generated[name])
    assert set(generated) == set(lookups), "wiring_generated_secrets lists secrets no role reads"
