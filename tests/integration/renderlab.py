"""Runs a render playbook of tests/integration/render/ on the controller: the roles' own templates and
variables, Ansible's real templating, the files written into render_dir."""

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_render(playbook, inventory, render_dir, *extra_vars, env=None):
    """ansible-playbook <render/playbook> on `inventory` (relative to the repository, or absolute) with
    ansible_connection=local, render_dir and each of `extra_vars` (-e); fails the test unless it succeeds."""
    command = ["ansible-playbook", "-i", str(REPO / inventory), "-e", "ansible_connection=local"]
    for variable in (f"render_dir={render_dir}", *extra_vars):
        command += ["-e", variable]
    command.append(str(REPO / "tests" / "integration" / "render" / playbook))
    environment = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), **(env or {}))
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False, cwd=REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result
