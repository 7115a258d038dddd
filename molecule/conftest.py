"""Testinfra settings shared by every molecule scenario.

Hosts are reached with `podman exec` (about ten times faster than the ansible backend) and
are the servers of the scenario's own servers.yaml, the same file the converge used.
"""

import os
import sys
from pathlib import Path

import yaml

# The collection's one host:port / URL builder (an IPv6 address in brackets), the roles' own, from
# the collections root `make venv` links to this repository.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".collections"))
from ansible_collections.gardenos.cluster.plugins.module_utils.host_port import host_port, url

__all__ = ["host_port", "scenario_cluster", "scenario_servers", "url"]


def _scenario_inventory():
    path = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"]) / "servers.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def scenario_servers(service=None):
    """Return the scenario's servers.yaml `servers` mapping, or only the servers with ``service``."""
    servers = _scenario_inventory()["servers"]
    return {name: server for name, server in servers.items() if service is None or service in server["services"]}


def scenario_cluster():
    """Return the scenario's servers.yaml `cluster` mapping."""
    return _scenario_inventory().get("cluster", {})


def pytest_configure(config):
    if "MOLECULE_SCENARIO_DIRECTORY" in os.environ and not config.option.hosts:
        config.option.hosts = ",".join(f"podman://{name}" for name in scenario_servers())


def pytest_collection_modifyitems(items):
    """The fault drills (test_drills.py) run last: they crash hosts (a restarted host's journal starts anew) and
    move the leader and the VIP."""
    items.sort(key=lambda item: item.path.name == "test_drills.py")
