"""K3s for real (only when K3S_BINARY is supplied): hybrid servers on the external etcd,
local-path as the one default StorageClass, the Spilo StatefulSet with a leader and two
streaming replicas, postgres-primary on the leader, and a failover that moves it.
"""

import json
import os
import time

import pytest
import testinfra
from conftest import scenario_servers

SERVERS = scenario_servers()
NAMES = sorted(SERVERS)
FIRST = testinfra.get_host(f"podman://{NAMES[0]}")
NAMESPACE = "postgres-cluster"
SCOPE = "postgres-k8s"
SELECTOR = f"app.kubernetes.io/name=spilo,app.kubernetes.io/instance={SCOPE}"

pytestmark = pytest.mark.skipif(not os.environ.get("K3S_BINARY"), reason="K3S_BINARY is not set")


def kubectl_json(*args):
    return json.loads(FIRST.check_output("k3s kubectl " + " ".join(args) + " -o json"))


def patroni_cluster():
    pod = f"{SCOPE}-0"
    out = FIRST.check_output(
        f"k3s kubectl -n {NAMESPACE} exec {pod} -c postgres -- curl -s http://localhost:8008/cluster"
    )
    return json.loads(out)


def leader_pod():
    pods = kubectl_json("-n", NAMESPACE, "get", "pods", "-l", f"{SELECTOR},spilo-role=primary")["items"]
    return [pod["metadata"]["name"] for pod in pods]


def primary_endpoint_ips():
    endpoints = kubectl_json("-n", NAMESPACE, "get", "endpoints", "postgres-primary")
    return sorted(addr["ip"] for subset in endpoints.get("subsets", []) for addr in subset.get("addresses", []))


def test_every_server_is_ready_and_untainted():
    nodes = kubectl_json("get", "nodes")["items"]
    assert sorted(node["metadata"]["name"] for node in nodes) == NAMES
    for node in nodes:
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", node["metadata"]["name"]
        taints = node["spec"].get("taints", [])
        assert not [t for t in taints if t["effect"] in ("NoSchedule", "NoExecute")], taints


def test_local_path_is_the_one_default_storage_class():
    classes = kubectl_json("get", "storageclass")["items"]
    defaults = [
        c["metadata"]["name"]
        for c in classes
        if c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class") == "true"
    ]
    assert defaults == ["local-path"]


def test_spilo_has_a_leader_and_two_streaming_replicas():
    members = patroni_cluster()["members"]
    assert len(members) == 3
    assert [m["role"] for m in members].count("leader") == 1
    replicas = [m for m in members if m["role"] != "leader"]
    assert all(m["state"] == "streaming" for m in replicas), members


def test_one_member_per_node():
    pods = kubectl_json("-n", NAMESPACE, "get", "pods", "-l", SELECTOR)["items"]
    assert sorted(pod["spec"]["nodeName"] for pod in pods) == NAMES


def test_postgres_primary_points_at_the_leader():
    pods = kubectl_json("-n", NAMESPACE, "get", "pods", "-l", SELECTOR)["items"]
    leader = next(m["name"] for m in patroni_cluster()["members"] if m["role"] == "leader")
    leader_ip = next(pod["status"]["podIP"] for pod in pods if pod["metadata"]["name"] == leader)
    assert primary_endpoint_ips() == [leader_ip]


def test_failover_moves_postgres_primary():
    old = leader_pod()
    assert len(old) == 1
    started = time.monotonic()
    FIRST.check_output(f"k3s kubectl -n {NAMESPACE} delete pod {old[0]} --wait=false")
    deadline = started + 180
    while time.monotonic() < deadline:
        now = leader_pod()
        if now and now != old:
            break
        time.sleep(2)
    else:
        pytest.fail(f"postgres-primary still on {old} after 180 s")
    print(f"\npostgres-primary moved from {old[0]} to {now[0]} in {time.monotonic() - started:.1f}s")
    pods = kubectl_json("-n", NAMESPACE, "get", "pods", "-l", SELECTOR)["items"]
    new_ip = next(pod["status"]["podIP"] for pod in pods if pod["metadata"]["name"] == now[0])
    assert primary_endpoint_ips() == [new_ip]
