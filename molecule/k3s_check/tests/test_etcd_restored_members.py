"""Each member after the restore: etcd runs as etcd on a private restored data directory, the
destroyed one is kept aside, and no snapshot copy is left behind."""

import pytest
import testinfra
from conftest import scenario_servers

ETCD_MEMBERS = [name for name, server in scenario_servers().items() if "etcd" in server["services"]]


@pytest.fixture(params=ETCD_MEMBERS)
def host(request):
    """Each etcd member (k3s-4 is a K3s agent only). A module-level testinfra_hosts would not do:
    molecule/conftest.py sets --hosts, which testinfra prefers."""
    return testinfra.get_host(f"podman://{request.param}")


SNAPSHOT_DIR = "/var/backups/etcd-snapshot"


def test_etcd_runs_as_etcd_user(host):
    service = host.service("etcd")
    assert service.is_running
    assert service.is_enabled
    assert host.process.get(comm="etcd").user == "etcd"


def test_restored_data_directory_is_private_and_etcds(host):
    data_dir = host.file("/var/lib/etcd")
    assert data_dir.user == "etcd"
    assert data_dir.group == "etcd"
    assert data_dir.mode == 0o700
    assert host.file("/var/lib/etcd/member/snap/db").user == "etcd"
    assert not host.file("/var/lib/etcd/destroyed-by-drill").exists


def test_data_directory_before_the_restore_is_kept_aside(host):
    kept = host.check_output("ls -d /var/lib/etcd.before-restore-* 2>/dev/null || true").split()
    assert kept, "no /var/lib/etcd.before-restore-* directory"
    assert host.file(f"{kept[-1]}/destroyed-by-drill").exists


def test_no_snapshot_is_left_on_the_member(host):
    directory = host.file(SNAPSHOT_DIR)
    assert directory.user == "root"
    assert directory.mode == 0o700
    assert host.check_output(f"ls -A {SNAPSHOT_DIR}") == ""


@pytest.mark.parametrize("binary", ["etcd", "etcdctl", "etcdutl"])
def test_the_local_member_runs_etcd_3_5_with_etcdutl(binary):
    """k3s-3 has the `local` install method: etcd 3.5 from the controller, etcdutl included."""
    local_member = testinfra.get_host("podman://k3s-3")
    assert local_member.file(f"/usr/local/bin/{binary}").mode == 0o755
    version = "--version" if binary == "etcd" else "version"
    assert "3.5." in local_member.check_output(f"/usr/local/bin/{binary} {version}")
