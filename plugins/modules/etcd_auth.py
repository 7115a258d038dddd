#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gardenos.cluster developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: etcd_auth
short_description: Keep etcd's users, roles and permissions, and enable its authentication
version_added: 0.2.0
description:
  - Makes etcd's role-based access control what is listed, through etcd's JSON gateway. The roles
    get exactly the permissions listed (others are revoked), the users exactly the roles listed,
    and, with O(enabled=true), authentication is enabled last, once a user C(root) with the role
    C(root) exists (etcd's own rule).
  - Connect as the root user (O(username), O(password)) once authentication is enabled; before, a
    client certificate (or nothing, over plain HTTP) is enough and the credentials are ignored.
  - Passwords cannot be read back. A user's password is checked by authenticating as that user,
    which only works while authentication is enabled; while it is not, a password is set when the
    user is made, and once more in the run that enables authentication.
  - With a client certificate and authentication enabled, etcd takes the certificate's Common Name
    as the user for gRPC clients (etcdctl, Kubernetes), and refuses every JSON gateway request made
    with a certificate that has one. Give gateway clients (this module, Patroni) certificates without
    a Common Name, and do not name a user after a certificate that is not meant to be that user.
author:
  - gardenos.cluster developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - gardenos.cluster.attributes
  - gardenos.cluster.etcd
  - gardenos.cluster.etcd.actiongroup_etcd
attributes:
  check_mode:
    support: full
    details: Reads etcd and reports the steps it would take.
  diff_mode:
    support: full
    details: Users with their roles, roles with their permissions, and whether auth is enabled; never a password.
options:
  users:
    description:
      - The users to keep. Users not listed are left alone unless O(purge=true).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The user name. A gRPC client whose certificate has this Common Name acts as this user.
        type: str
        required: true
      password:
        description:
          - The password. Without one, a new user is made with an empty password (it can then only
            be used through a certificate with its name as Common Name), and an existing one's is left as it is.
        type: str
      roles:
        description: Exactly the roles the user has.
        type: list
        elements: str
        default: []
  roles:
    description:
      - The roles to keep, each with exactly its permissions. The role C(root) needs no entry (it is
        made when a user has it, and has every permission). Roles not listed are left alone unless O(purge=true).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The role name.
        type: str
        required: true
      permissions:
        description: Exactly the role's permissions.
        type: list
        elements: dict
        default: []
        suboptions:
          prefix:
            description:
              - Every key starting with this. Mind the trailing slash, V(/service/pg/) does not match
                V(/service/pg-2/leader), V(/service/pg) does.
            type: str
          key:
            description: One key, or the start of the range with O(roles[].permissions[].range_end).
            type: str
          range_end:
            description: The end of the range from O(roles[].permissions[].key) (excluded).
            type: str
          type:
            description: What the role may do there.
            type: str
            choices: [read, write, readwrite]
            default: readwrite
  enabled:
    description:
      - Whether etcd's authentication is enabled, after the users and roles are in place. Unset, it
        is left as it is (a role that only adds its own user and role before auth is enabled, for
        example).
    type: bool
  purge:
    description:
      - Delete the users and roles that are not listed (never the user or role C(root)).
    type: bool
    default: false
notes:
  - Tested with etcd 3.4 and 3.5.
seealso:
  - module: gardenos.cluster.etcd_info
  - name: etcd role-based access control
    description: Users, roles, permissions and the root user.
    link: https://etcd.io/docs/v3.5/op-guide/authentication/rbac/
"""

EXAMPLES = r"""
- name: Patroni confined to its scope, a read-only monitor, root for the operator; auth enabled
  gardenos.cluster.etcd_auth:
    endpoints: [https://10.0.0.11:2379, https://10.0.0.12:2379, https://10.0.0.13:2379]
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/admin.crt
    client_key: /etc/etcd/pki/admin.key
    username: root
    password: "{{ etcd_root_password }}"
    enabled: true
    users:
      - {name: root, password: "{{ etcd_root_password }}", roles: [root]}
      - {name: patroni, password: "{{ etcd_patroni_password }}", roles: [patroni]}
      - {name: monitor, password: "{{ etcd_monitor_password }}", roles: [monitor]}
      - {name: k3s, roles: [k3s]}
    roles:
      - name: patroni
        permissions:
          - {prefix: /service/postgres-cluster/, type: readwrite}
      - name: monitor
        permissions:
          - {prefix: /, type: read}
      - name: k3s
        permissions:
          - {prefix: /registry/}
          - {prefix: /bootstrap/}
  no_log: true

- name: Show what would change, without changing it
  gardenos.cluster.etcd_auth:
    endpoints: [http://127.0.0.1:2379]
    username: root
    password: "{{ etcd_root_password }}"
    users:
      - {name: root, password: "{{ etcd_root_password }}", roles: [root]}
  check_mode: true
  diff: true
  no_log: true
"""

RETURN = r"""
enabled:
  description: Whether authentication is enabled after the run (in check mode, would be).
  returned: success
  type: bool
  sample: true
steps:
  description: What was done (in check mode, would be), in order, in words; never a password.
  returned: success
  type: list
  elements: str
  sample: ["role add patroni", "grant readwrite on /service/pg/* to role patroni", "user add patroni", "enable auth"]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gardenos.cluster.plugins.module_utils.errors import GardenosClusterError
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_auth import (
    EtcdAuth,
    describe_step,
    plan,
    summary,
    wanted_roles,
    wanted_users,
)
from ansible_collections.gardenos.cluster.plugins.module_utils.etcd_gateway import (
    ETCD_REQUIRED_TOGETHER,
    EtcdClient,
    etcd_argument_spec,
)


def run(module):
    params = module.params
    users = wanted_users(params["users"])
    roles = wanted_roles(params["roles"])
    auth = EtcdAuth(EtcdClient.from_params(params))
    current = auth.read()
    checked = {}
    if current["enabled"]:
        for name, user in users.items():
            if name in current["users"] and user["password"] is not None:
                checked[name] = auth.password_matches(name, user["password"])
    steps = plan(current, users, roles, enabled=params["enabled"], purge=params["purge"], passwords_checked=checked)
    if not module.check_mode:
        for action, args in steps:
            auth.apply(action, args)
    result = dict(
        changed=bool(steps),
        enabled=current["enabled"] if params["enabled"] is None else params["enabled"],
        steps=[describe_step(action, args) for action, args in steps],
    )
    if module._diff:
        result["diff"] = dict(
            before=summary(current),
            after=summary(current, users, roles, params["enabled"], params["purge"]),
        )
    return result


def main():
    permission = dict(
        prefix=dict(type="str", no_log=False),
        key=dict(type="str", no_log=False),
        range_end=dict(type="str"),
        type=dict(type="str", choices=["read", "write", "readwrite"], default="readwrite"),
    )
    argument_spec = etcd_argument_spec(
        users=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                name=dict(type="str", required=True),
                password=dict(type="str", no_log=True),
                roles=dict(type="list", elements="str", default=[]),
            ),
        ),
        roles=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                name=dict(type="str", required=True),
                permissions=dict(type="list", elements="dict", default=[], options=permission),
            ),
        ),
        enabled=dict(type="bool"),
        purge=dict(type="bool", default=False),
    )
    module = AnsibleModule(
        argument_spec=argument_spec, required_together=ETCD_REQUIRED_TOGETHER, supports_check_mode=True
    )
    try:
        result = run(module)
    except GardenosClusterError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
