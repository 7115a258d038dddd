"""Roles' variables as Ansible loads and templates them, for tests of the filters their vars/main.yml use."""

from pathlib import Path

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

REPO = Path(__file__).resolve().parents[4]


def load(loader, path):
    """A vars file, its strings trusted as templates (as Ansible loads a role's defaults and vars)."""
    return loader.load_from_file(str(path), trusted_as_template=True) or {}


def role_variables(*parts, **overrides):
    """``(loader, variables)``: the files ``roles/<part>/main.yml`` in order (later ones win), then ``overrides``."""
    loader = DataLoader()
    variables = {}
    for part in parts:
        variables.update(load(loader, REPO / "roles" / part / "main.yml"))
    variables.update(overrides)
    return loader, variables


def template(loader, variables, expression):
    return Templar(loader=loader, variables=variables).template(trust_as_template(expression))
