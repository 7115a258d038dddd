"""etcd_healthy_member and etcd_lost_members: the etcd role's membership decisions."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.etcd_members import etcd_healthy_member, etcd_lost_members

HEALTHY = {"healthy": True, "endpoints": [{"endpoint": "https://127.0.0.1:2379", "healthy": True}]}
DOWN = {
    "failed": True,
    "msg": "cannot reach etcd at any endpoint: https://127.0.0.1:2379: connection refused",
}
NO_LEADER = {
    "healthy": False,
    "endpoints": [{"endpoint": "https://127.0.0.1:2379", "healthy": False, "error": "no leader"}],
}


def test_the_first_healthy_member_by_name_is_chosen_whatever_the_order_given():
    reports = {"etcd-1": DOWN, "etcd-2": HEALTHY, "etcd-3": HEALTHY}
    chosen = etcd_healthy_member(["etcd-3", "etcd-2", "etcd-1"], reports)
    assert chosen["member"] == "etcd-2"
    assert chosen["unhealthy"] == ["etcd-1: " + DOWN["msg"]]


def test_every_candidate_down_chooses_none_and_says_why():
    reports = {
        "etcd-1": NO_LEADER,
        "etcd-2": {"unreachable": True, "msg": "ssh: connect timed out"},
        "etcd-3": {"skipped": True},
    }
    chosen = etcd_healthy_member(["etcd-1", "etcd-2", "etcd-3", "etcd-4"], reports)
    assert chosen == {
        "member": None,
        "unhealthy": [
            "etcd-1: no leader",
            "etcd-2: host unreachable: ssh: connect timed out",
            "etcd-3: not measured (skipped)",
            "etcd-4: not measured (not in the play)",
        ],
    }


def test_a_report_that_is_not_true_is_not_healthy():
    # A learner's etcd_info fails ("rpc not supported for learner"); a report without the field is no proof.
    reports = {"etcd-1": {"healthy": "yes"}, "etcd-2": {"failed": True, "msg": "rpc not supported for learner"}}
    assert etcd_healthy_member(["etcd-1", "etcd-2"], reports)["member"] is None


def test_reports_must_be_a_mapping():
    with pytest.raises(AnsibleFilterError):
        etcd_healthy_member(["etcd-1"], ["etcd-1"])


PEERS = {f"etcd-{n}": f"https://[fd00::{n}]:2380" for n in range(1, 6)}


def member(n, learner=False, name=None):
    return {
        "id": f"{0xA0 + n:016x}",
        "name": f"etcd-{n}" if name is None else name,
        "peer_urls": [PEERS[f"etcd-{n}"]],
        "is_learner": learner,
    }


def test_a_listed_member_without_data_is_lost_a_new_server_is_not():
    members = [member(1), member(2), member(3)]
    result = etcd_lost_members(["etcd-4", "etcd-2"], members, PEERS)
    assert result == {"lost": [{"host": "etcd-2", "id": "00000000000000a2", "is_learner": False}], "refusal": ""}


def test_a_member_added_but_never_started_is_found_by_its_peer_url():
    members = [member(1), member(2), member(3), member(4, learner=True, name="")]
    result = etcd_lost_members(["etcd-4"], members, PEERS)
    assert result["lost"] == [{"host": "etcd-4", "id": "00000000000000a4", "is_learner": True}]
    assert result["refusal"] == ""


def test_two_of_three_voters_without_data_is_refused_with_a_restore():
    members = [member(1), member(2), member(3)]
    result = etcd_lost_members(["etcd-3", "etcd-1"], members, PEERS)
    assert [m["host"] for m in result["lost"]] == ["etcd-1", "etcd-3"]
    assert "only 1 of the 3 voting members kept theirs, fewer than the quorum of 2" in result["refusal"]
    assert "etcd_restore.yml" in result["refusal"]


@pytest.mark.parametrize(
    ("voters", "lost", "refused"),
    [(5, 2, False), (5, 3, True), (4, 1, False), (4, 2, True), (1, 1, True), (3, 1, False)],
)
def test_the_voters_that_kept_their_data_must_be_a_quorum(voters, lost, refused):
    members = [member(n) for n in range(1, voters + 1)]
    hosts = [f"etcd-{n}" for n in range(1, lost + 1)]
    result = etcd_lost_members(hosts, members, PEERS)
    assert len(result["lost"]) == lost
    assert bool(result["refusal"]) is refused


def test_lost_learners_do_not_count_against_the_quorum():
    members = [member(1), member(2), member(3, learner=True)]
    assert etcd_lost_members(["etcd-3"], members, PEERS)["refusal"] == ""


def test_peer_urls_must_be_a_mapping():
    with pytest.raises(AnsibleFilterError):
        etcd_lost_members(["etcd-1"], [member(1)], ["https://[fd00::1]:2380"])
