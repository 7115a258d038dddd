# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd's users, roles and permissions (RBAC) for gardenos.cluster.etcd_auth: read what etcd has,
plan the steps to what is wanted, apply them through the JSON gateway.

The plan is pure (tested without etcd): it names each step, and never a password. Passwords
cannot be read back: a user's password is checked by authenticating as that user, which only
works while auth is enabled; while it is not, a password is set when the user is made, and once
more in the run that enables auth (so that enabling never locks out a user with an old password).
Standard library and ``ansible.module_utils`` only: it runs on the managed node.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.text.converters import to_text
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_keys import (
    b64decode,
    b64encode,
    key_to_bytes,
    key_to_text,
    range_end_for_prefix,
)

ROOT = "root"
# etcd's permission types as the gateway spells them; READ (0) is omitted from its answers.
PERMISSION_TYPES = {"read": "READ", "write": "WRITE", "readwrite": "READWRITE"}
GATEWAY_TYPES = {value: key for key, value in PERMISSION_TYPES.items()}
# What etcd says when a request lacks the credentials auth needs.
AUTH_REFUSALS = ("user name is empty", "permission denied", "invalid auth token", "user name not found")


def permission_range(permission, role):
    """A permission option -> (key bytes, range_end bytes or b"") as etcd keeps it."""
    given = [name for name in ("key", "prefix") if permission.get(name) not in (None, "")]
    if len(given) != 1:
        raise GardenosClusterError(
            "role %s: each permission needs exactly one of key and prefix, got %s" % (role, permission)
        )
    if permission.get("prefix"):
        if permission.get("range_end"):
            raise GardenosClusterError("role %s: a permission with prefix takes no range_end" % role)
        key = key_to_bytes(permission["prefix"])
        return key, range_end_for_prefix(key)
    return key_to_bytes(permission["key"]), key_to_bytes(permission.get("range_end") or "")


def wanted_roles(roles):
    """The roles option -> {name: {(key, range_end): type}}."""
    wanted = {}
    for role in roles or []:
        name = role["name"]
        if name in wanted:
            raise GardenosClusterError("role %s is listed twice" % name)
        permissions = {}
        for permission in role.get("permissions") or []:
            key_range = permission_range(permission, name)
            if key_range in permissions:
                raise GardenosClusterError("role %s: the range %s is listed twice" % (name, describe_range(key_range)))
            permissions[key_range] = permission.get("type") or "readwrite"
        wanted[name] = permissions
    return wanted


def wanted_users(users):
    """The users option -> {name: {"password": ..., "roles": set}}."""
    wanted = {}
    for user in users or []:
        if user["name"] in wanted:
            raise GardenosClusterError("user %s is listed twice" % user["name"])
        wanted[user["name"]] = {"password": user.get("password"), "roles": set(user.get("roles") or [])}
    return wanted


def describe_range(key_range):
    key, range_end = key_range
    if not range_end:
        return key_to_text(key)
    if range_end == range_end_for_prefix(key):
        return key_to_text(key) + "*"
    return "[%s, %s)" % (key_to_text(key), key_to_text(range_end))


def check_enabling(enabled, users, current):
    """Enabling auth needs a root user with the root role (etcd's rule), said before any change."""
    if not enabled or current["enabled"]:
        return
    root_roles = users[ROOT]["roles"] if ROOT in users else current["users"].get(ROOT, set())
    if ROOT not in users and ROOT not in current["users"]:
        raise GardenosClusterError("auth cannot be enabled without a user root: list it in users, with role root")
    if ROOT not in root_roles:
        raise GardenosClusterError("auth cannot be enabled unless the user root has the role root")


def plan(current, users, roles, *, enabled, purge, passwords_checked):
    """The steps from ``current`` ({"enabled", "users": {name: roles}, "roles": {name: perms}}) to the
    wanted ``users`` and ``roles``: a list of (action, args) in the order etcd accepts them.
    ``enabled``: True or False to enable or disable auth last, None to leave it as it is.

    ``passwords_checked``: {user: True when the password given is the one etcd has} for the users
    whose password could be checked; the others get theirs set when made or when auth is enabled.
    """
    check_enabling(enabled, users, current)
    roles = with_root_role(users, roles)
    enabling = enabled is True and not current["enabled"]
    steps = role_steps(current["roles"], roles)
    steps += user_steps(current["users"], users, passwords_checked, enabling)
    if purge:
        steps += [("user_delete", {"user": name}) for name in sorted(set(current["users"]) - set(users) - {ROOT})]
        steps += [("role_delete", {"role": name}) for name in sorted(set(current["roles"]) - set(roles) - {ROOT})]
    if enabling:
        steps.append(("enable", {}))
    elif current["enabled"] and enabled is False:
        steps.append(("disable", {}))
    return steps


def with_root_role(users, roles):
    """The root role is etcd's own and holds no permissions: it only has to exist when a user has it."""
    if any(ROOT in user["roles"] for user in users.values()) and ROOT not in roles:
        return dict(roles, **{ROOT: {}})
    return roles


def role_steps(have_roles, roles):
    steps = []
    for name, permissions in sorted(roles.items()):
        if name not in have_roles:
            steps.append(("role_add", {"role": name}))
        if name == ROOT:
            continue
        have = have_roles.get(name, {})
        for key_range, kind in sorted(permissions.items()):
            if have.get(key_range) != kind:
                steps.append(("grant_permission", {"role": name, "range": key_range, "type": kind}))
        for key_range in sorted(set(have) - set(permissions)):
            steps.append(("revoke_permission", {"role": name, "range": key_range}))
    return steps


def user_steps(have_users, users, passwords_checked, enabling):
    steps = []
    for name, user in sorted(users.items()):
        if name not in have_users:
            steps.append(("user_add", {"user": name, "password": user["password"]}))
        elif user["password"] is not None:
            checked = passwords_checked.get(name)
            if checked is False or (checked is None and enabling):
                steps.append(("change_password", {"user": name, "password": user["password"]}))
        have = have_users.get(name, set())
        steps += [("grant_role", {"user": name, "role": role}) for role in sorted(user["roles"] - have)]
        steps += [("revoke_role", {"user": name, "role": role}) for role in sorted(have - user["roles"])]
    return steps


def describe_step(action, args):
    """One step in words, never a password."""
    if action == "grant_permission":
        return "grant %s on %s to role %s" % (args["type"], describe_range(args["range"]), args["role"])
    if action == "revoke_permission":
        return "revoke %s from role %s" % (describe_range(args["range"]), args["role"])
    if action == "grant_role":
        return "grant role %s to user %s" % (args["role"], args["user"])
    if action == "revoke_role":
        return "revoke role %s from user %s" % (args["role"], args["user"])
    if action in ("enable", "disable"):
        return "%s auth" % action
    return "%s %s" % (action.replace("_", " "), args.get("user") or args.get("role"))


def described_roles(roles):
    return {name: sorted(describe_range(r) + " " + t for r, t in perms.items()) for name, perms in roles.items()}


def summary(current, users=None, roles=None, enabled=None, purge=False):
    """What etcd has (``current``), or would have after the run with ``users`` and ``roles``, for the
    diff: no password."""
    users_now = {name: sorted(user_roles) for name, user_roles in current["users"].items()}
    roles_now = described_roles(current["roles"])
    if users is None:
        return {"enabled": current["enabled"], "users": users_now, "roles": roles_now}
    kept_users = {n: r for n, r in users_now.items() if not purge or n == ROOT}
    kept_roles = {n: p for n, p in roles_now.items() if not purge or n == ROOT}
    kept_users.update({name: sorted(user["roles"]) for name, user in users.items()})
    kept_roles.update(described_roles(with_root_role(users, roles)))
    return {"enabled": current["enabled"] if enabled is None else enabled, "users": kept_users, "roles": kept_roles}


def permission_body(args, role_field):
    key, range_end = args["range"]
    body = {role_field: args["role"]}
    perm = {"key": b64encode(key)}
    if range_end:
        perm["range_end"] = b64encode(range_end)
    if "type" in args:
        perm["permType"] = PERMISSION_TYPES[args["type"]]
        body["perm"] = perm
    else:
        body.update(perm)
    return body


# Each step's gateway path and request body.
REQUESTS = {
    "role_add": ("/auth/role/add", lambda args: {"name": args["role"]}),
    "role_delete": ("/auth/role/delete", lambda args: {"role": args["role"]}),
    "grant_permission": ("/auth/role/grant", lambda args: permission_body(args, "name")),
    "revoke_permission": ("/auth/role/revoke", lambda args: permission_body(args, "role")),
    "user_add": ("/auth/user/add", lambda args: {"name": args["user"], "password": args["password"] or ""}),
    "user_delete": ("/auth/user/delete", lambda args: {"name": args["user"]}),
    "change_password": ("/auth/user/changepw", lambda args: {"name": args["user"], "password": args["password"]}),
    "grant_role": ("/auth/user/grant", lambda args: {"user": args["user"], "role": args["role"]}),
    "revoke_role": ("/auth/user/revoke", lambda args: {"name": args["user"], "role": args["role"]}),
    "enable": ("/auth/enable", lambda args: {}),
    "disable": ("/auth/disable", lambda args: {}),
}


class EtcdAuth(object):
    """Reads and changes etcd's RBAC through an EtcdClient (the root user's credentials, or none
    while auth is off)."""

    def __init__(self, client):
        self.client = client

    def _call(self, path, body=None):
        try:
            return self.client.call(path, body or {})
        except GardenosClusterError as exc:
            error = to_text(exc.details.get("etcd_error", "")).lower()
            if any(refusal in error for refusal in AUTH_REFUSALS):
                raise GardenosClusterError(
                    "etcd refused %s: auth is enabled and this needs the root user (username and password): %s"
                    % (path, exc.msg),
                    etcd_error=exc.details.get("etcd_error"),
                ) from None
            raise

    def read(self):
        """{"enabled": bool, "users": {name: set of roles}, "roles": {name: {(key, range_end): type}}}."""
        users = {}
        for name in self._call("/auth/user/list").get("users") or []:
            users[name] = set(self._call("/auth/user/get", {"name": name}).get("roles") or [])
        roles = {}
        for name in self._call("/auth/role/list").get("roles") or []:
            permissions = {}
            for permission in self._call("/auth/role/get", {"role": name}).get("perm") or []:
                kind = permission.get("permType") or permission.get("perm_type") or "READ"
                key_range = (
                    b64decode(permission.get("key")),
                    b64decode(permission.get("range_end") or permission.get("rangeEnd")),
                )
                permissions[key_range] = GATEWAY_TYPES.get(kind, to_text(kind).lower())
            roles[name] = permissions
        # A token means etcd authenticated the client: auth is on. Without credentials, the lists
        # above would have been refused if it were.
        return {"enabled": self.client.authenticated_with_token, "users": users, "roles": roles}

    def password_matches(self, user, password):
        """Whether etcd accepts this password for the user (auth must be enabled to tell)."""
        try:
            self.client.call("/auth/authenticate", {"name": user, "password": password})
        except GardenosClusterError as exc:
            if "authentication failed" in to_text(exc.details.get("etcd_error", "")).lower():
                return False
            raise
        return True

    def apply(self, action, args):
        path, body = REQUESTS[action]
        self._call(path, body(args))
