"""playbooks/health.yml composes the roles' read-only entry points (roles/<role>/tasks/health.yml): it reads no
role setting itself, each entry point publishes what it saw as <role>_health, and reads the certificates where its
role installs them, under the names the controller's etcd PKI gives them. Nothing here runs Ansible (the playbook
runs in tests/integration/test_health_playbook.py and on the lab)."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK_TEXT = (REPO / "playbooks" / "health.yml").read_text()
PLAYBOOK = yaml.safe_load(PLAYBOOK_TEXT)
# The roles with a health entry point, in the order the report reads them.
HEALTH_ROLES = ["etcd", "patroni", "pgbackrest", "haproxy", "keepalived", "k3s_server"]
# The wiring's settings and what it derives from them.
WIRING = {
    **yaml.safe_load((REPO / "roles" / "wiring" / "defaults" / "main.yml").read_text()),
    **yaml.safe_load((REPO / "roles" / "wiring" / "vars" / "main.yml").read_text()),
}


def load(path):
    return yaml.safe_load(path.read_text()) or {}


def without_comments(text):
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def health_tasks(role):
    return load(REPO / "roles" / role / "tasks" / "health.yml")


def test_the_playbook_reads_no_role_setting():
    """No role default is read (or copied as a fallback) by the playbook: the roles' entry points read them."""
    settings = set()
    for path in REPO.glob("roles/*/defaults/main.yml"):
        if path.parent.parent.name != "wiring":
            settings.update(load(path))
    text = without_comments(PLAYBOOK_TEXT)
    read = sorted(name for name in settings if re.search(rf"\b{re.escape(name)}\b", text))
    assert not read, f"playbooks/health.yml reads role settings: {read}"


def test_the_playbook_runs_each_roles_health_entry_point_and_reads_what_it_publishes():
    included = [
        task["ansible.builtin.include_role"]
        for play in PLAYBOOK
        for task in play.get("tasks", [])
        if "ansible.builtin.include_role" in task
    ]
    assert [(include["name"], include["tasks_from"]) for include in included] == [
        (f"gardenos.cluster.{role}", "health.yml") for role in HEALTH_ROLES
    ]
    report = next(play for play in PLAYBOOK if play["name"] == "Health - the report")
    assert report["vars"]["health_roles"] == HEALTH_ROLES
    assert "hostvars[host][role ~ '_health']" in report["vars"]["health_observations"]["hosts"]


def test_each_entry_point_publishes_its_health_fact_last():
    for role in HEALTH_ROLES:
        last = health_tasks(role)[-1]
        assert list(last["ansible.builtin.set_fact"]) == [f"{role}_health"], role


ETCD_GATEWAY_READS = ("/v3/auth/authenticate", "/v3/kv/range")


def test_the_entry_points_change_nothing():
    """Read-only modules, and where a task may not run in check mode, a read (GET, a status command) on purpose."""
    read_only = {
        "ansible.builtin.slurp",
        "ansible.builtin.set_fact",
        "ansible.builtin.stat",
        "ansible.builtin.uri",
        "community.crypto.x509_certificate_info",
        "gardenos.cluster.etcd_info",
        "gardenos.cluster.haproxy_info",
        "gardenos.cluster.patroni_check",
        "kubernetes.core.k8s_info",
    }
    # Commands that only read: the tool's status subcommands, and the addresses a host holds.
    status_commands = [
        ["{{ _k3s_server_bin }}", "secrets-encrypt", "status"],
        ["ip", "-o", "address", "show", "to", "{{ wiring_vip }}"],
        # A SELECT of pg_stat_archiver, pgBackRest's info; and its check, whose one write is the WAL segment
        # switch it asks the primary for (documented in the entry point).
        [
            "psql",
            "-X",
            "-At",
            "-h",
            "/var/run/postgresql",
            "-p",
            "{{ wiring_patroni_postgresql_port }}",
            "-d",
            "postgres",
            "-c",
            "{{ _pgbackrest_archiver_query }}",
        ],
        ["pgbackrest", "--stanza={{ wiring_patroni_scope }}", "--output=json", "info"],
        ["pgbackrest", "--stanza={{ wiring_patroni_scope }}", "--log-level-console=warn", "check"],
    ]
    for role in HEALTH_ROLES:
        for task in health_tasks(role):
            modules = [key for key in task if "." in key]
            if modules == ["ansible.builtin.script"]:
                # The one probe script: a connection that reads an answer and changes nothing.
                assert task[modules[0]]["cmd"].startswith("refused_source_probe.py "), f"{role}: {task['name']}"
                assert task["changed_when"] is False, f"{role}: {task['name']}"
                continue
            if modules == ["ansible.builtin.command"]:
                assert task[modules[0]]["argv"] in status_commands, f"{role}: {task['name']}"
                assert task["changed_when"] is False, f"{role}: {task['name']}"
                continue
            assert len(modules) == 1 and modules[0] in read_only, f"{role}: {task['name']}"
            if modules[0] == "ansible.builtin.uri":
                uri = task[modules[0]]
                # etcd's JSON gateway reads by POST: a login, and a count of keys.
                reads = uri.get("method") == "POST" and uri["url"].endswith(tuple(ETCD_GATEWAY_READS))
                assert uri.get("method", "GET") == "GET" or reads, f"{role}: {task['name']}"
                assert not reads or uri["body"].get("count_only", True), f"{role}: {task['name']}"


def rendered(text, host="lab-1"):
    """The few templates the certificate lists use: the wiring's certificate names and the host's name."""
    text = text.replace("{{ inventory_hostname }}", host).replace(
        "{{ wiring_etcd_ca_file }}", WIRING["wiring_etcd_ca_file"]
    )
    return re.sub(
        r"\{\{ wiring_etcd_client_files\.(\w+)\.cert \}\}",
        lambda match: WIRING["wiring_etcd_client_files"][match.group(1)]["cert"],
        text,
    )


def certificates_read(role):
    """(path on the host, name in the controller's etcd PKI) of each certificate the entry point reads."""
    slurp = next(task for task in health_tasks(role) if "ansible.builtin.slurp" in task)
    assert slurp["ansible.builtin.slurp"]["src"] == "{{ item.path }}"
    return [(rendered(item["path"]), rendered(item["name"])) for item in slurp["loop"]]


def installed(files, host_dir):
    """(path on the host, name in the controller's etcd PKI) of the certificates in a role's list of PKI files."""
    return [(f"{host_dir}/{file['dest']}", rendered(file["src"])) for file in files if file["dest"].endswith(".crt")]


def test_etcd_reads_the_certificates_where_it_installs_them():
    etcd_vars = load(REPO / "roles" / "etcd" / "vars" / "main.yml")
    files = etcd_vars["_etcd_pki_node_trust_files"] + etcd_vars["_etcd_pki_node_own_files"]
    assert certificates_read("etcd") == installed(files, "{{ _etcd_pki_dir }}")


def test_patroni_reads_its_client_certificate_where_it_installs_it():
    # configure.yml imports it; the renewal and CA rotation playbooks run it alone.
    client_files = load(REPO / "roles" / "patroni" / "tasks" / "etcd_client_files.yml")
    install = next(task for task in client_files if "ansible.builtin.copy" in task)
    assert install["ansible.builtin.copy"]["dest"] == "{{ item.dest }}"
    client = [file for file in install["loop"] if file["dest"] == "{{ _patroni_etcd_module_defaults.client_cert }}"]
    assert client
    # installed from the controller's PKI name that the entry point reports, where Patroni reads it
    assert certificates_read("patroni") == [(file["dest"], rendered(file["src"])) for file in client]
    settings = load(REPO / "roles" / "patroni" / "vars" / "main.yml")["_patroni_settings"]
    assert settings["etcd"]["cert"] == client[0]["dest"]


def test_k3s_server_reads_its_client_certificate_where_it_installs_it():
    """k3s_server gives the k3s_node role its etcd files as full paths (k3s_node_files: src, dest)."""
    files = load(REPO / "roles" / "k3s_server" / "vars" / "main.yml")["_k3s_server_etcd_pki_files"]
    client = [file for file in files if file["dest"] == "{{ _k3s_server_etcd_cert }}"]
    assert certificates_read("k3s_server") == [
        (file["dest"], rendered(file["src"]).rsplit("/", 1)[-1]) for file in client
    ]


def test_the_stats_socket_is_the_one_haproxy_cfg_opens():
    reads = next(task for task in health_tasks("haproxy") if "gardenos.cluster.haproxy_info" in task)
    assert reads["gardenos.cluster.haproxy_info"]["socket"] == "{{ wiring_haproxy_stats_socket }}"
    template = (REPO / "roles" / "haproxy" / "templates" / "haproxy.cfg.j2").read_text()
    opened = re.search(r"^\s*stats socket (\{\{ \w+ \}\}|\S+) ", template, re.MULTILINE).group(1)
    assert opened in ("{{ wiring_haproxy_stats_socket }}", WIRING["wiring_haproxy_stats_socket"])
