# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster health report of gardenos.cluster (``playbooks/health.yml``).

The playbook only observes: it pings the hosts, reads their services, and runs each role's
read-only entry point (``tasks/health.yml`` of etcd, patroni, pgbackrest, haproxy and k3s_server), which reads
that role's state with the role's own settings and publishes it on its hosts as ``<role>_health``,
a mapping of the observations below. It hands them all to ``health_checks``, which turns them into
checks. Each check is a mapping ``{group, name, status, saw, fix}``: ``status`` is ``pass``,
``warn``, ``fail`` or ``skip`` (not applicable here, for example K3s without K3s servers),
``saw`` says what was observed and ``fix`` (for anything but ``pass`` and ``skip``) what to do.
``health_score`` counts them and ``health_report`` renders the plain-text report.

The observations (``health_checks``' input) are::

    cluster: <cluster name>
    groups: {all: [...], etcd: [...], patroni: [...], backup: [...], haproxy: [...], k3s_server: [...],
             k3s_agent: [...]}
    hosts:
      <host>:
        ip: <gardenos_ip>
        ping: <registered ansible.builtin.ping (ignore_unreachable)>
        services: <registered ansible.builtin.service_facts>
        # from etcd_health, patroni_health, k3s_server_health: the certificates of the etcd PKI each
        # role installed, as ansible.builtin.slurp read them (registered loop results under
        # failed_when: false; each item: {path, name}); their expiry is read here, on the controller
        etcd_certs, patroni_certs, k3s_certs: [<slurp result>, ...]
        # from haproxy_health
        haproxy_info: <registered gardenos.cluster.haproxy_info>
        haproxy_stats_anonymous: {status, msg} of a GET of the stats page without credentials
        haproxy_stats_auth: {status, msg} of a GET of the stats page with the credentials
        haproxy_refused_source: {outcome, detail, source, target} of a connection to the PostgreSQL
                                frontend from the loopback address (refused_source_probe.py), {} without one
        haproxy_refused_source_allowed: whether servers.yaml's networks hold that source after all
        # from patroni_health, on each member
        patroni_plain_http: {url, status, msg} of a GET of the member's REST API over plain HTTP
        # from pgbackrest_health: on each Patroni member, its pg_stat_archiver; on the repository server
        # (the service backup), `pgbackrest info --output=json` and `pgbackrest check` (registered commands)
        pgbackrest_archiver: {in_recovery, last_archived_wal, last_archived_epoch, last_failed_wal,
                              last_failed_epoch, current_wal}
        pgbackrest_info, pgbackrest_check: <registered ansible.builtin.command (failed_when: false)>
        # run once, for the whole cluster, on one host (any host holding them will do); from
        # etcd_health, patroni_health and k3s_server_health:
        etcd_members: {<etcd host>: {endpoint: <client URL>, quota_bytes: <quota-backend-bytes>}}
        etcd_runner: <host that ran the etcd checks>
        etcd_info: <registered gardenos.cluster.etcd_info over every endpoint>
        etcd_no_cert: <registered loop of ansible.builtin.uri on each endpoint without a client
                       certificate; item: {key: <host>, value: {endpoint: ...}}>
        patroni_runner: <host that ran patroni_check>
        patroni_check: <registered gardenos.cluster.patroni_check (fail_on_unhealthy false)>
        etcd_patroni_registry: {url, logged_in, login_status, status, error, auth_wanted} of a read of
                               /registry/ with Patroni's etcd certificate and credentials
        k3s_kubeconfig: {path, exists}
        k3s_nodes, k3s_storage_classes, k3s_pods: <registered kubernetes.core.k8s_info>
        k3s_secrets_encryption: <registered `k3s secrets-encrypt status` (failed_when: false)> + {host}

A result that is missing means the task that observes it did not run (its host unreachable, or no
host of the group reachable): its checks fail with that reason, never pass.

This file only maps the filter names. The checks live in plugins/plugin_utils/health/, one file per
group of the report: hosts.py, etcd.py (and etcd_certs.py for the certificates of the etcd PKI), k3s.py,
patroni.py, backups.py, haproxy.py, security.py, and services.py for the systemd units each group ends with.
checks.py runs them in the report's order (health_checks), report.py scores and renders them
(health_score, health_report), common.py holds what they share (the check mapping, Observations).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.checks import health_checks
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.report import health_report, health_score


class FilterModule:
    """The health report filters."""

    def filters(self):
        return {
            "health_checks": health_checks,
            "health_score": health_score,
            "health_report": health_report,
        }
