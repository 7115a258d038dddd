"""The health report's backup checks (plugins/plugin_utils/health/backups.py): the lab of test_health.py with a
repository server, its `pgbackrest info` and `pgbackrest check` as pgBackRest 2.45 prints them, and each member's
pg_stat_archiver."""

import datetime
import json

import pytest

from unit.plugins.filter.test_health import NOW, by_name, lab, run

NOW_EPOCH = int(datetime.datetime(2026, 11, 24, 1, 30, tzinfo=datetime.timezone.utc).timestamp())
HOUR = 3600


def info(*backups, code=0, message="ok", databases=1):
    """pgbackrest info's JSON: each backup (label, type, stop[, database id]); the newest database is the current."""
    stanza = {
        "name": "postgres-cluster",
        "cipher": "aes-256-cbc",
        "status": {"code": code, "message": message},
        "db": [
            {"id": index, "system-id": 7715582311210518100 + index, "version": "15"}
            for index in range(1, databases + 1)
        ],
        "backup": [
            {
                "label": backup[0],
                "type": backup[1],
                "timestamp": {"start": backup[2] - 5, "stop": backup[2]},
                "database": {"id": backup[3] if len(backup) > 3 else databases, "repo-key": 1},
                "error": False,
            }
            for backup in backups
        ],
    }
    return {"rc": 0, "stdout": json.dumps([stanza]), "stderr": ""}


def archiver(*, recovery=False, archived="000000010000000000000010", archived_ago=30, failed=None, current=None):
    return {
        "in_recovery": recovery,
        "last_archived_wal": archived,
        "last_archived_epoch": NOW_EPOCH - archived_ago,
        "last_failed_wal": failed[0] if failed else None,
        "last_failed_epoch": NOW_EPOCH - failed[1] if failed else None,
        "current_wal": None if recovery else (current or "000000010000000000000011"),
        "archive_timeout": 60,
    }


def with_backups(*, backups=None, check=None, primary=None):
    observations = lab()
    observations["groups"]["backup"] = ["backup-1"]
    observations["hosts"]["backup-1"] = {
        "ip": "10.77.0.16",
        "ping": {"changed": False, "ping": "pong"},
        "pgbackrest_info": backups
        if backups is not None
        else info(("F1", "full", NOW_EPOCH - 30 * HOUR), ("D1", "diff", NOW_EPOCH - 6 * HOUR)),
        "pgbackrest_check": check or {"rc": 0, "stdout": "", "stderr": ""},
    }
    for host in observations["groups"]["patroni"]:
        observations["hosts"][host]["pgbackrest_archiver"] = archiver(recovery=True)
    observations["hosts"]["lab-2"]["pgbackrest_archiver"] = primary or archiver()
    return observations


def backup_checks(observations, **options):
    return {name: check for name, check in by_name(run(observations, **options)).items() if check["group"] == "backups"}


def test_a_healthy_repository_passes_every_backup_check():
    checks = backup_checks(with_backups())
    assert {name: check["status"] for name, check in checks.items()} == {
        "repository reachable": "pass",
        "newest full or differential backup": "pass",
        "WAL archived within the RPO": "pass",
        "pgbackrest check": "pass",
    }
    assert (
        "D1 (diff) finished 6.0 h ago; newest full F1, 30.0 h ago"
        in checks["newest full or differential backup"]["saw"]
    )
    assert "lab-2: last archived 000000010000000000000010 30 s ago" in checks["WAL archived within the RPO"]["saw"]


@pytest.mark.parametrize(("age_hours", "status"), [(25, "pass"), (27, "warn"), (51, "fail")])
def test_the_newest_backup_warns_after_26_hours_and_fails_after_50(age_hours, status):
    checks = backup_checks(with_backups(backups=info(("F1", "full", NOW_EPOCH - age_hours * HOUR))))
    check = checks["newest full or differential backup"]
    assert check["status"] == status, check
    if status != "pass":
        assert "postgres_backup.yml" in check["fix"]


def test_a_lowered_threshold_warns_about_a_young_backup():
    checks = backup_checks(with_backups(), backup_warn_hours=1, backup_fail_hours=50)
    assert checks["newest full or differential backup"]["status"] == "warn"


def test_incremental_backups_do_not_count_and_none_fails():
    checks = backup_checks(with_backups(backups=info(("I1", "incr", NOW_EPOCH - HOUR))))
    assert checks["newest full or differential backup"]["status"] == "fail"
    assert "no full or differential backup" in checks["newest full or differential backup"]["saw"]


def test_the_backups_of_a_cluster_before_it_was_made_anew_do_not_count():
    backups = info(("F1", "full", NOW_EPOCH - HOUR, 1), databases=2)
    check = backup_checks(with_backups(backups=backups))["newest full or differential backup"]
    assert check["status"] == "fail" and "of the current database" in check["saw"]


def test_an_unreachable_repository_fails_with_pgbackrest_s_error():
    failed = {"rc": 103, "stdout": "", "stderr": "ERROR: [103]: unable to find a valid repository:\n"}
    checks = backup_checks(with_backups(backups=failed))
    assert list(checks) == ["repository reachable"]
    assert checks["repository reachable"]["status"] == "fail"
    assert "ERROR: [103]: unable to find a valid repository" in checks["repository reachable"]["saw"]


def test_a_stanza_in_error_fails():
    checks = backup_checks(with_backups(backups=info(code=1, message="missing stanza path")))
    assert "missing stanza path" in checks["repository reachable"]["saw"]


def test_failing_archiving_fails_and_waiting_segments_warn():
    failing = archiver(failed=("000000010000000000000011", 20), archived_ago=300)
    check = backup_checks(with_backups(primary=failing))["WAL archived within the RPO"]
    assert check["status"] == "fail" and "fails to archive 000000010000000000000011" in check["saw"]
    waiting = archiver(archived_ago=600, current="000000010000000000000014")
    check = backup_checks(with_backups(primary=waiting))["WAL archived within the RPO"]
    assert check["status"] == "warn" and "3 completed segments wait" in check["saw"]
    # The last archived file a backup history file: its segment counts.
    after_backup = archiver(
        archived="000000010000000000000010.00000028.backup", archived_ago=600, current="000000010000000000000014"
    )
    assert backup_checks(with_backups(primary=after_backup))["WAL archived within the RPO"]["status"] == "warn"
    # An idle primary archives nothing new, and waits for nothing.
    idle = archiver(archived_ago=86400, current="000000010000000000000011")
    assert backup_checks(with_backups(primary=idle))["WAL archived within the RPO"]["status"] == "pass"


def test_no_primary_fails_the_archiving_check():
    checks = backup_checks(with_backups(primary=archiver(recovery=True)))
    assert checks["WAL archived within the RPO"]["status"] == "fail"
    assert checks["WAL archived within the RPO"]["saw"] == "no primary answered"


def test_a_failed_pgbackrest_check_fails_with_its_error():
    failed = {"rc": 82, "stdout": "", "stderr": "ERROR: [082]: WAL segment 000000010000000000000012 was not archived"}
    check = backup_checks(with_backups(check=failed))["pgbackrest check"]
    assert check["status"] == "fail" and "[082]" in check["saw"]


def test_the_report_time_is_the_one_the_ages_count_from():
    assert NOW == "2026-11-24T01:30:00Z"


def test_each_repository_has_its_own_backup_age_check():
    """With the S3 object store (repo2) each repository is checked: a stale copy there warns though repo1 is fresh."""
    text = info(("F1", "full", NOW_EPOCH - 30 * HOUR), ("D1", "diff", NOW_EPOCH - 6 * HOUR))
    stanza = json.loads(text["stdout"])[0]
    stanza["repo"] = [{"key": 1, "status": {"code": 0}}, {"key": 2, "status": {"code": 0}}]
    stanza["db"].append({"id": 1, "repo-key": 2, "system-id": stanza["db"][0]["system-id"], "version": "15"})
    stanza["backup"].append(
        {
            "label": "F2",
            "type": "full",
            "timestamp": {"start": NOW_EPOCH - 30 * HOUR - 5, "stop": NOW_EPOCH - 30 * HOUR},
            "database": {"id": 1, "repo-key": 2},
            "error": False,
        }
    )
    checks = backup_checks(with_backups(backups=dict(text, stdout=json.dumps([stanza]))))
    assert checks["newest full or differential backup in repo1"]["status"] == "pass"
    repo2 = checks["newest full or differential backup in repo2"]
    assert repo2["status"] == "warn" and "F2 (full) finished 30.0 h ago" in repo2["saw"], repo2


def test_without_a_repository_server_the_member_that_read_the_repository_is_checked():
    observations = with_backups()
    observations["groups"]["backup"] = []
    server = observations["hosts"].pop("backup-1")
    observations["hosts"]["lab-1"].update(
        pgbackrest_info=server["pgbackrest_info"], pgbackrest_check=server["pgbackrest_check"]
    )
    checks = backup_checks(observations)
    assert {check["status"] for check in checks.values()} == {"pass"}, checks
    assert checks["repository reachable"]["saw"].startswith("lab-1: stanza postgres-cluster ok")


def test_without_a_repository_server_a_member_must_have_read_the_repository():
    observations = with_backups()
    observations["groups"]["backup"] = []
    del observations["hosts"]["backup-1"]
    checks = backup_checks(observations)
    assert checks["repository reachable"]["status"] == "fail"
    assert "no member read the repository" in checks["repository reachable"]["saw"]


def test_without_backups_one_skip():
    observations = lab()
    checks = backup_checks(observations)
    assert [(name, check["status"]) for name, check in checks.items()] == [("PostgreSQL backups", "skip")]
