"""Real Patroni + PostgreSQL clusters on 127.0.0.1 for the integration tests.

Kept apart from the code under test, like etcdlab: the lab reads Patroni's REST API and runs SQL
with its own small helpers (urllib, psql), and the tests run the modules with the real `ansible`
CLI (etcdlab.ModuleRunner).

* Patroni 4.1.5 (PyPI, with psycopg 3) lives in a venv built once from /usr/bin/python3 under
  .cache/patroni-4.1.5: Patroni runs as user postgres, which cannot read a Python under /root.
* Patroni 3.0.2 is Debian's package and its Python dependencies, fetched with `apt-get download`
  and unpacked with `dpkg-deb -x` (never installed) under .cache/patroni-3.0.2, and run with
  /usr/bin/python3 and PYTHONPATH pointing there.
* PostgreSQL 15 comes from Debian's postgresql-15 (/usr/lib/postgresql/15/bin).

Every process a PatroniProcess starts (Patroni, the postmaster Patroni starts in a session of
its own, backends, pg_basebackup, pg_rewind ...) inherits an environment variable holding the
process's tag; kill() SIGKILLs Patroni's process group and the postmaster's, then every process
still carrying the tag, so nothing outlives a test.
"""

import fcntl
import json
import os
import pwd
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from base64 import b64encode
from contextlib import contextmanager
from pathlib import Path

import yaml
from etcdlab import REPO, b64, collections_root, free_ports

CACHE = REPO / ".cache"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SYSTEM_PYTHON = "/usr/bin/python3"
PATRONI_4_VERSION = "4.1.5"
PATRONI_4_CACHE = CACHE / f"patroni-{PATRONI_4_VERSION}"
PATRONI_3_CACHE = CACHE / "patroni-3.0.2"
# Debian's patroni 3.0.2 and the Python packages it needs that a minimal Debian 12 lacks
# (python3-yaml comes with ansible's own needs and is taken from the system, but is listed too).
PATRONI_3_DEBS = (
    "patroni",
    "python3-etcd",
    "python3-urllib3",
    "python3-dnspython",
    "python3-psycopg2",
    "python3-psutil",
    "python3-click",
    "python3-dateutil",
    "python3-six",
    "python3-prettytable",
    "python3-wcwidth",
    "python3-cdiff",
    "python3-pkg-resources",
    "python3-yaml",
)
TAG_VARIABLE = "GARDENOS_PATRONILAB_TAG"
SUBREAPER = Path(__file__).resolve().with_name("subreaper.py")
TAG_PREFIX = "gardenos-patronilab-"
REST_USER = "patroni"
REST_PASSWORD = "rest-pw-for-tests"  # noqa: S105 - throwaway credentials of throwaway clusters
SUPERUSER_PASSWORD = "su-pw-for-tests"  # noqa: S105
REPLICATION_PASSWORD = "repl-pw-for-tests"  # noqa: S105


def postgres_ids():
    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


# -- Patroni installations --------------------------------------------------------------------------


class PatroniInstall:
    """How to run one Patroni version: the command before the config file, and extra environment."""

    def __init__(self, version, argv, env=None):
        self.version = version
        self.argv = list(argv)
        self.env = dict(env or {})

    def command(self, config_file):
        return [*self.argv, str(config_file)]


@contextmanager
def _cache_lock(name):
    """One builder at a time for a cache entry (parallel test runs share .cache)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    CACHE.chmod(0o755)  # postgres must traverse it to reach the Patroni installations
    with open(CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _readable_by_all(path):
    subprocess.run(["chmod", "-R", "go+rX", str(path)], check=True, timeout=120)


def patroni_4():
    """Patroni 4.1.5 (PyPI, etcd3 + psycopg 3) in a venv of /usr/bin/python3, built once."""
    marker = PATRONI_4_CACHE / ".complete"
    if not marker.exists():
        with _cache_lock(PATRONI_4_CACHE.name):
            if not marker.exists():
                if PATRONI_4_CACHE.exists():
                    shutil.rmtree(PATRONI_4_CACHE)
                # A venv is not relocatable (its scripts name their python), so it is built in place
                # and marked complete at the end.
                venv = subprocess.run(
                    [SYSTEM_PYTHON, "-m", "venv", str(PATRONI_4_CACHE)],
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
                if venv.returncode:
                    raise RuntimeError(
                        f"{SYSTEM_PYTHON} -m venv failed (Debian needs the python3-venv package): {venv.stderr}"
                    )
                subprocess.run(
                    [
                        str(PATRONI_4_CACHE / "bin" / "pip"),
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                        f"patroni[etcd3]=={PATRONI_4_VERSION}",
                        "psycopg[binary]",
                    ],
                    check=True,
                    timeout=600,
                )
                _readable_by_all(PATRONI_4_CACHE)
                marker.touch()
    return PatroniInstall(PATRONI_4_VERSION, [str(PATRONI_4_CACHE / "bin" / "patroni")])


def patroni_3():
    """Debian's patroni 3.0.2 and its Python dependencies, downloaded and unpacked (not installed) once."""
    site = PATRONI_3_CACHE / "usr" / "lib" / "python3" / "dist-packages"
    script = PATRONI_3_CACHE / "usr" / "bin" / "patroni"
    if not script.exists():
        if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
            raise RuntimeError("Patroni 3.0.2 comes from Debian's patroni package: apt-get and dpkg-deb are needed")
        with _cache_lock(PATRONI_3_CACHE.name):
            if not script.exists():
                with tempfile.TemporaryDirectory(dir=CACHE) as download:
                    subprocess.run(
                        ["apt-get", "download", "-q", *PATRONI_3_DEBS],
                        cwd=download,
                        check=True,
                        capture_output=True,
                        timeout=300,
                    )
                    unpacked = Path(download) / "root"
                    for deb in sorted(Path(download).glob("*.deb")):
                        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True, timeout=120)
                    version = subprocess.run(
                        ["dpkg-deb", "-f", str(next(Path(download).glob("patroni_*.deb"))), "Version"],
                        check=True,
                        capture_output=True,
                        text=True,
                        timeout=60,
                    ).stdout.strip()
                    if not version.startswith("3.0.2"):
                        raise RuntimeError(f"apt-get download patroni gave version {version}, not 3.0.2")
                    _readable_by_all(unpacked)
                    if PATRONI_3_CACHE.exists():
                        shutil.rmtree(PATRONI_3_CACHE)
                    unpacked.rename(PATRONI_3_CACHE)
    return PatroniInstall("3.0.2", [SYSTEM_PYTHON, str(script)], env={"PYTHONPATH": str(site)})


# -- processes --------------------------------------------------------------------------------------


def _environ(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return handle.read().split(b"\0")
    except OSError:
        return []


def lab_tag_prefix():
    """The start of the tags of every process this Python process's lab starts."""
    return f"{TAG_PREFIX}{os.getpid()}-"


def tagged_pids(tag=None):
    """PIDs of live processes whose environment carries a tag starting with ``tag`` (default: any tag
    of this Python process's lab)."""
    wanted = f"{TAG_VARIABLE}={tag or lab_tag_prefix()}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        if any(variable.startswith(wanted) for variable in _environ(entry)):
            pids.append(int(entry))
    return pids


def kill_tagged(tag=None, timeout=15):
    """SIGKILL every process carrying the tag (default: any of this lab's) until none is left."""
    deadline = time.monotonic() + timeout
    while True:
        pids = tagged_pids(tag)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes survive SIGKILL: {pids}")
        time.sleep(0.1)


def remove_shared_memory(key, shmid, timeout=5):
    """ipcrm a SysV segment once no process is attached, if the segment with that id still has that key."""
    deadline = time.monotonic() + timeout
    while True:
        listing = subprocess.run(["ipcs", "-m"], capture_output=True, text=True, check=False, timeout=30).stdout
        row = next((line.split() for line in listing.splitlines() if line.split()[1:2] == [str(shmid)]), None)
        if row is None or len(row) < 6 or not row[0].startswith("0x") or int(row[0], 16) != key:
            return
        if row[5] == "0":
            subprocess.run(["ipcrm", "-m", str(shmid)], capture_output=True, check=False, timeout=30)
            return
        if time.monotonic() > deadline:
            return
        time.sleep(0.1)


def _chown_postgres(*paths):
    uid, gid = postgres_ids()
    for path in paths:
        os.chown(path, uid, gid)


class PatroniProcess:
    """One Patroni process started as user postgres from a patroni.yml written from ``config``.

    ``config`` is any Patroni configuration (a dict); the lab writes it to ``<directory>/patroni.yml``
    and runs ``patroni <that file>`` with the ``install``'s Patroni. ``directory`` is created and
    given to postgres; data directories, sockets and the like are best placed in it.
    """

    def __init__(self, install, config, directory, *, name=None, environment=None):
        self.install = install
        self.config = config
        self.environment = dict(environment or {})
        self.directory = Path(directory)
        self.name = name or config.get("name") or self.directory.name
        self.config_file = self.directory / "patroni.yml"
        self.log_file = self.directory / "patroni.log"
        self.tag = f"{lab_tag_prefix()}{uuid.uuid4().hex[:12]}"
        self.proc = None
        self._log = None

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def data_dir(self):
        return Path(self.config.get("postgresql", {}).get("data_dir", self.directory / "data"))

    def write_config(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        _chown_postgres(self.directory)
        self.config_file.write_text(yaml.safe_dump(self.config, default_flow_style=False, sort_keys=False))
        self.config_file.chmod(0o600)
        _chown_postgres(self.config_file)

    def start(self):
        if self.alive:
            raise RuntimeError(f"Patroni {self.name} is running already")
        self.write_config()
        uid, gid = postgres_ids()
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": str(self.directory),
            "USER": "postgres",
            "LOGNAME": "postgres",
            TAG_VARIABLE: self.tag,
            **self.install.env,
            **self.environment,
        }
        self._log = open(self.log_file, "ab")
        # As postgres, in a session (process group) of its own; the postmaster gets yet another.
        # Under a subreaper, which reaps the (double-forked) postmaster at once, as systemd does.
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, "-I", str(SUBREAPER), *self.install.command(self.config_file)],
            cwd=str(self.directory),
            env=env,
            user=uid,
            group=gid,
            extra_groups=[],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def postmaster(self):
        """(pid, SysV shared memory key, shmid) from postmaster.pid; Nones where unknown."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().split("\n")
        except OSError:
            return None, None, None
        try:
            pid = int(lines[0])
        except (ValueError, IndexError):
            pid = None
        try:
            key, shmid = lines[6].split()
            return pid, int(key), int(shmid)
        except (ValueError, IndexError):
            return pid, None, None

    def kill(self):
        """SIGKILL Patroni, then its PostgreSQL (the postmaster's process group), then anything left.

        A SIGKILLed postmaster leaves its (tiny) SysV shared memory segment behind: it is removed
        too, if it is still the one postmaster.pid names.
        """
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        postmaster, shm_key, shmid = self.postmaster()
        if postmaster and self.tag.encode() in b"".join(_environ(postmaster)):
            try:
                os.killpg(os.getpgid(postmaster), signal.SIGKILL)
            except ProcessLookupError:
                pass
        kill_tagged(self.tag)
        if shmid is not None:
            remove_shared_memory(shm_key, shmid)
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self):
        """Stop it: there is no graceful way in the lab, this is kill()."""
        self.kill()

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# -- clusters ---------------------------------------------------------------------------------------


class Node(PatroniProcess):
    """A member of a PatroniCluster: its ports and the URLs derived from them."""

    def __init__(self, install, config, directory, *, rest_port, pg_port, scheme):
        super().__init__(install, config, directory)
        self.rest_port = rest_port
        self.pg_port = pg_port
        self.api_url = f"{scheme}://127.0.0.1:{rest_port}"

    @property
    def socket_dir(self):
        return self.directory


def member_config(
    *,
    scope,
    name,
    directory,
    rest_port,
    pg_port,
    etcd_hosts,
    tls=None,
    etcd_client=None,
    ttl=20,
    loop_wait=1,
    retry_timeout=5,
):
    """A Patroni configuration for one member on 127.0.0.1 (works on Patroni 3.0 and 4.x).

    ``etcd_client``: etcd3 settings over the default plain HTTP (protocol, cacert, cert, key,
    username, password)."""
    directory = Path(directory)
    restapi = {
        "listen": f"127.0.0.1:{rest_port}",
        "connect_address": f"127.0.0.1:{rest_port}",
        "authentication": {"username": REST_USER, "password": REST_PASSWORD},
    }
    config = {
        "scope": scope,
        "namespace": "/service/",
        "name": name,
        "log": {"level": "INFO"},
        "restapi": restapi,
        "etcd3": {"hosts": list(etcd_hosts), "protocol": "http", **(etcd_client or {})},
        "bootstrap": {
            "dcs": {
                "ttl": ttl,
                "loop_wait": loop_wait,
                "retry_timeout": retry_timeout,
                "maximum_lag_on_failover": 1048576,
                "postgresql": {
                    "use_pg_rewind": True,
                    "parameters": {
                        "wal_retrieve_retry_interval": "500ms",
                        "wal_log_hints": "on",
                        "max_wal_senders": 10,
                        "max_replication_slots": 10,
                        "wal_keep_size": "128MB",
                        "hot_standby": "on",
                    },
                },
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}],
        },
        "postgresql": {
            "listen": f"127.0.0.1:{pg_port}",
            "connect_address": f"127.0.0.1:{pg_port}",
            "data_dir": str(directory / "data"),
            "bin_dir": str(PG_BIN),
            "pgpass": str(directory / "pgpass"),
            "authentication": {
                "superuser": {"username": "postgres", "password": SUPERUSER_PASSWORD},
                "replication": {"username": "replicator", "password": REPLICATION_PASSWORD},
                "rewind": {"username": "postgres", "password": SUPERUSER_PASSWORD},
            },
            "parameters": {
                "unix_socket_directories": str(directory),
                "shared_buffers": "16MB",
                "max_connections": 30,
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "on",
                "logging_collector": "off",
            },
            "pg_hba": [
                "local all all trust",
                "host replication replicator 127.0.0.1/32 scram-sha-256",
                "host all all 127.0.0.1/32 scram-sha-256",
            ],
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
    }
    if tls:
        # The REST API over HTTPS; client certificates are checked when presented.
        restapi.update(certfile=tls["server_cert"], keyfile=tls["server_key"], cafile=tls["ca_cert"])
        restapi["verify_client"] = "optional"
        config["ctl"] = {"cacert": tls["ca_cert"], "certfile": tls["client_cert"], "keyfile": tls["client_key"]}
    return config


def etcd_environment(password, protocol):
    """The PATRONI_ETCD3_* environment the patroni role's filter gives Patroni for its etcd user."""
    import sys

    root = str(collections_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    from ansible_collections.gardenos.cluster.plugins.filter.patroni import patroni_environment

    passwords = {"superuser": "-", "replication": "-", "rewind": "-", "restapi": "-", "etcd3": password}
    env = patroni_environment(passwords, protocol)
    return {name: value for name, value in env.items() if name.startswith("PATRONI_ETCD3_")}


class PatroniCluster:
    """``size`` Patroni/PostgreSQL members of one scope on 127.0.0.1, using a running etcd cluster."""

    def __init__(self, base_dir, install, etcd, *, scope, size=3, tls=None, label=None, etcd_user=None):
        self.base_dir = Path(base_dir)
        self.install = install
        self.etcd = etcd
        self.scope = scope
        self.label = label or scope
        self.tls = self._tls_copy(tls) if tls else None
        etcd_client = {}
        if etcd.tls:
            # etcd's client certificate has no Common Name: with etcd auth on, the gateway Patroni
            # talks to refuses one that has.
            files = self._tls_copy(etcd.pki, "etcd-pki")
            etcd_client = {
                "protocol": "https",
                "cacert": files["ca_cert"],
                "cert": files["client_cert"],
                "key": files["client_key"],
            }
        environment = {}
        if etcd_user:
            # The user in the configuration, its password in the environment as the patroni role
            # gives it (the collection's filter: Patroni reads it only beside another PATRONI_ETCD3_*).
            etcd_client["username"] = etcd_user[0]
            environment = etcd_environment(etcd_user[1], etcd_client.get("protocol", "http"))
        self.nodes = []
        scheme = "https" if tls else "http"
        etcd_hosts = [url.split("://", 1)[1] for url in etcd.endpoints]
        ports = free_ports(size * 2)
        for index in range(size):
            name = f"{self.label}-{index}"
            directory = self.base_dir / name
            rest_port, pg_port = ports[2 * index], ports[2 * index + 1]
            config = member_config(
                scope=scope,
                name=name,
                directory=directory,
                rest_port=rest_port,
                pg_port=pg_port,
                etcd_hosts=etcd_hosts,
                tls=self.tls,
                etcd_client=etcd_client,
            )
            node = Node(install, config, directory, rest_port=rest_port, pg_port=pg_port, scheme=scheme)
            node.environment = environment
            self.nodes.append(node)

    def _tls_copy(self, pki, name="pki"):
        """The lab PKI copied where postgres can read it (the keys are 0600 and root's)."""
        directory = self.base_dir / name
        directory.mkdir(parents=True, exist_ok=True)
        _chown_postgres(self.base_dir, directory)
        copy = dict(pki)
        for key in ("ca_cert", "server_cert", "server_key", "client_cert", "client_key"):
            target = directory / Path(pki[key]).name
            shutil.copyfile(pki[key], target)
            target.chmod(0o600 if key.endswith("_key") else 0o644)
            _chown_postgres(target)
            copy[key] = str(target)
        copy["root_client_cert"], copy["root_client_key"] = pki["client_cert"], pki["client_key"]
        return copy

    # lifecycle ------------------------------------------------------------------------------------

    @property
    def urls(self):
        return [node.api_url for node in self.nodes]

    def node(self, name):
        return next(node for node in self.nodes if node.name == name)

    def start(self, timeout=60):
        self.base_dir.mkdir(parents=True, exist_ok=True)
        _chown_postgres(self.base_dir)
        for node in self.nodes:
            node.start()
        self.wait_healthy(timeout=timeout)
        return self

    def stop(self):
        for node in self.nodes:
            node.kill()

    def destroy(self):
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def wipe(self, node):
        """Remove a stopped member's data directory."""
        if node.alive:
            raise RuntimeError(f"{node.name} still runs")
        shutil.rmtree(node.data_dir, ignore_errors=True)

    def dcs_keys(self):
        return self.etcd.keys(f"/service/{self.scope}/")

    def delete_dcs_state(self):
        """Delete /service/<scope>/ in etcd (what the recovery does with etcd_deleterange)."""
        prefix = f"/service/{self.scope}/".encode()
        end = bytearray(prefix)
        end[-1] += 1
        answer = self.etcd.api("/kv/deleterange", {"key": b64(prefix), "range_end": b64(bytes(end))})
        return int(answer.get("deleted", 0))

    # REST -----------------------------------------------------------------------------------------

    def _ssl_context(self):
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.tls["ca_cert"])
        context.load_cert_chain(self.tls["root_client_cert"], self.tls["root_client_key"])
        return context

    def rest(self, node, path, body=None, *, method=None, auth=False, timeout=5):
        """(HTTP status, parsed JSON or text) of one REST request to one member."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = "Basic " + b64encode(f"{REST_USER}:{REST_PASSWORD}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 - http(s) only
            node.api_url + path, data=data, headers=headers, method=method or ("GET" if body is None else "POST")
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self._ssl_context()) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def cluster_state(self, timeout=5):
        """/cluster from the first live member that answers; None when none does."""
        for node in self.nodes:
            if not node.alive:
                continue
            try:
                status, answer = self.rest(node, "/cluster", timeout=timeout)
            except (urllib.error.URLError, OSError):
                continue
            if status == 200 and isinstance(answer, dict):
                return answer
        return None

    def leader(self):
        """The leader's name from /cluster (role leader, master or standby_leader), or None."""
        state = self.cluster_state() or {}
        for member in state.get("members", []):
            if member.get("role") in ("leader", "master", "standby_leader"):
                return member["name"]
        return None

    def replicas(self):
        state = self.cluster_state() or {}
        return [m["name"] for m in state.get("members", []) if m.get("role") in ("replica", "sync_standby")]

    @property
    def streaming_state(self):
        """Whether healthy replicas say "streaming" (Patroni 3.0.4 and later) rather than "running"."""
        return tuple(int(part) for part in self.install.version.split(".")[:3]) >= (3, 0, 4)

    def is_healthy(self, members=None):
        """One leader, every expected member running/streaming on one timeline, no replica lagging."""
        state = self.cluster_state()
        if not state:
            return False
        expected = set(members or [node.name for node in self.nodes])
        found = {m["name"]: m for m in state.get("members", [])}
        if set(found) != expected:
            return False
        leaders = [m for m in found.values() if m.get("role") in ("leader", "master", "standby_leader")]
        if len(leaders) != 1 or leaders[0].get("state") != "running":
            return False
        replica_state = "streaming" if self.streaming_state else "running"
        for member in found.values():
            if member is leaders[0]:
                continue
            if member.get("state") != replica_state:
                return False
            if any(member.get(field, 0) != 0 for field in ("lag", "receive_lag", "replay_lag")):
                return False
        return len({m.get("timeline") for m in found.values()}) == 1

    def wait_for(self, what, predicate, timeout=60, interval=0.25):
        """Poll ``predicate()`` until it is true; RuntimeError with the cluster state and logs after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {n.name}\n{n.log_tail(15)}" for n in self.nodes)
                raise RuntimeError(f"Patroni {self.scope}: no {what} after {timeout}s: {self.cluster_state()}\n{logs}")
            time.sleep(interval)

    def wait_healthy(self, members=None, timeout=60):
        members = members or [node.name for node in self.nodes]

        def healthy():
            dead = [name for name in members if self.node(name).proc is not None and not self.node(name).alive]
            if dead:
                raise RuntimeError(f"Patroni died on {dead}:\n" + "\n".join(self.node(n).log_tail() for n in dead))
            return self.is_healthy(members)

        self.wait_for("healthy cluster", healthy, timeout=timeout)

    def ensure_healthy(self, timeout=120):
        """Bring the cluster back to every member up and healthy after a test: start members that are
        not running, leave maintenance mode, and wait."""
        for node in self.nodes:
            if not node.alive:
                node.kill()  # whatever is left of it
                node.start()
        state = self.cluster_state() or {}
        if state.get("pause"):
            self.set_pause(False)
        self.wait_healthy(timeout=timeout)
        return self

    def set_pause(self, paused):
        """Maintenance mode on or off (PATCH /config, with the REST credentials), once /cluster shows it."""
        node = next(node for node in self.nodes if node.alive)
        status, answer = self.rest(node, "/config", {"pause": bool(paused)}, method="PATCH", auth=True)
        if status != 200:
            raise RuntimeError(f"PATCH /config on {node.name}: HTTP {status} {answer}")
        self.wait_for(
            "maintenance mode %s" % ("on" if paused else "off"),
            lambda: bool((self.cluster_state() or {}).get("pause")) == bool(paused),
            timeout=60,
        )
        # /cluster shows the DCS config at once; each member acts on it only from its next HA
        # loop, and a member that has not seen the pause yet restarts a stopped PostgreSQL.
        self.wait_for(
            "every member in maintenance mode %s" % ("on" if paused else "off"),
            lambda: all(
                bool((self.patroni_state(node) or {}).get("pause")) == bool(paused) for node in self.nodes if node.alive
            ),
            timeout=60,
        )

    def patroni_state(self, node):
        """GET /patroni of one member (its answer also comes with HTTP 503); None when it does not answer."""
        try:
            return self.rest(node, "/patroni", timeout=5)[1]
        except (urllib.error.URLError, OSError):
            return None

    def switchover(self, leader, candidate, timeout=30):
        return self.rest(
            self.node(leader), "/switchover", {"leader": leader, "candidate": candidate}, auth=True, timeout=timeout
        )

    # SQL ------------------------------------------------------------------------------------------

    @staticmethod
    def run_as_postgres(node, argv, timeout=60):
        """Run a PostgreSQL tool as postgres in a member's directory, tagged like its processes; stdout."""
        uid, gid = postgres_ids()
        proc = subprocess.run(
            [str(PG_BIN / argv[0]), *argv[1:]],
            user=uid,
            group=gid,
            extra_groups=[],
            cwd=str(node.directory),
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(node.directory), TAG_VARIABLE: node.tag},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode:
            raise RuntimeError(f"{' '.join(argv[:2])} on {node.name} failed: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def sql(self, node, statement, timeout=60):
        """Run SQL as the postgres superuser over the member's Unix socket; stdout (unaligned, tuples only)."""
        host = ["-h", str(node.socket_dir), "-p", str(node.pg_port), "-U", "postgres", "-d", "postgres"]
        argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *host, "-Atc", statement]
        return self.run_as_postgres(node, argv, timeout)

    def pg_ctl(self, node, *args, timeout=60):
        """Run pg_ctl on a member's data directory as postgres (e.g. "stop", "-m", "immediate")."""
        return self.run_as_postgres(node, ["pg_ctl", "-D", str(node.data_dir), *args], timeout)

    def stop_postgres_in_pause(self, node, timeout=20):
        """Maintenance mode on, then stop a member's PostgreSQL and wait until Patroni reports it "stopped"."""
        self.set_pause(True)
        answer = self.pg_ctl(node, "stop", "-m", "immediate", "-w")
        try:
            return self.wait_for(
                f"stopped PostgreSQL on {node.name}",
                lambda: any(
                    m["name"] == node.name and m["state"] == "stopped"
                    for m in (self.cluster_state() or {}).get("members", [])
                ),
                timeout=timeout,
            )
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\npg_ctl stop: {answer}\n--- {node.name}, longer\n{node.log_tail(80)}") from None

    # module options -------------------------------------------------------------------------------

    def module_args(self, urls=None, **extra):
        args = {"urls": urls or self.urls, "timeout": 3}
        if self.tls:
            args.update(
                ca_cert=self.tls["ca_cert"],
                client_cert=self.tls["root_client_cert"],
                client_key=self.tls["root_client_key"],
            )
        args.update(extra)
        return args


def make_base_dir(prefix="gardenos-patroni-"):
    """A directory under /tmp that postgres owns (pytest's tmp dirs are 0700 root: postgres cannot enter)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o700)
    _chown_postgres(path)
    return path
