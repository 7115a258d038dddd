# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""health_checks: every check group of the health report, in the report's order, from the observations of
playbooks/health.yml (their shape: plugins/filter/health.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.backups import backup_checks
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.common import Observations, parse_time
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.etcd import etcd_checks
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.haproxy import haproxy_checks
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.hosts import host_checks
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.k3s import k3s_checks
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.patroni import patroni_checks
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.security import security_checks
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.services import service_checks


def health_checks(
    observations,
    now=None,
    *,
    cert_warn_days=30,
    quota_warn_percent=80,
    quota_fail_percent=95,
    patroni_max_lag=1048576,
    etcd_quota_bytes=2147483648,
    backup_warn_hours=26,
    backup_fail_hours=50,
    rpo_seconds=0,
):
    """The checks (a list of {group, name, status, saw, fix}) from the playbook's observations."""
    obs = Observations(observations)
    settings = {
        "now": parse_time(now) if now is not None else datetime.datetime.now(datetime.timezone.utc),
        "cert_warn_days": int(cert_warn_days),
        "quota_warn_percent": float(quota_warn_percent),
        "quota_fail_percent": float(quota_fail_percent),
        "patroni_max_lag": int(patroni_max_lag),
        "etcd_quota_bytes": int(etcd_quota_bytes),
        "backup_warn_hours": float(backup_warn_hours),
        "backup_fail_hours": float(backup_fail_hours),
        "rpo_seconds": int(rpo_seconds),
    }
    checks = []
    checks.extend(host_checks(obs))
    checks.extend(etcd_checks(obs, settings) + service_checks(obs, "etcd"))
    checks.extend(k3s_checks(obs))
    checks.extend(patroni_checks(obs, settings))
    checks.extend(backup_checks(obs, settings))
    checks.extend(haproxy_checks(obs))
    checks.extend(security_checks(obs))
    return checks
