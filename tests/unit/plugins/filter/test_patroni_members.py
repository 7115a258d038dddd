"""patroni_healthy_member: the member the patroni role's removal talks through."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.patroni_members import patroni_healthy_member


def report(states):
    return {"members": [{"name": name, "state": state} for name, state in states.items()]}


def test_the_first_member_listing_itself_running_is_chosen_whatever_the_order_given():
    reports = {
        "pg-1": {"unreachable": True, "msg": "ssh: connect timed out"},
        "pg-2": report({"pg-2": "streaming", "pg-3": "running"}),
        "pg-3": report({"pg-2": "streaming", "pg-3": "running"}),
    }
    chosen = patroni_healthy_member(["pg-3", "pg-1", "pg-2"], reports)
    assert chosen == {"member": "pg-2", "unhealthy": ["pg-1: host unreachable: ssh: connect timed out"]}


def test_a_stopped_or_missing_member_is_passed_over_with_the_reason():
    reports = {
        "pg-1": report({"pg-1": "stopped", "pg-2": "running"}),
        "pg-2": {"failed": True, "msg": "cannot reach Patroni at any URL", "members": []},
        "pg-3": {"skipped": True},
    }
    assert patroni_healthy_member(["pg-1", "pg-2", "pg-3", "pg-4"], reports) == {
        "member": None,
        "unhealthy": [
            "pg-1: its Patroni is in state 'stopped'",
            "pg-2: cannot reach Patroni at any URL",
            "pg-3: not measured (skipped)",
            "pg-4: not measured (not in the play)",
        ],
    }


def test_reports_must_be_a_mapping():
    with pytest.raises(AnsibleFilterError):
        patroni_healthy_member(["pg-1"], [])
