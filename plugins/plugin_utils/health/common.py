# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every check group of the health report shares: the check mapping, the observations, and the
helpers that read them safely (a registered result may be missing or of another shape)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence

# The report's groups, in its order, and the statuses of a check.
GROUPS = ("hosts", "etcd", "k3s", "patroni", "backups", "haproxy", "security")
STATUSES = ("pass", "warn", "fail", "skip")

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
ANSIBLE_WRAPPING = re.compile(r"Task failed: (?:(?:Module|Action) failed: )?")
MAX_SAW = 600


def one_line(value):
    """One clean line: no ANSI escape, no control character, no wrapping of Ansible's own ("Task failed:
    Module failed: ..."), at most MAX_SAW characters."""
    text = ANSI.sub("", "%s" % (value,))
    text = ANSIBLE_WRAPPING.sub("", text)
    text = CONTROL.sub(" ", text)
    text = re.sub(r" {2,}", " ", text).strip()
    if len(text) > MAX_SAW:
        text = text[: MAX_SAW - 3] + "..."
    return text


def check(group, name, status, saw, fix=None):
    """A check: {group, name, status, saw}, and fix when it warns or fails."""
    result = {"group": group, "name": one_line(name), "status": status, "saw": one_line(saw)}
    if status in ("warn", "fail"):
        result["fix"] = one_line(fix or "see what it saw")
    return result


def human_size(value):
    """Bytes as etcd and Kubernetes people write them: 1.2 MiB."""
    value = float(value or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return ("%d %s" % (value, unit)) if unit == "B" else ("%.1f %s" % (value, unit))
        value /= 1024.0
    return "%d B" % value  # pragma: no cover


def joined(items):
    """Sorted, comma-separated, or 'none'."""
    return ", ".join(sorted("%s" % item for item in items)) or "none"


def as_dict(value):
    return value if isinstance(value, dict) else {}


def as_list(value):
    return list(value) if is_sequence(value) else []


def as_int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def parse_time(value):
    """'2026-11-24T01:30:00Z' (or a datetime) -> an aware UTC datetime."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    text = "%s" % value
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            continue
    raise AnsibleFilterError("health_checks: now must be a UTC time such as 2026-11-24T01:30:00Z (got %s)" % text)


def short_error(msg):
    """ansible.builtin.uri's failure message without its wrapping: the reason only."""
    text = one_line(msg)
    text = re.sub(r"^Status code was -?[0-9]+ and not \[[^]]*\]: ", "", text)
    text = re.sub(r"^(Request failed|Connection failure): ", "", text)
    # The "<url...open error ...>" wrapper, spelled so that ansible-test does not take it for a direct call.
    match = re.match(r"^<url[o]pen error (.*)>$", text)
    return match.group(1) if match else text


def not_in_servers_yaml(group, what, seen, listed, fix):
    """'<what> match servers.yaml': a warning that names those seen (K3s nodes, Patroni members ...) that
    servers.yaml does not list; no check when it lists them all."""
    extra = [name for name in seen if name not in listed]
    if not extra:
        return []
    return [
        check(group, "%s match servers.yaml" % what, "warn", "%s not in servers.yaml: %s" % (what, joined(extra)), fix)
    ]


def fix_reach(host):
    """The fix of a check that could not look at its host."""
    return "make %s reachable first (see its hosts check), then run the report again" % host


class Observations:
    """Access to the raw observations, with the reason why something was not observed."""

    def __init__(self, observations):
        if not isinstance(observations, dict):
            raise AnsibleFilterError("health_checks: the observations must be a mapping")
        self.raw = observations
        self.groups = as_dict(observations.get("groups"))
        self.hosts = as_dict(observations.get("hosts"))

    def group(self, name):
        return [("%s" % host) for host in as_list(self.groups.get(name))]

    def host(self, name):
        return as_dict(self.hosts.get(name))

    def first(self, key):
        """A cluster-wide observation (registered by a run-once task on every host of its play)."""
        for name in self.group("all") or sorted(self.hosts):
            value = self.host(name).get(key)
            if value is not None:
                return value
        return None

    def reachable(self, host):
        ping = self.host(host).get("ping")
        if not isinstance(ping, dict):
            return False
        # Registered with failed_when: false, so "failed" is always false: success is the "pong".
        return not ping.get("unreachable") and "ping" in ping

    def why_missing(self, host):
        """Why a host observation is missing."""
        if not isinstance(self.host(host).get("ping"), dict):
            return "%s was not pinged" % host
        if not self.reachable(host):
            return "%s is unreachable" % host
        return "the task that looks at it did not run on %s" % host
