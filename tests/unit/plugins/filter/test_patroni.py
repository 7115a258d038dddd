"""The one Patroni definition: gardenos.cluster.patroni_config and patroni_environment."""

import copy
import json

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.gardenos.cluster.plugins.filter.patroni import (
    FilterModule,
    patroni_config,
    patroni_dcs_changes,
    patroni_environment,
)

SETTINGS = {
    "scope": "postgres-cluster",
    "namespace": "/service/",
    "etcd": {
        "hosts": ["10.0.0.11:2379", "10.0.0.12:2379", "10.0.0.13:2379"],
        "protocol": "https",
        "cacert": "/etc/patroni/pki/etcd-ca.crt",
        "cert": "/etc/patroni/pki/etcd-client.crt",
        "key": "/etc/patroni/pki/etcd-client.key",
    },
    "users": {
        "superuser": {"username": "postgres"},
        "replication": {"username": "standby"},
        "rewind": {"username": "rewind"},
    },
    "restapi": {"username": "patroni", "port": 8008},
    "postgresql": {"port": 5532, "parameters": {"max_connections": 200}},
    "dcs": {"ttl": 20, "postgresql": {"parameters": {"wal_keep_size": "1GB"}}},
    "member_addresses": ["10.0.0.11", "10.0.0.12", "10.0.0.13"],
    "client_addresses": ["10.0.0.11", "192.0.2.0/24"],
    "pg_hba_extra": ["hostssl app app 198.51.100.7/32 scram-sha-256"],
}
MEMBER = {
    "name": "pg-1",
    "address": "10.0.0.11",
    "data_dir": "/var/lib/postgresql/15/postgres-cluster",
    "bin_dir": "/usr/lib/postgresql/15/bin",
}
PASSWORDS = {"superuser": "su-pw", "replication": "repl-pw", "rewind": "rw-pw", "restapi": "api-pw"}


def keys_of(value):
    """Every mapping key anywhere in value."""
    if isinstance(value, dict):
        return set(value).union(*(keys_of(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(keys_of(item) for item in value))
    return set()


def test_member_config_has_scope_etcd3_over_tls_and_addresses():
    config = patroni_config(SETTINGS, MEMBER)
    assert config["scope"] == "postgres-cluster"
    assert config["namespace"] == "/service/"
    assert config["name"] == "pg-1"
    assert config["etcd3"] == {
        "hosts": ["10.0.0.11:2379", "10.0.0.12:2379", "10.0.0.13:2379"],
        "protocol": "https",
        "cacert": "/etc/patroni/pki/etcd-ca.crt",
        "cert": "/etc/patroni/pki/etcd-client.crt",
        "key": "/etc/patroni/pki/etcd-client.key",
    }
    assert config["restapi"]["connect_address"] == "10.0.0.11:8008"
    assert config["postgresql"]["listen"] == "10.0.0.11,127.0.0.1:5532"
    assert config["postgresql"]["connect_address"] == "10.0.0.11:5532"
    assert config["postgresql"]["data_dir"] == MEMBER["data_dir"]
    assert config["postgresql"]["bin_dir"] == MEMBER["bin_dir"]


def test_the_rest_api_listens_on_the_members_address_only():
    assert patroni_config(SETTINGS, MEMBER)["restapi"]["listen"] == "10.0.0.11:8008"


IPV6_SETTINGS = dict(
    SETTINGS,
    etcd=dict(SETTINGS["etcd"], hosts=["[fd78::41]:2379", "[fd78::42]:2379", "[fd78::43]:2379"]),
    member_addresses=["fd78::41", "fd78::42", "fd78::43"],
    client_addresses=["fd78::41", "[fd78::44]", "fd78::/64"],
)
IPV6_MEMBER = dict(MEMBER, address="fd78::41")


def test_ipv6_member_addresses_are_bracketed_before_the_port():
    """etcd and Patroni refuse fd78::41:5532; Patroni strips the brackets of listen for PostgreSQL."""
    config = patroni_config(IPV6_SETTINGS, IPV6_MEMBER)
    assert config["restapi"]["connect_address"] == "[fd78::41]:8008"
    assert config["postgresql"]["connect_address"] == "[fd78::41]:5532"
    assert config["postgresql"]["listen"] == "[fd78::41],127.0.0.1:5532"
    assert config["etcd3"]["hosts"] == ["[fd78::41]:2379", "[fd78::42]:2379", "[fd78::43]:2379"]


def test_the_rest_api_serves_https_with_the_members_certificate():
    tls = {
        "certfile": "/etc/patroni/pki/api.crt",
        "keyfile": "/etc/patroni/pki/api.key",
        "cafile": "/etc/patroni/pki/ca.crt",
    }
    restapi = patroni_config(SETTINGS, dict(MEMBER, api_tls=tls))["restapi"]
    assert {key: restapi[key] for key in tls} == tls
    assert "verify_client" not in restapi
    assert "certfile" not in patroni_config(SETTINGS, MEMBER)["restapi"]
    with pytest.raises(AnsibleFilterError, match="api_tls has no keyfile"):
        patroni_config(SETTINGS, dict(MEMBER, api_tls=dict(tls, keyfile="")))


def test_an_ipv6_members_rest_api_listens_on_its_bracketed_address():
    assert patroni_config(IPV6_SETTINGS, IPV6_MEMBER)["restapi"]["listen"] == "[fd78::41]:8008"


def test_listen_addresses_of_both_families():
    member = dict(IPV6_MEMBER, listen_addresses=["fd78::41", "::1", "10.78.0.41"])
    assert patroni_config(IPV6_SETTINGS, member)["postgresql"]["listen"] == "[fd78::41],[::1],10.78.0.41:5532"


def test_pg_hba_ipv6_addresses_are_single_host_networks():
    hba = patroni_config(IPV6_SETTINGS, IPV6_MEMBER)["postgresql"]["pg_hba"]
    for address in IPV6_SETTINGS["member_addresses"]:
        assert f"host replication standby {address}/128 scram-sha-256" in hba
        assert f"host all rewind {address}/128 scram-sha-256" in hba
    assert "host all all fd78::41/128 scram-sha-256" in hba
    assert "host all all fd78::44/128 scram-sha-256" in hba  # brackets dropped: pg_hba has none
    assert "host all all fd78::/64 scram-sha-256" in hba
    assert not any("/32" in line for line in hba if "fd78" in line)


def test_pg_hba_host_names_and_networks_stay_as_given():
    settings = dict(SETTINGS, client_addresses=["db.example.org", "10.0.0.1/24"])
    hba = patroni_config(settings, MEMBER)["postgresql"]["pg_hba"]
    assert "host all all db.example.org scram-sha-256" in hba
    assert "host all all 10.0.0.1/24 scram-sha-256" in hba


def test_member_with_a_bad_port_is_named():
    settings = dict(SETTINGS, postgresql={"port": 70000})
    with pytest.raises(AnsibleFilterError, match=r"patroni_config: .* 70000 is not between 1 and 65535"):
        patroni_config(settings, MEMBER)


def test_users_are_named_and_no_password_is_in_the_config():
    config = patroni_config(SETTINGS, MEMBER)
    assert config["postgresql"]["authentication"] == {
        "superuser": {"username": "postgres"},
        "replication": {"username": "standby"},
        "rewind": {"username": "rewind"},
    }
    assert config["restapi"]["authentication"] == {"username": "patroni"}
    assert "password" not in keys_of(config)


def test_bootstrap_dcs_merges_overrides_over_the_defaults():
    dcs = patroni_config(SETTINGS, MEMBER)["bootstrap"]["dcs"]
    assert dcs["ttl"] == 20
    assert dcs["loop_wait"] == 5
    # no acknowledged commit lost in a failover, and no demotion for an etcd outage alone
    assert dcs["synchronous_mode"] is True
    assert dcs["synchronous_mode_strict"] is False
    assert dcs["failsafe_mode"] is True
    # Patroni's own rule for its timing
    assert dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"]
    assert dcs["postgresql"]["use_pg_rewind"] is True
    parameters = dcs["postgresql"]["parameters"]
    assert parameters["wal_keep_size"] == "1GB"
    assert parameters["max_connections"] == 200
    assert parameters["wal_level"] == "replica"
    assert parameters["password_encryption"] == "scram-sha-256"  # noqa: S105 - a method, not a password


def test_pg_hba_lets_in_members_for_replication_and_clients_only_from_the_list():
    hba = patroni_config(SETTINGS, MEMBER)["postgresql"]["pg_hba"]
    assert hba[0] == "local all postgres peer"
    for address in SETTINGS["member_addresses"]:
        assert f"host replication standby {address}/32 scram-sha-256" in hba
    assert "host all all 192.0.2.0/24 scram-sha-256" in hba
    assert "host all all 10.0.0.11/32 scram-sha-256" in hba
    assert "host all all 10.0.0.12/32 scram-sha-256" not in hba
    assert hba[-1] == "hostssl app app 198.51.100.7/32 scram-sha-256"
    assert not any(" trust" in line or "0.0.0.0/0" in line for line in hba)
    assert len(hba) == len(set(hba))


def test_pg_hba_superuser_local_only_refuses_it_from_every_other_address():
    """The superuser logs in over the socket and 127.0.0.1 (the admin relay) only: refused from the members and
    the clients before any line could let it in, while the other users keep their lines."""
    hba = patroni_config({**SETTINGS, "superuser_local_only": True}, MEMBER)["postgresql"]["pg_hba"]
    reject = hba.index("host all postgres all reject")
    assert hba.index("host all all 127.0.0.1/32 scram-sha-256") < reject
    assert not any(line.startswith("host all postgres ") for line in hba if line != "host all postgres all reject")
    assert all(hba.index(line) > reject for line in hba if line.startswith("host all all ") and "127.0.0.1" not in line)
    for address in SETTINGS["member_addresses"]:
        assert f"host replication standby {address}/32 scram-sha-256" in hba
    # without the setting (Spilo's pods), the members' superuser lines stay
    assert "host all postgres all reject" not in patroni_config(SETTINGS, MEMBER)["postgresql"]["pg_hba"]


def test_cluster_part_without_a_member_is_the_same_definition():
    whole = patroni_config(SETTINGS, MEMBER)
    shared = patroni_config(SETTINGS)
    assert "name" not in shared
    assert "data_dir" not in shared["postgresql"]
    for key in ("scope", "namespace", "etcd3", "bootstrap"):
        assert shared[key] == whole[key]
    assert shared["postgresql"]["pg_hba"] == whole["postgresql"]["pg_hba"]


def test_settings_are_not_modified():
    before = copy.deepcopy(SETTINGS)
    patroni_config(SETTINGS, MEMBER)
    assert before == SETTINGS


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (("scope",), "no scope"),
        (("etcd", "hosts"), "no etcd.hosts"),
        (("users", "replication", "username"), "no users.replication.username"),
        (("restapi", "username"), "no restapi.username"),
    ],
)
def test_missing_settings_are_named(path, message):
    settings = copy.deepcopy(SETTINGS)
    target = settings
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    with pytest.raises(AnsibleFilterError, match=message):
        patroni_config(settings, MEMBER)


def test_etcd_hosts_must_be_a_list():
    settings = copy.deepcopy(SETTINGS)
    settings["etcd"]["hosts"] = "10.0.0.11:2379"
    with pytest.raises(AnsibleFilterError, match="must be a list"):
        patroni_config(settings, MEMBER)


def test_member_without_data_dir_is_refused():
    member = dict(MEMBER, data_dir="")
    with pytest.raises(AnsibleFilterError, match="no data_dir"):
        patroni_config(SETTINGS, member)


def test_environment_carries_every_password():
    assert patroni_environment(PASSWORDS) == {
        "PATRONI_SUPERUSER_PASSWORD": "su-pw",
        "PATRONI_REPLICATION_PASSWORD": "repl-pw",
        "PATRONI_REWIND_PASSWORD": "rw-pw",
        "PATRONI_RESTAPI_PASSWORD": "api-pw",
    }


def test_environment_carries_the_etcd_password_where_patroni_reads_it():
    """PATRONI_ETCD3_PASSWORD counts only beside another PATRONI_ETCD3_* setting Patroni lists."""
    etcd_password = "etcd-pw"  # noqa: S105 - a test value
    env = patroni_environment(dict(PASSWORDS, etcd3=etcd_password))
    assert env["PATRONI_ETCD3_PASSWORD"] == etcd_password and env["PATRONI_ETCD3_PROTOCOL"] == "https"
    assert etcd_password not in str(patroni_config(SETTINGS, MEMBER))


@pytest.mark.parametrize("missing", ["superuser", "replication", "rewind", "restapi"])
def test_environment_refuses_a_missing_password(missing):
    passwords = dict(PASSWORDS, **{missing: ""})
    with pytest.raises(AnsibleFilterError, match=f"no password for the Patroni {missing} user"):
        patroni_environment(passwords)


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"patroni_config", "patroni_dcs_changes", "patroni_environment"}


def test_pg_hba_lets_a_replica_read_its_own_timeline_over_loopback():
    """Patroni opens a replication connection to 127.0.0.1 for IDENTIFY_SYSTEM (failover, pg_rewind)."""
    hba = patroni_config(IPV6_SETTINGS, IPV6_MEMBER)["postgresql"]["pg_hba"]
    assert "host replication standby 127.0.0.1/32 scram-sha-256" in hba


def test_dcs_changes_are_what_the_running_cluster_lacks():
    current = {
        "ttl": 30,
        "loop_wait": "5",
        "failsafe_mode": "true",
        "pause": True,
        "postgresql": {"use_slots": True, "parameters": {"max_wal_senders": 10, "wal_keep_size": "256MB"}},
    }
    desired = {
        "ttl": 20,
        "loop_wait": 5,
        "failsafe_mode": True,
        "synchronous_mode": True,
        "postgresql": {"use_slots": True, "parameters": {"max_wal_senders": "10", "wal_keep_size": "1GB"}},
    }
    assert patroni_dcs_changes(current, desired) == {
        "ttl": 20,
        "synchronous_mode": True,
        "postgresql": {"parameters": {"wal_keep_size": "1GB"}},
    }


def test_dcs_changes_of_a_cluster_that_has_the_settings_are_none():
    desired = patroni_config(SETTINGS, MEMBER)["bootstrap"]["dcs"]
    assert patroni_dcs_changes(json.loads(json.dumps(desired)), desired) == {}


@pytest.mark.parametrize("current", [None, [], "ttl: 20"])
def test_dcs_changes_refuse_what_is_no_configuration(current):
    with pytest.raises(AnsibleFilterError, match="patroni_dcs_changes: expects two mappings"):
        patroni_dcs_changes(current, {"ttl": 20})
