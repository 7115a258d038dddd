"""The local_path_storage and spilo roles, for real where it can be done here.

No Kubernetes runs on this machine, so:

* The roles' own tasks render every manifest (tests/integration/render/spilo_render.yml, run with
  ansible-playbook against the example inventory, writing into a temporary directory), and each
  object is validated with kubernetes-validate against the OpenAPI schema of the Kubernetes
  minor K3s is pinned to, strictly (an unknown field fails), and its key content is checked.
* The site.yml play of the two roles (a copy: tests/integration/render/spilo_site_check.yml) runs
  in check mode as on a fresh install, and the preflight refuses the host Patroni cluster's scope.
* The Patroni configuration the spilo role puts into SPILO_CONFIGURATION is started by real
  Patroni 4 on a real TLS etcd cluster on loopback: the environment is resolved the way
  Kubernetes does it (Secret keys, $(NAME) references), merged the way Spilo's configure_spilo.py
  merges it with the per-member part Spilo generates, and must bootstrap a leader and two
  streaming replicas. The admin role script then runs against that cluster.
"""

import base64
import copy
import importlib
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from ansible.plugins.loader import init_plugin_loader
from etcdlab import BIN, REPO, collections_root, free_ports
from patronilab import PG_BIN, PatroniProcess, patroni_4, postgres_ids

RENDER = REPO / "tests" / "integration" / "render"
INVENTORY = REPO / "inventory" / "servers.yaml"
K3S_DEFAULTS = REPO / "roles" / "k3s_node" / "defaults" / "main.yml"
DEFAULT_KUBERNETES_VERSION = "1.36.0"

# Throwaway passwords with the punctuation the roles allow, so that quoting is exercised in the
# Secret, the JSON of SPILO_CONFIGURATION, Patroni's configuration and pgpass.
PASSWORDS = {
    "superuser": "su-Pw.for+tests#1",
    "replication": "repl:Pw@tests/2",
    "rewind": "rewind(Pw)tests~3",
    "restapi": "rest%Pw&tests!4",
    "admin": "admin*Pw?tests^5",
    "etcd": "etcd;Pw=tests+6",
}
# The inventory's etcd members (inventory/servers.yaml), by host name as wiring_etcd_client_addresses
# lists them: ubuntu-8gb-ash-1, ubuntu-8gb-ash-2, ubuntu-8gb-hil-1.
ETCD_HOSTS = ["198.51.100.21:2379", "198.51.100.22:2379", "192.0.2.11:2379"]
# servers.yaml's S3 object store as the inventory plugin checks it (cluster.backup.s3), and its keys: WAL-G's.
S3 = {
    "endpoint": {"url": "https://s3.example.net:8333", "host": "s3.example.net", "port": 8333},
    "bucket": "gardenos-backups",
    "region": "eu-central-1",
    "uri_style": "path",
    "tls_ca": "cluster",
}
S3_KEYS = {
    "spilo_s3_key": "AKTESTS3KEY000000001",
    "spilo_s3_key_secret": "s3-Secret/for+tests=7",
    "spilo_walg_encryption_key": "WalgKeyForTests0123456789abcdefX",
}
SELECTOR = {"app.kubernetes.io/name": "spilo", "app.kubernetes.io/instance": "postgres-k8s"}


def kubernetes_version():
    """The Kubernetes version of the K3s the K3s roles pin (k3s_node_version: v1.36.3+k3s1 -> 1.36.3)."""
    if not K3S_DEFAULTS.exists():
        return DEFAULT_KUBERNETES_VERSION
    pinned = str((yaml.safe_load(K3S_DEFAULTS.read_text()) or {}).get("k3s_node_version", ""))
    match = re.match(r"^v?(\d+\.\d+\.\d+)", pinned)
    assert match, f"no k3s_node_version like v1.36.3+k3s1 in {K3S_DEFAULTS}: {pinned!r}"
    return match.group(1)


def load_filter():
    """plugins/filter/patroni.py, the one Patroni definition, imported as Ansible does (it imports the
    collection's module_utils, so a bare file import would fail)."""
    init_plugin_loader([str(collections_root())])
    return importlib.import_module("ansible_collections.gardenos.cluster.plugins.filter.patroni")


def run_playbook(playbook, extra_vars, workdir, *options):
    """ansible-playbook against the example inventory, every host on the controller (connection local)."""
    workdir.mkdir(parents=True, exist_ok=True)
    variables = workdir / "extra-vars.json"
    variables.write_text(
        json.dumps({"ansible_connection": "local", "ansible_python_interpreter": str(BIN / "python"), **extra_vars})
    )
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(collections_root()),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCAL_TEMP=str(workdir / "ansible-local"),
    )
    for name in ("ANSIBLE_INVENTORY", "ANSIBLE_INVENTORY_ENABLED"):
        env.pop(name, None)
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(INVENTORY), "-e", f"@{variables}", *options, str(playbook)],
        env=env,
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def documents(path):
    return [doc for doc in yaml.safe_load_all(Path(path).read_text()) if doc]


def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''} in {[(d['kind'], d['metadata']['name']) for d in docs]}"
    return found[0]


def container(statefulset, name="postgres"):
    return next(c for c in statefulset["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def expand(value, env):
    """Kubernetes' expansion of an environment value: $(NAME) of a variable defined before it, $$ -> $."""
    out, index = [], 0
    while index < len(value):
        if value.startswith("$$", index):
            out.append("$")
            index += 2
        elif value.startswith("$(", index) and ")" in value[index:]:
            end = value.index(")", index)
            name = value[index + 2 : end]
            out.append(env[name] if name in env else value[index : end + 1])
            index = end + 1
        else:
            out.append(value[index])
            index += 1
    return "".join(out)


def pod_environment(statefulset, secrets, pod_ip, namespace="postgres-cluster"):
    """The container's environment as Kubernetes builds it: in order, values from Secrets and fields,
    and $(NAME) references to variables defined earlier."""
    fields = {"status.podIP": pod_ip, "metadata.namespace": namespace}
    env = {}
    for variable in container(statefulset)["env"]:
        if "value" in variable:
            env[variable["name"]] = expand(variable["value"], env)
        elif "secretKeyRef" in variable["valueFrom"]:
            ref = variable["valueFrom"]["secretKeyRef"]
            env[variable["name"]] = secrets[ref["name"]][ref["key"]]
        else:
            env[variable["name"]] = fields[variable["valueFrom"]["fieldRef"]["fieldPath"]]
    return env


def secret_values(docs):
    """{secret name: {key: value}} from rendered Secrets (stringData and base64 data)."""
    values = {}
    for doc in docs:
        data = {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
        data.update(doc.get("stringData") or {})
        values[doc["metadata"]["name"]] = data
    return values


def spilo_deep_update(a, b):
    """Spilo's configure_spilo.deep_update(a, b), with which it merges SPILO_CONFIGURATION (a) over the
    configuration it generates (b): mappings merge key by key, a's lists and scalars win."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in b:
            a[key] = spilo_deep_update(a[key], b[key]) if key in a else b[key]
        return a
    if isinstance(a, list) and isinstance(b, list):
        return a
    return a if a is not None else b


# -- rendering --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def controller(tmp_path_factory, pki):
    """The controller's side: the etcd PKI the etcd role would have made (the lab's test CA, with the
    etcd role's file names), a kubeconfig file, and a secrets directory."""
    base = tmp_path_factory.mktemp("k8s-roles")
    pki_dir = base / "pki" / "etcd"
    pki_dir.mkdir(parents=True)
    for source, name in (
        ("ca_cert", "ca-bundle.crt"),
        ("client_cert", "client-patroni.crt"),
        ("client_key", "client-patroni.key"),
    ):
        shutil.copyfile(pki[source], pki_dir / name)
    kubeconfig = base / "kubeconfig.yaml"
    kubeconfig.write_text("# not read: the render never talks to a cluster\n")
    return {"base": base, "pki": pki_dir, "kubeconfig": kubeconfig, "secrets": base / "secrets"}


@pytest.fixture(scope="module")
def rendered(controller):
    render_dir = controller["base"] / "rendered"
    extra = {
        "render_dir": str(render_dir),
        "spilo_kubeconfig": str(controller["kubeconfig"]),
        "wiring_pki_controller_dir": str(controller["pki"].parent),
        "wiring_secrets_controller_dir": str(controller["secrets"]),
        **{f"spilo_{user}_password": password for user, password in PASSWORDS.items()},
        "gardenos_cluster_backup_s3": S3,
        **S3_KEYS,
    }
    proc = run_playbook(RENDER / "spilo_render.yml", extra, controller["base"] / "render-run")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return render_dir


MANIFESTS = [
    "local_path_storage/local-path-storage.yaml",
    "spilo/namespace.yaml",
    "spilo/services.yaml",
    "spilo/statefulset.yaml",
    "spilo/secrets.yaml",
]


def test_every_manifest_is_valid_for_the_pinned_kubernetes(rendered):
    version = kubernetes_version()
    kinds = []
    for name in MANIFESTS:
        text = (rendered / name).read_text()
        assert text.startswith("#\n# Ansible managed\n#\n"), name
        for doc in documents(rendered / name):
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(
                    f"{name}: {doc['kind']} {doc['metadata']['name']} is invalid for Kubernetes {version}: {exc}"
                )
            kinds.append(doc["kind"])
    local_path = ["Namespace", "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"]
    local_path += ["Deployment", "StorageClass", "ConfigMap"]
    assert sorted(set(kinds)) == sorted({*local_path, "Service", "StatefulSet", "Secret"})


def test_upstream_local_path_provisioner(rendered):
    docs = documents(rendered / "local_path_storage/local-path-storage.yaml")
    storage_class = one(docs, "StorageClass", "local-path")
    assert storage_class["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert storage_class["provisioner"] == "rancher.io/local-path"
    assert storage_class["volumeBindingMode"] == "WaitForFirstConsumer"
    deployment = one(docs, "Deployment", "local-path-provisioner")
    assert deployment["metadata"]["namespace"] == "local-path-storage"
    (provisioner,) = deployment["spec"]["template"]["spec"]["containers"]
    assert provisioner["image"] == "docker.io/rancher/local-path-provisioner:v0.0.32"
    config = one(docs, "ConfigMap", "local-path-config")["data"]
    assert json.loads(config["config.json"])["nodePathMap"] == [
        {"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": ["/var/lib/rancher/k3s/storage"]}
    ]
    helper = yaml.safe_load(config["helperPod.yaml"])
    assert helper["spec"]["containers"][0]["image"] == "docker.io/library/busybox:1.37.0"
    assert 'mkdir -m 0777 -p "$VOL_DIR"' in config["setup"] and 'rm -rf "$VOL_DIR"' in config["teardown"]
    binding = one(docs, "ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "local-path-provisioner-service-account", "namespace": "local-path-storage"}
    ]


def test_bundled_local_path_provisioner_gets_no_manifest(rendered):
    assert not (rendered / "local_path_storage_bundled" / "local-path-storage.yaml").exists()


def test_spilo_statefulset(rendered):
    statefulset = one(documents(rendered / "spilo/statefulset.yaml"), "StatefulSet", "postgres-k8s")
    assert statefulset["metadata"]["namespace"] == "postgres-cluster"
    spec = statefulset["spec"]
    assert spec["replicas"] == 3
    assert spec["serviceName"] == "postgres-headless"
    assert spec["selector"]["matchLabels"] == SELECTOR
    pod = spec["template"]["spec"]
    assert SELECTOR.items() <= spec["template"]["metadata"]["labels"].items()
    # one member per node
    (term,) = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term == {"labelSelector": {"matchLabels": SELECTOR}, "topologyKey": "kubernetes.io/hostname"}
    # the Spilo image's postgres is uid 101, gid 103
    assert pod["securityContext"]["fsGroup"] == 103
    (init,) = pod["initContainers"]
    script = init["command"][-1]
    assert "chown -R 101:103 /home/postgres/pgdata\n" in script
    assert init["securityContext"]["runAsUser"] == 0
    assert "install -o 101 -g 103 -m 0600 /etc/gardenos/etcd-client-secret/client-patroni.key" in script
    postgres = container(statefulset)
    assert postgres["image"] == init["image"] == "ghcr.io/zalando/spilo-17:4.0-p2"
    assert postgres["readinessProbe"]["httpGet"] == {"path": "/readiness", "port": "patroni", "scheme": "HTTP"}
    assert {p["name"]: p["containerPort"] for p in postgres["ports"]} == {"postgresql": 5432, "patroni": 8008}
    mounts = {m["name"]: m for m in postgres["volumeMounts"]}
    assert mounts["pgdata"]["mountPath"] == "/home/postgres/pgdata"
    assert mounts["etcd-client"] == {"name": "etcd-client", "mountPath": "/etc/gardenos/etcd-client", "readOnly": True}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["etcd-client-secret"]["secret"] == {"secretName": "postgres-k8s-etcd-client", "defaultMode": 0o400}
    assert volumes["etcd-client"]["emptyDir"]["medium"] == "Memory"
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "pgdata"
    assert claim["spec"]["storageClassName"] == "local-path"
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]

    env = {v["name"]: v for v in postgres["env"]}
    values = {name: v.get("value") for name, v in env.items()}
    assert values["PGUSER_STANDBY"] == "standby"
    assert values["PGUSER_SUPERUSER"] == "postgres"
    assert values["SCOPE"] == "postgres-k8s"
    assert values["PGVERSION"] == "17"
    assert values["PGROOT"] == "/home/postgres/pgdata/pgroot"
    assert values["KUBERNETES_ROLE_LABEL"] == "spilo-role"
    assert values["SPILO_PROVIDER"] == "local"
    # Spilo's variables that would change the DCS or the users are not set
    assert not {n for n in env if n.startswith(("ETCD", "DCS_", "KUBERNETES_LEADER", "PGPASSWORD_ADMIN", "USE_ADMIN"))}
    assert env["POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    refs = {name: v["valueFrom"]["secretKeyRef"] for name, v in env.items() if "secretKeyRef" in v.get("valueFrom", {})}
    assert refs["PGPASSWORD_SUPERUSER"] == {"name": "postgres-k8s-credentials", "key": "PATRONI_SUPERUSER_PASSWORD"}
    assert refs["PGPASSWORD_STANDBY"] == {"name": "postgres-k8s-credentials", "key": "PATRONI_REPLICATION_PASSWORD"}
    # every $(NAME) in SPILO_CONFIGURATION names a variable defined before it
    names = [v["name"] for v in postgres["env"]]
    configuration = values["SPILO_CONFIGURATION"]
    for reference in set(re.findall(r"\$\(([A-Za-z0-9_]+)\)", configuration)):
        assert names.index(reference) < names.index("SPILO_CONFIGURATION"), reference


def test_spilo_walg_into_the_object_store(rendered):
    """With cluster.backup.s3, WAL-G archives and backs up into the same object store as pgBackRest."""
    env = {v["name"]: v for v in container(one(documents(rendered / "spilo/statefulset.yaml"), "StatefulSet"))["env"]}
    values = {name: v.get("value") for name, v in env.items()}
    refs = {name: v["valueFrom"]["secretKeyRef"] for name, v in env.items() if "secretKeyRef" in v.get("valueFrom", {})}
    # its keys from the Secret, its certificate checked against the cluster CA
    assert {
        name: values[name]
        for name in values
        if name.startswith(("WAL", "AWS_E", "AWS_R", "AWS_S3", "USE_WALG", "BACKUP_"))
    } == {
        "USE_WALG_BACKUP": "true",
        "USE_WALG_RESTORE": "true",
        "WAL_S3_BUCKET": "gardenos-backups",
        "AWS_ENDPOINT": "https://s3.example.net:8333",
        "AWS_REGION": "eu-central-1",
        "AWS_S3_FORCE_PATH_STYLE": "true",
        "WALG_S3_CA_CERT_FILE": "/etc/gardenos/etcd-client/ca-bundle.crt",
        "BACKUP_SCHEDULE": "00 02 * * *",
        "BACKUP_NUM_TO_RETAIN": "30",
        # what WAL-G stores is encrypted, with the key as it is (32 characters)
        "WALG_LIBSODIUM_KEY_TRANSFORM": "none",
        "WALG_LIBSODIUM_KEY": None,
    }
    assert refs["AWS_ACCESS_KEY_ID"] == {"name": "postgres-k8s-credentials", "key": "AWS_ACCESS_KEY_ID"}
    assert refs["AWS_SECRET_ACCESS_KEY"] == {"name": "postgres-k8s-credentials", "key": "AWS_SECRET_ACCESS_KEY"}
    assert refs["WALG_LIBSODIUM_KEY"] == {"name": "postgres-k8s-credentials", "key": "WALG_LIBSODIUM_KEY"}


def test_spilo_configuration_is_the_shared_patroni_definition(rendered):
    statefulset = one(documents(rendered / "spilo/statefulset.yaml"), "StatefulSet")
    configuration = json.loads(container(statefulset)["env"][-1]["value"])
    assert container(statefulset)["env"][-1]["name"] == "SPILO_CONFIGURATION"
    assert configuration["restapi"]["authentication"].pop("password") == "$(PATRONI_RESTAPI_PASSWORD)"
    for user in ("superuser", "replication", "rewind"):
        password = configuration["postgresql"]["authentication"][user].pop("password")
        assert password == f"$(PATRONI_{user.upper()}_PASSWORD)"
    assert configuration["etcd3"].pop("password") == "$(PATRONI_ETCD3_PASSWORD)"
    # what is left is exactly the filter's cluster-wide part, for these settings
    expected = load_filter().patroni_config(
        {
            "scope": "postgres-k8s",
            "namespace": "/service/",
            "etcd": {
                "hosts": ETCD_HOSTS,
                "protocol": "https",
                "cacert": "/etc/gardenos/etcd-client/ca-bundle.crt",
                "cert": "/etc/gardenos/etcd-client/client-patroni.crt",
                "key": "/etc/gardenos/etcd-client/client-patroni.key",
                "username": "spilo",
            },
            "users": {
                "superuser": {"username": "postgres"},
                "replication": {"username": "standby"},
                "rewind": {"username": "rewind"},
            },
            "restapi": {"username": "patroni", "port": 8008},
            "postgresql": {"port": 5432, "parameters": {}},
            "dcs": {"ttl": 20, "loop_wait": 5, "retry_timeout": 7, "maximum_lag_on_failover": 1048576},
            "member_addresses": ["10.42.0.0/16"],
            "client_addresses": ["192.0.2.11", "10.42.0.0/16"],
            "pg_hba_extra": ["local replication standby scram-sha-256"],
        }
    )
    assert configuration == expected
    # the cluster-wide part only: Spilo names the members and gives them their addresses
    assert "name" not in configuration and "listen" not in configuration["restapi"]
    assert "data_dir" not in configuration["postgresql"]
    # the mounted etcd client certificate is where the configuration looks for it
    mount = next(m for m in container(statefulset)["volumeMounts"] if m["name"] == "etcd-client")["mountPath"]
    assert {Path(configuration["etcd3"][k]).parent for k in ("cacert", "cert", "key")} == {Path(mount)}


def test_spilo_services_follow_the_role_label(rendered):
    docs = documents(rendered / "spilo/services.yaml")
    primary = one(docs, "Service", "postgres-primary")["spec"]
    assert primary["selector"] == {**SELECTOR, "spilo-role": "primary"}
    assert primary["type"] == "NodePort" and primary["externalTrafficPolicy"] == "Local"
    assert {p["name"]: (p["port"], p["targetPort"], p["nodePort"]) for p in primary["ports"]} == {
        "postgresql": (5432, "postgresql", 30432),
        "patroni": (8008, "patroni", 30808),
    }
    replica = one(docs, "Service", "postgres-replica")["spec"]
    assert replica["selector"] == {**SELECTOR, "spilo-role": "replica"}
    assert replica["type"] == "ClusterIP"
    headless = one(docs, "Service", "postgres-headless")["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert headless["selector"] == SELECTOR
    # the target ports exist on the pods
    statefulset = one(documents(rendered / "spilo/statefulset.yaml"), "StatefulSet")
    ports = {p["name"] for p in container(statefulset)["ports"]}
    for service in (primary, replica, headless):
        assert {p["targetPort"] for p in service["ports"]} <= ports


def test_spilo_rbac_is_least_privilege(rendered):
    docs = documents(rendered / "spilo/namespace.yaml")
    assert one(docs, "Namespace", "postgres-cluster")
    role = one(docs, "Role", "spilo")
    # Spilo's callback_role.py PATCHes its own pod's role label, and nothing else
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["pods"],
            "resourceNames": ["postgres-k8s-0", "postgres-k8s-1", "postgres-k8s-2"],
            "verbs": ["patch"],
        }
    ]
    binding = one(docs, "RoleBinding", "spilo")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "spilo"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "spilo", "namespace": "postgres-cluster"}]
    statefulset = one(documents(rendered / "spilo/statefulset.yaml"), "StatefulSet")
    assert statefulset["spec"]["template"]["spec"]["serviceAccountName"] == "spilo"


def test_spilo_secrets(rendered, controller):
    docs = documents(rendered / "spilo/secrets.yaml")
    values = secret_values(docs)
    assert values["postgres-k8s-credentials"] == {
        "PATRONI_SUPERUSER_PASSWORD": PASSWORDS["superuser"],
        "PATRONI_REPLICATION_PASSWORD": PASSWORDS["replication"],
        "PATRONI_REWIND_PASSWORD": PASSWORDS["rewind"],
        "PATRONI_RESTAPI_PASSWORD": PASSWORDS["restapi"],
        "SPILO_ADMIN_PASSWORD": PASSWORDS["admin"],
        "PATRONI_ETCD3_PASSWORD": PASSWORDS["etcd"],
        "PATRONI_ETCD3_PROTOCOL": "https",
        "AWS_ACCESS_KEY_ID": S3_KEYS["spilo_s3_key"],
        "AWS_SECRET_ACCESS_KEY": S3_KEYS["spilo_s3_key_secret"],
        "WALG_LIBSODIUM_KEY": S3_KEYS["spilo_walg_encryption_key"],
    }
    # the same names as the filter of the one Patroni definition gives Patroni's environment
    passwords = {k: v for k, v in PASSWORDS.items() if k not in ("admin", "etcd")}
    environment = load_filter().patroni_environment(dict(passwords, etcd3=PASSWORDS["etcd"]))
    assert environment.items() <= values["postgres-k8s-credentials"].items()
    for name in ("ca-bundle.crt", "client-patroni.crt", "client-patroni.key"):
        assert values["postgres-k8s-etcd-client"][name] == (controller["pki"] / name).read_text()
    # every Secret key the StatefulSet refers to exists
    statefulset = one(documents(rendered / "spilo/statefulset.yaml"), "StatefulSet")
    for variable in container(statefulset)["env"]:
        ref = variable.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["key"] in values[ref["name"]], ref


def test_no_password_outside_the_secrets(rendered, controller):
    files = [p for p in rendered.rglob("*") if p.is_file() and p.name != "secrets.yaml"]
    assert len(files) == 7, files
    for path in files:
        text = path.read_text()
        for password in [*PASSWORDS.values(), *S3_KEYS.values()]:
            assert password not in text, path
    assert "BEGIN" not in (rendered / "spilo/statefulset.yaml").read_text()
    # nothing was generated into the controller's secrets directory: every password was given
    assert not controller["secrets"].exists() or not any(controller["secrets"].iterdir())


# -- check mode and preflight ----------------------------------------------------------------------


def check_run(controller, name, **extra):
    work = controller["base"] / name
    variables = {
        "k3s_server_disable": ["local-storage"],
        "local_path_storage_kubeconfig": str(work / "missing" / "kubeconfig.yaml"),
        "local_path_storage_manifests_dir": str(work / "server" / "local_path_storage"),
        "spilo_kubeconfig": str(work / "missing" / "kubeconfig.yaml"),
        "spilo_manifests_dir": str(work / "server" / "spilo"),
        "wiring_pki_controller_dir": str(work / "missing" / "pki"),
        "wiring_secrets_controller_dir": str(work / "secrets"),
        **extra,
    }
    return work, run_playbook(RENDER / "spilo_site_check.yml", variables, work, "--check", "--diff")


def test_check_mode_on_a_fresh_install(controller):
    # also: a dual-stack pod network set through K3s's cluster-cidr
    cidr = {"k3s_server_config_extra": {"cluster-cidr": "10.52.0.0/16,fd00:52::/56"}}
    work, proc = check_run(controller, "fresh-check", **cidr)
    output = proc.stdout
    assert proc.returncode == 0, output[-6000:] + proc.stderr[-3000:]
    assert re.search(r"ubuntu-8gb-hil-1\s*:.*failed=0", output)
    words = " ".join(output.split())
    assert "the local-path tasks that read or apply objects in the cluster are skipped" in words
    assert "the Spilo tasks that read or apply objects in the cluster are skipped" in words
    # the diff shows what would be applied, and nothing was written
    assert "kind: StatefulSet" in output and "kind: StorageClass" in output and "SPILO_CONFIGURATION" in output
    assert not (work / "server").exists()
    for cidr in ("10.52.0.0/16", "fd00:52::/56"):
        assert f'"host replication standby {cidr} scram-sha-256",' in output
    # no password is shown
    for password in (work / "secrets").iterdir():
        assert password.read_text().strip() not in output


def test_preflight_refuses_the_host_clusters_scope(controller):
    _work, proc = check_run(controller, "scope-clash", spilo_scope="postgres-cluster")
    assert proc.returncode != 0
    words = " ".join(proc.stdout.split())
    assert "spilo_scope postgres-cluster under /service/ is the scope of the Patroni cluster on the hosts" in words


# -- the Spilo configuration on real Patroni and etcd -----------------------------------------------


def spilo_generated(env, name, directory, rest_port, pg_port):
    """The part of the configuration Spilo's configure_spilo.py generates (its TEMPLATE) that makes a
    member: name, addresses, data directory, binaries, and the users from PGUSER_*/PGPASSWORD_*. Left
    out: what needs the rest of the image (SSL certificates, its extensions in shared_preload_libraries,
    its callbacks and replica-creation scripts). Addresses are loopback ports instead of the pod's."""
    return {
        "bootstrap": {
            "dcs": {
                "ttl": 30,
                "loop_wait": 10,
                "retry_timeout": 10,
                "maximum_lag_on_failover": 33554432,
                "postgresql": {
                    "use_pg_rewind": True,
                    "use_slots": True,
                    "parameters": {"archive_mode": "on", "wal_level": "hot_standby", "max_wal_senders": 10},
                },
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "en_US.UTF-8"}, "data-checksums"],
        },
        "scope": env["SCOPE"],
        "restapi": {"listen": f"127.0.0.1:{rest_port}", "connect_address": f"127.0.0.1:{rest_port}"},
        "postgresql": {
            "pgpass": str(directory / "pgpass"),
            "use_unix_socket": True,
            "use_unix_socket_repl": True,
            "name": name,
            "listen": f"127.0.0.1:{pg_port}",
            "connect_address": f"127.0.0.1:{pg_port}",
            "data_dir": str(directory / "data"),
            "bin_dir": str(PG_BIN),
            "parameters": {"archive_command": "/bin/true", "shared_buffers": "16MB", "fsync": "off"},
            "pg_hba": ["local all all trust", "hostssl replication standby all md5", "hostssl all all all md5"],
            "authentication": {
                "superuser": {"username": env["PGUSER_SUPERUSER"], "password": env["PGPASSWORD_SUPERUSER"]},
                "replication": {"username": env["PGUSER_STANDBY"], "password": env["PGPASSWORD_STANDBY"]},
            },
        },
    }


def as_postgres(argv, env, cwd, timeout=60):
    uid, gid = postgres_ids()
    return subprocess.run(
        argv,
        user=uid,
        group=gid,
        extra_groups=[],
        cwd=str(cwd),
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(cwd), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def psql(cwd, conninfo, sql, password=None):
    env = {"PGPASSWORD": password} if password else {}
    proc = as_postgres(
        [str(PG_BIN / "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql], env, cwd
    )
    return proc


def rest(url, path, method="GET", auth=None):
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + b64encode(":".join(auth).encode()).decode()
    request = urllib.request.Request(url + path, method=method, headers=headers, data=b"" if method == "POST" else None)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _on_loopback(configuration, secrets, patroni_base, tls_etcd):
    """What differs between a pod and loopback: the etcd members' addresses, and where the init container puts
    the client certificate (here: a directory postgres owns, like the pod's)."""
    assert configuration["etcd3"]["hosts"] == ETCD_HOSTS
    pki_dir = patroni_base / "etcd-client"
    pki_dir.mkdir()
    uid, gid = postgres_ids()
    os.chown(pki_dir, uid, gid)
    pki_dir.chmod(0o700)
    for key in ("cacert", "cert", "key"):
        # the files of the Secret (the controller's etcd PKI: here the CA of the lab's etcd)
        name = Path(configuration["etcd3"][key]).name
        (pki_dir / name).write_text(secrets["postgres-k8s-etcd-client"][name])
        os.chown(pki_dir / name, uid, gid)
        (pki_dir / name).chmod(0o600 if key == "key" else 0o644)
        configuration["etcd3"][key] = str(pki_dir / name)
    configuration["etcd3"]["hosts"] = [url.split("://", 1)[1] for url in tls_etcd.endpoints]


def _members(configuration, env, patroni_base):
    """Three Patroni members on loopback, each with the configuration Spilo would merge for its pod."""
    ports = free_ports(6)
    members = []
    for index in range(3):
        name = f"postgres-k8s-{index}"
        directory = patroni_base / name
        rest_port, pg_port = ports[2 * index], ports[2 * index + 1]
        merged = spilo_deep_update(
            copy.deepcopy(configuration), spilo_generated(env, name, directory, rest_port, pg_port)
        )
        member = PatroniProcess(patroni_4(), merged, directory, name=name)
        member.rest_url, member.pg_port = f"http://127.0.0.1:{rest_port}", pg_port
        members.append(member)
    return members


def _check_users_and_settings(leader, cwd):
    """The REST API's password, the users' passwords through pg_hba, and the running configuration."""
    # the REST API's password came through the $(NAME) reference
    assert rest(leader.rest_url, "/reload", "POST") == 401
    assert rest(leader.rest_url, "/reload", "POST", auth=("patroni", PASSWORDS["restapi"])) == 202
    # the users Patroni made, with the passwords from the Secret, through pg_hba
    tcp = f"host=127.0.0.1 port={leader.pg_port} dbname=postgres"
    for user, password in (("postgres", "superuser"), ("rewind", "rewind")):
        proc = psql(cwd, f"{tcp} user={user}", "SELECT current_user", PASSWORDS[password])
        assert proc.returncode == 0 and proc.stdout.strip() == user, proc.stderr
    # Patroni's own replication connection over the socket (use_unix_socket_repl)
    replication = f"host=/var/run/postgresql port={leader.pg_port} dbname=postgres user=standby replication=database"
    proc = psql(cwd, replication, "IDENTIFY_SYSTEM", PASSWORDS["replication"])
    assert proc.returncode == 0, proc.stderr

    # the running configuration is the shared definition's, not Spilo's template's
    socket = f"host=/var/run/postgresql port={leader.pg_port} dbname=postgres user=postgres"
    proc = psql(
        cwd,
        socket,
        "SELECT current_setting('password_encryption'), current_setting('wal_keep_size'),"
        " (SELECT count(*) FROM pg_hba_file_rules WHERE type = 'local' AND database = '{replication}')",
    )
    assert proc.stdout.strip() == "scram-sha-256|256MB|1", proc.stderr


def _check_admin_role_script(rendered, patroni_base, leader, cwd):
    """The admin role script, as Spilo would run it: Spilo's NOLOGIN "admin" exists (its post_init.sh makes
    it), the script runs as root in the pod and becomes postgres with chpst; here it runs as postgres and a
    stand-in chpst just runs the command."""
    socket = f"host=/var/run/postgresql port={leader.pg_port} dbname=postgres user=postgres"
    tcp = f"host=127.0.0.1 port={leader.pg_port} dbname=postgres"
    assert psql(cwd, socket, "CREATE ROLE admin NOLOGIN").returncode == 0
    shim = patroni_base / "bin"
    shim.mkdir()
    (shim / "chpst").write_text('#!/bin/sh\n[ "$1" = "-u" ] && shift 2\nexec "$@"\n')
    (shim / "chpst").chmod(0o755)
    script = patroni_base / "ensure-admin.sh"
    shutil.copyfile(rendered / "spilo_loopback/ensure-admin.sh", script)
    script.chmod(0o644)

    def ensure_admin(password):
        environment = {"PATH": f"{shim}:/usr/bin:/bin", "SPILO_ADMIN_PASSWORD": password, "PGPORT": str(leader.pg_port)}
        proc = as_postgres(["/bin/sh", str(script)], environment, cwd)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    assert ensure_admin(PASSWORDS["admin"]) == "created"
    assert ensure_admin(PASSWORDS["admin"]) == "ok"
    assert ensure_admin("new-admin-Pw.6") == "updated"
    proc = psql(
        cwd,
        f"{tcp} user=dbadmin",
        "SELECT pg_has_role('dbadmin', 'admin', 'MEMBER'), rolcreatedb, rolcreaterole"
        " FROM pg_roles WHERE rolname = current_user",
        "new-admin-Pw.6",
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "t|t|t", proc.stderr
    assert psql(cwd, f"{tcp} user=dbadmin", "SELECT 1", PASSWORDS["admin"]).returncode != 0


def test_spilo_configuration_bootstraps_real_patroni(rendered, tls_etcd, patroni_base, run_module):
    statefulset = one(documents(rendered / "spilo_loopback/statefulset.yaml"), "StatefulSet")
    secrets = secret_values(documents(rendered / "spilo/secrets.yaml"))
    env = pod_environment(statefulset, secrets, pod_ip="127.0.0.1")
    configuration = json.loads(env["SPILO_CONFIGURATION"])
    assert "$(" not in env["SPILO_CONFIGURATION"]
    assert configuration["restapi"]["authentication"] == {"username": "patroni", "password": PASSWORDS["restapi"]}
    assert configuration["postgresql"]["authentication"]["rewind"] == {
        "username": "rewind",
        "password": PASSWORDS["rewind"],
    }
    assert "host replication standby 127.0.0.0/8 scram-sha-256" in configuration["postgresql"]["pg_hba"]

    _on_loopback(configuration, secrets, patroni_base, tls_etcd)
    members = _members(configuration, env, patroni_base)
    try:
        for member in members:
            member.start()
        health = run_module(
            "patroni_check",
            {"urls": [m.rest_url for m in members], "expected_members": 3, "wait_timeout": 60, "timeout": 3},
        )
        if health["failed"]:
            logs = "\n".join(f"--- {m.name}\n{m.log_tail(20)}" for m in members)
            pytest.fail(f"{health.get('msg')}\n{logs}")
        assert health["healthy"] is True and health["scope"] == "postgres-k8s"
        assert sorted(m["name"] for m in health["members"]) == [m.name for m in members]
        assert tls_etcd.keys("/service/postgres-k8s/"), "no keys under the scope's prefix in etcd"
        leader = next(m for m in members if m.name == health["leader"])
        _check_users_and_settings(leader, patroni_base)
        _check_admin_role_script(rendered, patroni_base, leader, patroni_base)
    finally:
        for member in members:
            member.kill()
            # a SIGKILLed postmaster leaves its socket and lock file in the shared socket directory
            for leftover in Path("/var/run/postgresql").glob(f".s.PGSQL.{member.pg_port}*"):
                leftover.unlink(missing_ok=True)
