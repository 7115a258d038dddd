"""gardenos.cluster.etcd_member: peer URLs are checked before any request, in check mode too.

The HTTP boundary (etcd_gateway's open_url) plays a one-member etcd that refuses a peer URL without
a port, as etcd does ("given member URLs are invalid").
"""

import io
import json
from urllib.error import HTTPError

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.gardenos.cluster.plugins.module_utils import etcd_gateway as gw
from ansible_collections.gardenos.cluster.plugins.modules import etcd_member

HEADER = {"cluster_id": "723720096801262377", "member_id": "3939448654763990156", "raft_term": "2"}
MEMBERS = [{"ID": "3939448654763990156", "name": "etcd-1", "peerURLs": ["http://10.0.0.11:2380"]}]
INVALID = {"error": "etcdserver: given member URLs are invalid", "code": 3}
INVALID["message"] = INVALID["error"]


class OneMemberEtcd:
    def __init__(self):
        self.calls = []

    def __call__(self, url, data=None, **kwargs):
        self.calls.append(url)
        if url.endswith("/version"):
            body = {"etcdserver": "3.5.1", "etcdcluster": "3.5.0"}
        elif url.endswith("/cluster/member/list"):
            body = {"header": HEADER, "members": MEMBERS}
        else:
            raise HTTPError(url, 400, "Bad Request", {}, io.BytesIO(json.dumps(INVALID).encode()))
        return io.BytesIO(json.dumps(body).encode())


@pytest.fixture
def etcd(monkeypatch):
    fake = OneMemberEtcd()
    monkeypatch.setattr(gw, "open_url", fake)
    return fake


def run_main(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit):
        etcd_member.main()
    return json.loads(capsys.readouterr().out)


EXPECTED = (
    "peer_urls: 'http://10.0.0.14' is not a peer URL etcd accepts: it has no port; etcd wants scheme://host:port"
    " with scheme http or https, for example https://10.0.0.14:2380 or https://[fd00::14]:2380"
)


@pytest.mark.parametrize("check_mode", [True, False], ids=["check", "run"])
def test_a_peer_url_etcd_refuses_fails_before_any_request(etcd, capsys, check_mode):
    args = {"endpoints": ["http://127.0.0.1:2379"], "name": "etcd-4", "peer_urls": ["http://10.0.0.14"]}
    result = run_main(capsys, dict(args, _ansible_check_mode=check_mode))
    assert result.get("failed") is True, result
    assert result["msg"] == EXPECTED
    assert "added" not in result
    assert etcd.calls == []


def test_absent_checks_peer_urls_too(etcd, capsys):
    args = {"endpoints": ["http://127.0.0.1:2379"], "peer_urls": ["http://10.0.0.14"], "state": "absent"}
    result = run_main(capsys, args)
    assert result["msg"] == EXPECTED and etcd.calls == []


def test_a_valid_peer_url_is_added_in_check_mode(etcd, capsys):
    args = {"endpoints": ["http://127.0.0.1:2379"], "name": "etcd-4", "peer_urls": [" https://10.0.0.14:2380 "]}
    result = run_main(capsys, dict(args, _ansible_check_mode=True))
    assert result["changed"] is True and result["added"] is True
    assert result["member"]["peer_urls"] == ["https://10.0.0.14:2380"]
    assert result["initial_cluster"] == "etcd-1=http://10.0.0.11:2380,etcd-4=https://10.0.0.14:2380"


def test_present_needs_a_peer_url(etcd, capsys):
    args = {"endpoints": ["http://127.0.0.1:2379"], "name": "etcd-4", "peer_urls": []}
    result = run_main(capsys, dict(args, _ansible_check_mode=True))
    assert result["msg"].startswith("peer_urls must list at least one peer URL") and etcd.calls == []


def test_absent_by_name_needs_no_peer_url(etcd, capsys):
    result = run_main(capsys, {"endpoints": ["http://127.0.0.1:2379"], "name": "etcd-9", "state": "absent"})
    assert result["changed"] is False and result["member"] is None
