#!/usr/bin/env bash
# `make deps`: the machine packages that `make lab` and `make test` need, on Debian 12 or
# Ubuntu 24.04. Installs only what is missing (as root, or through passwordless sudo) and is a
# no-op when everything is there. One line a package list entry: `a|b` takes the first of the
# alternatives the distribution has (Ubuntu 24.04 has no postgresql-15).
set -euo pipefail

packages=(
  make git rsync openssh-client shellcheck
  podman runc netavark aardvark-dns iptables mmdebstrap   # test hosts (podman + systemd)
  debian-archive-keyring                                   # mmdebstrap of Debian on Ubuntu
  'postgresql-15|postgresql' haproxy                       # integration tests on loopback
  python3-venv                                             # Patroni's venv and wheelhouse
)

installed() { [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]; }

missing=()
for entry in "${packages[@]}"; do
  IFS='|' read -ra alternatives <<<"$entry"
  found=
  for name in "${alternatives[@]}"; do
    installed "$name" && { found=$name; break; }
  done
  [[ -n "$found" ]] || missing+=("$entry")
done
if ((${#missing[@]} == 0)); then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "deps: missing ${missing[*]}; run 'make deps' as root or with passwordless sudo," \
    "or install them: apt-get install ${missing[*]//|*/}" >&2
  exit 1
fi

start=$SECONDS
echo "deps: installing ${missing[*]} (apt-get)"
"${as_root[@]}" apt-get update -qq
# Pick the first alternative the distribution knows, now that the lists are fresh.
names=()
for entry in "${missing[@]}"; do
  IFS='|' read -ra alternatives <<<"$entry"
  for name in "${alternatives[@]}"; do
    if [[ -n "$(apt-cache policy "$name" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)"')" ]]; then
      names+=("$name")
      continue 2
    fi
  done
  echo "deps: none of '$entry' is available from this machine's apt sources" >&2
  exit 1
done
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${names[@]}" >/dev/null
echo "deps: installed ${#names[@]} packages in $((SECONDS - start))s"
