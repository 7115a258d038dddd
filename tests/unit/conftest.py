"""Unit tests import the collection's code as ``ansible_collections.gardenos.cluster``, as Ansible does."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# the repository's settings (enabled inventory plugins ...), wherever pytest is started from
os.environ.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))

from ansible.plugins.loader import init_plugin_loader  # noqa: E402  (after ANSIBLE_CONFIG is set)
from ansible.utils.collection_loader import AnsibleCollectionConfig  # noqa: E402


def _collections_root():
    """A collections root holding this repository as gardenos.cluster: `make venv`'s, or a temporary one."""
    root = REPO / ".collections"
    if (root / "ansible_collections" / "gardenos" / "cluster").resolve() == REPO:
        return root
    tmp = Path(tempfile.mkdtemp(prefix="gardenos-collections-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    (tmp / "ansible_collections" / "gardenos").mkdir(parents=True)
    (tmp / "ansible_collections" / "gardenos" / "cluster").symlink_to(REPO)
    return tmp


if AnsibleCollectionConfig.collection_finder is None:
    init_plugin_loader([str(_collections_root())])
