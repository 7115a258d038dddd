"""gardenos.cluster.etcd_member against real etcd 3.5 clusters, run through Ansible."""


def names(result):
    return sorted(m["name"] for m in result["members"])


def test_member_add_start_promote_remove(fresh_cluster, run_module):
    cluster = fresh_cluster
    spare = cluster.add_spare("fresh-m3")
    args = dict(cluster.module_args(), name=spare.name, peer_urls=[spare.peer_url], wait_timeout=30)
    cluster.wait_membership_changes_allowed()

    check, added, idle = run_module.many(
        [
            ("etcd_member", args, {"check": True}),
            ("etcd_member", args),
            # Not started yet, and promote=false: nothing to do.
            ("etcd_member", dict(args, promote=False)),
        ]
    )
    # Check mode tells what it would do and adds nothing (the real run after it still adds).
    assert not check["failed"], check
    assert check["changed"] is True and check["added"] is True
    assert len(check["members"]) == 4 and check["member"]["id"] is None

    # Add: a learner, with the --initial-cluster to start it with.
    assert not added["failed"], added
    assert added["changed"] is True and added["added"] is True and added["promoted"] is False
    member = added["member"]
    assert member["is_learner"] is True and member["peer_urls"] == [spare.peer_url]
    assert int(member["id"], 16) > 0
    expected = dict(part.split("=", 1) for part in cluster.initial_cluster().split(","))
    expected[spare.name] = spare.peer_url
    assert dict(part.split("=", 1) for part in added["initial_cluster"].split(",")) == expected
    assert sorted(check["initial_cluster"].split(",")) == sorted(added["initial_cluster"].split(","))
    listed = {f"{int(m['ID']):x}": m for m in cluster.member_list()}
    assert len(listed) == 4 and listed[member["id"]].get("isLearner") is True

    assert not idle["failed"], idle
    assert idle["changed"] is False and idle["member"]["is_learner"] is True
    assert idle["initial_cluster"] == added["initial_cluster"]

    # Start etcd on the new member, then promote it (the module waits until it is in sync).
    cluster.members.append(spare)
    cluster.start_member(spare, added["initial_cluster"], "existing")
    promoted, again = run_module.many([("etcd_member", args), ("etcd_member", args)])
    assert not promoted["failed"], promoted
    assert promoted["changed"] is True and promoted["promoted"] is True
    assert promoted["member"]["is_learner"] is False
    assert promoted["member"]["name"] == spare.name
    assert names(promoted) == sorted(m.name for m in cluster.members)
    assert again["changed"] is False and again["added"] is False and again["promoted"] is False
    cluster.wait_healthy(timeout=20)
    assert not any(m.get("isLearner") for m in cluster.member_list())

    # Remove: check mode first (it removes nothing: the real run after it still removes), then
    # for real, then once more (nothing left to do).
    remove = dict(cluster.module_args(), name=spare.name, state="absent")
    check, removed, gone = run_module.many(
        [("etcd_member", remove, {"check": True}), ("etcd_member", remove), ("etcd_member", remove)]
    )
    assert check["changed"] is True and check["removed"] is True and len(check["members"]) == 3
    assert not removed["failed"], removed
    assert removed["changed"] is True and removed["removed"] is True
    assert spare.name not in names(removed)
    assert gone["changed"] is False and gone["member"] is None
    cluster.kill(spare)
    cluster.members.remove(spare)
    assert len(cluster.member_list()) == 3


def test_refuses_to_remove_the_last_member(single_cluster, run_module):
    only = single_cluster.members[0]
    result = run_module("etcd_member", dict(single_cluster.module_args(), name=only.name, state="absent"))
    assert result["failed"] is True
    assert "last member" in result["msg"]
    assert len(single_cluster.member_list()) == 1


def test_refuses_removal_that_would_lose_quorum(fresh_cluster, run_module):
    cluster = fresh_cluster
    leader = cluster.leader_id()
    down, healthy_follower = [m for m in cluster.members if cluster.member_id(m) != leader]
    cluster.kill(down)
    cluster.wait_membership_changes_allowed()

    refused, removed = run_module.many(
        [
            # 3 voters, one down: removing a healthy one would leave 2 voters, 1 healthy (quorum 2).
            ("etcd_member", dict(cluster.module_args(), name=healthy_follower.name, state="absent")),
            # Removing the member that is down leaves 2 healthy voters: allowed.
            ("etcd_member", dict(cluster.module_args(), name=down.name, state="absent")),
        ]
    )
    assert refused["failed"] is True
    assert "quorum" in refused["msg"] and down.name in refused["msg"], refused["msg"]
    assert not removed["failed"], removed
    assert removed["removed"] is True
    assert sorted(m["name"] for m in cluster.member_list()) == sorted(m.name for m in cluster.members if m is not down)


def test_a_peer_url_etcd_refuses_fails_the_same_in_check_mode(single_cluster, run_module):
    # etcd refuses these ("given member URLs are invalid"); check mode used to report added: true.
    bad = ["http://10.0.0.14", "http://10.0.0.14:2380/", "http://fd00::14:2380", "ftp://10.0.0.14:2380"]
    calls = []
    for url in bad:
        args = dict(single_cluster.module_args(), name="etcd-4", peer_urls=[url])
        calls += [("etcd_member", args, {"check": True}), ("etcd_member", args)]
    results = run_module.many(calls)

    for url, check, real in zip(bad, results[::2], results[1::2], strict=True):
        assert check["failed"] is True and real["failed"] is True, (url, check, real)
        assert check["msg"] == real["msg"], url
        assert check["msg"].startswith(f"peer_urls: '{url}' is not a peer URL etcd accepts: "), check["msg"]
        assert "added" not in check and "added" not in real
    assert results[0]["msg"] == (
        "peer_urls: 'http://10.0.0.14' is not a peer URL etcd accepts: it has no port; etcd wants"
        " scheme://host:port with scheme http or https, for example https://10.0.0.14:2380 or https://[fd00::14]:2380"
    )
    assert len(single_cluster.member_list()) == 1
