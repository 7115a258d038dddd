# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The K3s checks of the health report, from kubernetes.core.k8s_info on the controller through the
fetched kubeconfig: each node Ready, no control-plane taints, exactly one default StorageClass, the
kube-system pods running; then the k3s and k3s-agent services."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.common import (
    as_dict,
    as_list,
    check,
    joined,
    not_in_servers_yaml,
)
from ansible_collections.gardenos.cluster.plugins.plugin_utils.health.services import service_checks

K3S_CHECKS = ("nodes Ready", "no control-plane taints", "default StorageClass", "core pods running")

CONTROL_PLANE_TAINTS = (
    "node-role.kubernetes.io/control-plane",
    "node-role.kubernetes.io/master",
    "node-role.kubernetes.io/etcd",
    "CriticalAddonsOnly",
)
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def k3s_checks(obs):
    """The node, taint, StorageClass and pod checks, then the services; a skip of each without K3s servers."""
    servers = obs.group("k3s_server")
    if not servers:
        return [check("k3s", name, "skip", "no k3s_server hosts in the inventory") for name in K3S_CHECKS]
    kubeconfig = as_dict(obs.first("k3s_kubeconfig"))
    path = kubeconfig.get("path") or "secrets/kubeconfig.yaml"
    if not kubeconfig:
        return [
            check(
                "k3s",
                name,
                "fail",
                "not checked: no k3s_server host was reachable to read the cluster from",
                "make a k3s_server host reachable over SSH (see the hosts checks), and run the whole playbook, "
                "without --limit",
            )
            for name in K3S_CHECKS
        ]
    if not kubeconfig.get("exists"):
        return [
            check(
                "k3s",
                name,
                "fail",
                "no kubeconfig at %s on the controller" % path,
                "run site.yml: the k3s_server role fetches it",
            )
            for name in K3S_CHECKS
        ]
    api_fix = (
        "check the API through HAProxy: kubectl --kubeconfig %s get nodes; on the servers: systemctl status k3s" % path
    )
    nodes_expected = servers + [host for host in obs.group("k3s_agent") if host not in servers]
    checks = _node_checks(obs.first("k3s_nodes"), servers, nodes_expected, api_fix)
    checks.append(_storage_class_check(obs.first("k3s_storage_classes"), api_fix))
    checks.append(_core_pods_check(obs.first("k3s_pods"), api_fix))
    return checks + service_checks(obs, "k3s")


def _unread(result):
    """Whether a registered k8s_info lists no resources: it failed, or did not run."""
    return "resources" not in as_dict(result)


def _resources(result):
    return [as_dict(resource) for resource in as_list(as_dict(result).get("resources"))]


def _name_of(resource):
    return as_dict(resource.get("metadata")).get("name")


def _node_checks(result, servers, nodes_expected, api_fix):
    """'node <host> Ready' for each inventory node, nodes not in servers.yaml, 'no control-plane taints'."""
    if _unread(result):
        return [
            check(
                "k3s", "nodes Ready", "fail", "nodes not read: %s" % as_dict(result).get("msg", "no result"), api_fix
            ),
            check("k3s", "no control-plane taints", "fail", "nodes not read", api_fix),
        ]
    nodes = dict((_name_of(node), node) for node in _resources(result))
    checks = [_node_ready_check(host, nodes, servers) for host in nodes_expected]
    checks.extend(
        not_in_servers_yaml(
            "k3s",
            "nodes",
            nodes,
            nodes_expected,
            "kubectl delete node <name> for nodes that are gone, or add them to servers.yaml",
        )
    )
    checks.append(_taint_check(nodes))
    return checks


def _node_ready_check(host, nodes, servers):
    name = "node %s Ready" % host
    node = nodes.get(host)
    unit = "k3s" if host in servers else "k3s-agent"
    fix = "on %s: systemctl status %s; journalctl -u %s -n 50" % (host, unit, unit)
    if node is None:
        return check("k3s", name, "fail", "not registered (nodes: %s)" % joined(nodes), fix)
    status = as_dict(node.get("status"))
    ready = next((as_dict(c) for c in as_list(status.get("conditions")) if as_dict(c).get("type") == "Ready"), {})
    version = as_dict(status.get("nodeInfo")).get("kubeletVersion", "?")
    if ready.get("status") == "True":
        return check("k3s", name, "pass", "Ready, kubelet %s" % version)
    return check(
        "k3s",
        name,
        "fail",
        "Ready=%s: %s %s" % (ready.get("status", "unknown"), ready.get("reason", ""), ready.get("message", "")),
        fix,
    )


def _taint_check(nodes):
    """'no control-plane taints': the servers are hybrid, they run workloads too."""
    tainted = []
    for node_name, node in sorted(nodes.items()):
        for taint in map(as_dict, as_list(as_dict(node.get("spec")).get("taints"))):
            if taint.get("key") in CONTROL_PLANE_TAINTS and taint.get("effect") in ("NoSchedule", "NoExecute"):
                tainted.append("%s %s:%s" % (node_name, taint.get("key"), taint.get("effect")))
    if tainted:
        return check(
            "k3s",
            "no control-plane taints",
            "fail",
            "tainted: %s" % "; ".join(tainted),
            "run site.yml (the servers are hybrid: the k3s_server role removes these taints), or "
            "kubectl taint nodes <node> <key>-",
        )
    return check(
        "k3s",
        "no control-plane taints",
        "pass",
        "no NoSchedule/NoExecute control-plane taint on %d node(s)" % len(nodes),
    )


def _storage_class_check(result, api_fix):
    """'default StorageClass': exactly one."""
    name = "default StorageClass"
    if _unread(result):
        return check(
            "k3s", name, "fail", "StorageClasses not read: %s" % as_dict(result).get("msg", "no result"), api_fix
        )
    classes = _resources(result)
    defaults = [
        "%s (%s)" % (_name_of(c), c.get("provisioner"))
        for c in classes
        if any(
            as_dict(as_dict(c.get("metadata")).get("annotations")).get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS
        )
    ]
    fix = "run site.yml: the local_path_storage role makes local-path the one default StorageClass"
    all_names = joined(_name_of(c) for c in classes)
    if len(defaults) == 1:
        return check("k3s", name, "pass", "%s is the default (classes: %s)" % (defaults[0], all_names))
    if not defaults:
        return check("k3s", name, "fail", "no default among: %s" % all_names, fix)
    return check("k3s", name, "fail", "several defaults: %s" % joined(defaults), fix)


def _core_pods_check(result, api_fix):
    """'core pods running': every kube-system pod running and ready (finished ones aside), CoreDNS among them."""
    name = "core pods running"
    if _unread(result):
        return check("k3s", name, "fail", "pods not read: %s" % as_dict(result).get("msg", "no result"), api_fix)
    running, bad = _sort_pods(_resources(result))
    has_dns = any((pod or "").startswith("coredns") for pod in running)
    if bad or not has_dns:
        saw = "not running and ready in kube-system: %s" % ("; ".join(bad) if bad else "none")
        if not has_dns:
            saw += "; no running CoreDNS pod"
        return check(
            "k3s",
            name,
            "fail",
            saw,
            "kubectl -n kube-system describe pod <pod> and kubectl -n kube-system logs <pod>",
        )
    return check(
        "k3s", name, "pass", "%d pod(s) running and ready in kube-system: %s" % (len(running), joined(running))
    )


def _sort_pods(pods):
    """(names of the pods running and ready, '<pod> <phase> (<waiting reasons>)' of the others); pods that
    succeeded (finished jobs) are in neither."""
    running = []
    bad = []
    for pod in pods:
        status = as_dict(pod.get("status"))
        phase = status.get("phase")
        if phase == "Succeeded":
            continue
        containers = [as_dict(c) for c in as_list(status.get("containerStatuses"))]
        not_ready = [c.get("name") for c in containers if not c.get("ready")]
        if phase == "Running" and containers and not not_ready:
            running.append(_name_of(pod))
            continue
        waiting = [_waiting_reason(c) for c in containers if _waiting_reason(c)]
        bad.append("%s %s%s" % (_name_of(pod), phase, (" (%s)" % ", ".join(waiting)) if waiting else ""))
    return running, bad


def _waiting_reason(container):
    return as_dict(as_dict(container.get("state")).get("waiting")).get("reason")
