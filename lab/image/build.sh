#!/usr/bin/env bash
# Builds the Debian bookworm systemd image of the lab and molecule hosts with mmdebstrap
# (debootstrap's successor in Debian: apt downloads in parallel and one dpkg run; measured 46 s
# against debootstrap's 97 s for this package list), and skips the build when an image of the
# same recipe (this script + packages.txt) exists.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=${GARDENOS_HOST_IMAGE:-localhost/gardenos-host:bookworm}
suite=bookworm
mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/../containers.conf}

recipe=$(cat "$0" "$here/packages.txt" | sha256sum | cut -c1-16)
current=$(podman image inspect --format '{{ index .Labels "org.gardenos.recipe" }}' "$image" 2>/dev/null || true)
if [[ "$current" == "$recipe" ]]; then
  echo "image $image is up to date (recipe $recipe)"
  exit 0
fi

start=$(date +%s)
rootfs=$(mktemp -d /var/tmp/gardenos-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
packages=$(grep -v '^\s*#' "$here/packages.txt" | grep -v '^\s*$' | paste -sd, -)
echo "mmdebstrap $suite from $mirror with: $packages"
mmdebstrap --quiet --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror"

# apt in the hosts uses the same mirror as this machine, with updates and security.
security_mirror=${mirror%/debian}/debian-security
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
SOURCES
# An image is shared by many hosts: each must get its own machine-id and ssh host keys.
: >"$rootfs/etc/machine-id"
rm -f "$rootfs"/etc/ssh/ssh_host_*
mkdir -p "$rootfs/etc/systemd/system/ssh.service.d"
cat >"$rootfs/etc/systemd/system/ssh.service.d/host-keys.conf" <<'UNIT'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
UNIT
install -d -m 0700 "$rootfs/root/.ssh"
# Pre-baked services start only when a role has configured them.
for unit in etcd.service haproxy.service keepalived.service postgresql.service; do
  rm -f "$rootfs"/etc/systemd/system/multi-user.target.wants/$unit
done
# And disabled for real: with etcd-server's etcd2.service alias left behind, `systemctl
# is-enabled etcd` says "indirect", Ansible takes that for enabled, and etcd would not start
# at boot (seen on the lab after a host restart).
rm -f "$rootfs"/etc/systemd/system/etcd2.service
# Patroni makes its own PostgreSQL cluster: drop the default one the package made, and make
# no other (the patroni role writes the same setting on real servers before installing).
[[ ! -d "$rootfs/etc/postgresql/15/main" ]] || chroot "$rootfs" pg_dropcluster 15 main
mkdir -p "$rootfs/etc/postgresql-common/createcluster.d"
echo "create_main_cluster = false" >"$rootfs/etc/postgresql-common/createcluster.d/gardenos.conf"
# Units that only make sense on real hardware slow every container boot.
for unit in systemd-timesyncd.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer \
            e2scrub_all.timer fstrim.timer systemd-logind.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/*_Packages 2>/dev/null || true
# The image has no package lists: date the lists directory back, so that apt tasks with a
# cache_valid_time update them instead of finding "no package matching" in an empty cache.
touch -d @0 "$rootfs/var/lib/apt/lists"

tar -C "$rootfs" -c . | podman import \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change 'ENV container=podman' \
  --change 'STOPSIGNAL SIGRTMIN+3' \
  --change "LABEL org.gardenos.recipe=$recipe" \
  - "$image" >/dev/null
echo "built $image (recipe $recipe) in $(( $(date +%s) - start ))s"
