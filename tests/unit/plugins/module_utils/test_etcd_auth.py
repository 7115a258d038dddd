"""The RBAC plan of gardenos.cluster.etcd_auth: steps from what etcd has to what is wanted (pure)."""

import pytest
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_auth import (
    describe_step,
    plan,
    summary,
    wanted_roles,
    wanted_users,
)

USERS = wanted_users(
    [
        {"name": "root", "password": "r", "roles": ["root"]},
        {"name": "patroni", "password": "p", "roles": ["patroni"]},
        {"name": "k3s", "password": None, "roles": ["k3s"]},
    ]
)
ROLES = wanted_roles(
    [
        {"name": "patroni", "permissions": [{"prefix": "/service/pg/", "type": "readwrite"}]},
        {"name": "k3s", "permissions": [{"prefix": "/registry/"}, {"key": "/a", "range_end": "/c", "type": "read"}]},
    ]
)
EMPTY = {"enabled": False, "users": {}, "roles": {}}


def words(steps):
    return [describe_step(action, args) for action, args in steps]


def made():
    """What etcd has once USERS and ROLES were applied and auth enabled."""
    return {
        "enabled": True,
        "users": {name: set(user["roles"]) for name, user in USERS.items()},
        "roles": dict(ROLES, root={}),
    }


def test_from_nothing_roles_then_users_then_enable():
    steps = plan(EMPTY, USERS, ROLES, enabled=True, purge=False, passwords_checked={})
    assert words(steps) == [
        "role add k3s",
        "grant read on [/a, /c) to role k3s",
        "grant readwrite on /registry/* to role k3s",
        "role add patroni",
        "grant readwrite on /service/pg/* to role patroni",
        "role add root",
        "user add k3s",
        "grant role k3s to user k3s",
        "user add patroni",
        "grant role patroni to user patroni",
        "user add root",
        "grant role root to user root",
        "enable auth",
    ]
    # A prefix is the range etcd keeps for it: up to the prefix with its last byte + 1.
    assert steps[2][1]["range"] == (b"/registry/", b"/registry0")


def test_nothing_to_do_when_etcd_has_it_and_the_passwords_work():
    checked = {"root": True, "patroni": True}
    assert plan(made(), USERS, ROLES, enabled=True, purge=False, passwords_checked=checked) == []


def test_a_wrong_password_a_changed_permission_and_an_extra_role_are_fixed():
    current = made()
    current["roles"]["patroni"] = {(b"/service/", b"/service0"): "read"}
    current["users"]["patroni"] = {"patroni", "k3s"}
    steps = plan(current, USERS, ROLES, enabled=True, purge=False, passwords_checked={"root": True, "patroni": False})
    assert words(steps) == [
        "grant readwrite on /service/pg/* to role patroni",
        "revoke /service/* from role patroni",
        "change password patroni",
        "revoke role k3s from user patroni",
    ]


def test_passwords_are_set_again_in_the_run_that_enables_auth():
    current = dict(made(), enabled=False)
    steps = plan(current, USERS, ROLES, enabled=True, purge=False, passwords_checked={})
    assert words(steps) == ["change password patroni", "change password root", "enable auth"]
    # With auth staying off they cannot be checked, so they are left alone (idempotent).
    assert plan(current, USERS, ROLES, enabled=False, purge=False, passwords_checked={}) == []


def test_purge_deletes_what_is_not_listed_but_root():
    current = made()
    current["users"]["old"] = set()
    current["roles"]["old"] = {}
    steps = plan(current, USERS, ROLES, enabled=True, purge=True, passwords_checked={"root": True, "patroni": True})
    assert words(steps) == ["user delete old", "role delete old"]
    assert (
        plan(current, USERS, ROLES, enabled=True, purge=False, passwords_checked={"root": True, "patroni": True}) == []
    )


def test_unset_enabled_leaves_auth_as_it_is_and_needs_no_root():
    patroni_only = {"patroni": USERS["patroni"]}
    steps = plan(EMPTY, patroni_only, {"patroni": ROLES["patroni"]}, enabled=None, purge=False, passwords_checked={})
    assert "enable auth" not in words(steps) and "user add patroni" in words(steps)
    assert plan(made(), patroni_only, {}, enabled=None, purge=False, passwords_checked={"patroni": True}) == []


def test_disable():
    steps = plan(made(), USERS, ROLES, enabled=False, purge=False, passwords_checked={"root": True, "patroni": True})
    assert words(steps) == ["disable auth"]


@pytest.mark.parametrize(
    ("users", "message"),
    [
        ({"patroni": {"password": "p", "roles": set()}}, "without a user root"),
        ({"root": {"password": "r", "roles": set()}}, "has the role root"),
    ],
)
def test_enabling_needs_root_with_the_root_role(users, message):
    with pytest.raises(GardenosClusterError, match=message):
        plan(EMPTY, users, {}, enabled=True, purge=False, passwords_checked={})


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        ([{"name": "r", "permissions": [{"prefix": "/a/", "key": "/a"}]}], "exactly one of key and prefix"),
        ([{"name": "r", "permissions": [{}]}], "exactly one of key and prefix"),
        ([{"name": "r", "permissions": [{"prefix": "/a/", "range_end": "/b"}]}], "takes no range_end"),
        ([{"name": "r", "permissions": [{"prefix": "/a/"}, {"key": "/a/", "range_end": "/a0"}]}], "listed twice"),
        ([{"name": "r"}, {"name": "r"}], "role r is listed twice"),
    ],
)
def test_bad_roles_are_named(roles, message):
    with pytest.raises(GardenosClusterError, match=message):
        wanted_roles(roles)


def test_the_diff_summary_has_no_password():
    after = summary(EMPTY, USERS, ROLES, True, False)
    assert after == {
        "enabled": True,
        "users": {"root": ["root"], "patroni": ["patroni"], "k3s": ["k3s"]},
        "roles": {
            "patroni": ["/service/pg/* readwrite"],
            "k3s": ["/registry/* readwrite", "[/a, /c) read"],
            "root": [],
        },
    }
    assert summary(EMPTY) == {"enabled": False, "users": {}, "roles": {}}
