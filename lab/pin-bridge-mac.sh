#!/usr/bin/env bash
# Usage: lab/pin-bridge-mac.sh <podman network>
# Gives the network's bridge its current MAC address as its own. A Linux bridge without an address
# of its own takes the lowest of its ports' addresses: when the container behind that port stops,
# the bridge's address changes, and the other containers' neighbour entries for this machine (their
# gateway) go stale, so their replies to this machine are lost for about 5 s. Measured in the VIP
# holder drill: 6.3-7.4 s without writes from this machine instead of 3.2 s whenever the crashed
# host's port had the lowest address. A router of a real network keeps its address.
# Prints "pinned <bridge> <mac>" when it set the address, nothing when it was set already.
set -euo pipefail
bridge=$(podman network inspect --format '{{.NetworkInterface}}' "$1")
# addr_assign_type 3 (NET_ADDR_SET): the address was set, the bridge keeps it.
[ "$(cat "/sys/class/net/$bridge/addr_assign_type")" = 3 ] && exit 0
mac=$(cat "/sys/class/net/$bridge/address")
ip link set dev "$bridge" address "$mac"
echo "pinned $bridge $mac"
