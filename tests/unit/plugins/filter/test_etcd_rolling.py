"""etcd_restart_order: a rolling restart takes the members that are down first, the leader last."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.etcd_rolling import etcd_restart_order

URLS = {"n1": "https://[fd00::1]:2379", "n2": "https://[fd00::2]:2379", "n3": "https://[fd00::3]:2379"}


def endpoint(host, healthy=True, leader=False):
    return {"endpoint": URLS[host], "healthy": healthy, "is_leader": leader}


def test_the_leader_goes_last():
    endpoints = [endpoint("n1", leader=True), endpoint("n2"), endpoint("n3")]
    assert etcd_restart_order(["n1", "n2", "n3"], endpoints, URLS) == ["n2", "n3", "n1"]


def test_a_member_that_is_down_goes_first():
    """Restarting a healthy member while another is down would lose the quorum of three."""
    endpoints = [endpoint("n1"), endpoint("n2", leader=True), endpoint("n3", healthy=False)]
    assert etcd_restart_order(["n1", "n2", "n3"], endpoints, URLS) == ["n3", "n1", "n2"]


def test_a_member_missing_from_the_answer_counts_as_down():
    assert etcd_restart_order(["n1", "n2"], [endpoint("n1")], URLS) == ["n2", "n1"]
    # No answer at all (the health read failed): the given order.
    assert etcd_restart_order(["n2", "n1"], [], URLS) == ["n2", "n1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("n1", [], URLS), "expects a list of hosts"),
        ((["n1"], [{"healthy": True}], URLS), "mapping with 'endpoint'"),
    ],
)
def test_wrong_input_is_refused(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        etcd_restart_order(*args)
