#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection in an ansible_collections/gardenos/cluster
# tree, as ansible-test requires; the ignore files in tests/sanity/ stay empty.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/gardenos-sanity.XXXXXX)
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/gardenos/cluster
mkdir -p "$dest"
# Only what git tracks or would track: the same files a build ships.
(cd "$repo" && git ls-files -co --exclude-standard -z) | (cd "$repo" && xargs -0 cp --parents -t "$dest")
cd "$dest"
git init -q && git add -A && git -c user.name=ci -c user.email=ci@invalid commit -qm sanity
python_version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# ansible-test bootstraps pip in each test's venv with a script it downloads from a host
# that is unreachable here; give it the offline equivalent, with pip's wheel from PyPI.
pip_version=$(python3 -c 'import types; from ansible_test._internal.python_requirements import get_venv_packages as p; print(p(types.SimpleNamespace(version=None))["pip"])')
cache=$HOME/.ansible/test/cache
mkdir -p "$cache"
if [[ ! -f "$cache/get_pip_${pip_version//./_}.py" ]]; then
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$cache" "pip==$pip_version"
  cp "$repo/tests/sanity_pip_bootstrap.py" "$cache/get_pip_${pip_version//./_}.py"
fi
ansible-test sanity --color no --python "$python_version" --requirements "$@"
