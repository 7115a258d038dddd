"""k3s_control_plane_taints: which taints the k3s_server role removes."""

import json

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.k3s import k3s_control_plane_taints

NODES = {
    "items": [
        {
            "metadata": {"name": "server-a"},
            "spec": {
                "taints": [
                    {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                    {"key": "node-role.kubernetes.io/master", "value": "true", "effect": "NoExecute"},
                    {"key": "node-role.kubernetes.io/control-plane", "effect": "PreferNoSchedule"},
                    {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                ]
            },
        },
        {"metadata": {"name": "server-b"}, "spec": {}},
        {"metadata": {"name": "agent-c"}, "spec": {"taints": None}},
    ]
}


def test_only_blocking_control_plane_taints_are_returned():
    assert k3s_control_plane_taints(json.dumps(NODES)) == [
        {"node": "server-a", "key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
        {"node": "server-a", "key": "node-role.kubernetes.io/master", "effect": "NoExecute"},
    ]


def test_a_parsed_node_list_reads_the_same():
    assert k3s_control_plane_taints(NODES) == k3s_control_plane_taints(json.dumps(NODES))


@pytest.mark.parametrize("nothing", ["", "  \n", {"items": []}, {"kind": "NodeList", "items": None}])
def test_no_nodes_no_taints(nothing):
    assert k3s_control_plane_taints(nothing) == []


@pytest.mark.parametrize(
    ("bad", "message"), [("error: the server doesn't have a resource", "not the JSON"), ([], "NodeList")]
)
def test_anything_else_is_refused(bad, message):
    with pytest.raises(AnsibleFilterError, match=message):
        k3s_control_plane_taints(bad)
