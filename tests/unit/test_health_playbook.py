"""playbooks/health.yml reads the roles' settings with the roles' defaults as fallbacks (role defaults are not
visible outside their role): those fallbacks must stay equal to roles/*/defaults/main.yml, and the fixed paths
it reads must be the ones the roles write."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = (REPO / "playbooks" / "health.yml").read_text()
# `<var> | default(<literal>)` or `hostvars[host]['<var>'] | default(<literal>)` in the playbook, where the
# literal has no parentheses.
FALLBACK = re.compile(r"\b([a-z][a-z0-9_]*)(?:'\])? \| default\(([^()]+)\)")


def role_defaults():
    defaults = {}
    for path in sorted(REPO.glob("roles/*/defaults/main.yml")):
        defaults.update(yaml.safe_load(path.read_text()) or {})
    return defaults


def as_role_default(expression):
    """The playbook's Jinja fallback written as a role default would be: 'x ~ "/y"' -> '{{ x }}/y'."""
    concatenation = re.fullmatch(r"([a-z_]+) ~ '([^']*)'", expression.strip())
    if concatenation:
        variable, suffix = concatenation.groups()
        return "{{ " + variable + " }}" + suffix
    return yaml.safe_load(expression)


def test_fallbacks_equal_the_role_defaults():
    defaults = role_defaults()
    compared = set()
    for name, expression in FALLBACK.findall(PLAYBOOK):
        if name not in defaults:
            continue
        assert as_role_default(expression) == defaults[name], f"{name}: health.yml falls back to {expression}"
        compared.add(name)
    assert compared >= {
        "etcd_config_dir",
        "etcd_client_port",
        "etcd_quota_backend_bytes",
        "patroni_config_dir",
        "patroni_restapi_port",
        "haproxy_bind_address",
        "haproxy_stats_port",
        "haproxy_stats_uri",
        "haproxy_stats_user",
        "haproxy_secrets_controller_dir",
        "k3s_secrets_controller_dir",
    }


def test_the_stats_socket_is_the_one_haproxy_cfg_opens():
    socket = re.search(r"health_haproxy_socket: (\S+)", PLAYBOOK).group(1)
    template = (REPO / "roles" / "haproxy" / "templates" / "haproxy.cfg.j2").read_text()
    assert re.search(rf"^\s*stats socket {re.escape(socket)} ", template, re.MULTILINE)


def test_the_k3s_etcd_client_certificate_is_where_k3s_server_puts_it():
    variables = yaml.safe_load((REPO / "roles" / "k3s_server" / "vars" / "main.yml").read_text())
    assert variables["_k3s_server_config_dir"] == "/etc/rancher/k3s"
    assert variables["_k3s_server_etcd_pki_dir"] == "{{ _k3s_server_config_dir }}/etcd"
    assert (
        "_k3s_server_etcd_pki_dir ~ '/client.crt'" in (REPO / "roles" / "k3s_server" / "vars" / "main.yml").read_text()
    )
    assert "'/etc/rancher/k3s/etcd/client.crt'" in PLAYBOOK
