"""Writes through a drill and checks afterwards that nothing acknowledged was lost.

  write_probe.py etcd <run> <endpoints> <stop file>    one etcdctl put every 100 ms, all endpoints,
                                                        and etcd's health sampled every 0.5 s
  write_probe.py pg <run> <host> <stop file> [<port>]  one INSERT every 100 ms through HAProxy (psql,
                                                        a new connection each; password in PGPASSWORD)

Each write is retried until it succeeds (the probe keeps trying up to 30 s); per write it records the
attempts and the wait (first attempt to acknowledgement). A PostgreSQL attempt gets 3 s and no
statement_timeout: a commit cancelled while it waits for a synchronous standby is reported as a
success with a warning, an acknowledgement nothing backs. Once the stop file exists it reads every
write back and prints one JSON line: writes, failures (attempts that failed), longest wait, outage
(the longest time without an acknowledgement), lost (acknowledged but not read back), the first
failed attempts (UTC time and the client's error, to line up with the playbook's and the services'
logs), and the timeline: the start (UNIX time) and the offsets in ms of every acknowledged and every
failed attempt; for etcd also the health samples, the fewest healthy members and voters seen in one
sample, and the samples whose member list did not answer. Standard library only: it also runs on the hosts.
"""

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

INTERVAL = 0.1
GIVE_UP = 30.0
ATTEMPT_TIMEOUT = 3.0
FAILURES_KEPT = 20


def etcdctl(endpoints, *args, timeout="700ms"):
    env = {key: value for key, value in os.environ.items() if key != "ETCDCTL_ENDPOINTS"}
    argv = ["etcdctl", "--endpoints=" + endpoints, "--dial-timeout=500ms", "--command-timeout=" + timeout, *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=10, check=False)


def psql(host, sql, port="5432"):
    env = dict(os.environ, PGCONNECT_TIMEOUT="1")
    argv = [
        "psql",
        "-X",
        "-At",
        "-h",
        host,
        "-p",
        port,
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        sql,
    ]
    try:
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=ATTEMPT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, -1, "", f"no answer within {ATTEMPT_TIMEOUT}s")


def sample_health(endpoints, stop, samples):
    """Every 0.5 s: how many members answer healthy, how many voters the member list shows (None when
    the list did not come within its timeout: a slow answer says nothing of the membership)."""
    count = len(endpoints.split(","))
    while not os.path.exists(stop):
        health = etcdctl(endpoints, "endpoint", "health", timeout="1s")
        healthy = (health.stdout + health.stderr).count(" is healthy")
        members = etcdctl(endpoints, "member", "list", "-w", "json", timeout="1s")
        try:
            voters = sum(1 for member in json.loads(members.stdout)["members"] if not member.get("isLearner"))
        except (ValueError, KeyError):
            voters = None
        samples.append({"healthy": healthy, "voters": voters, "quorum": healthy > count // 2})
        time.sleep(0.5)


class Written:
    """What a write loop saw: {n: (attempts, wait)} of the acknowledged writes, the unacknowledged ones,
    the first failures, and the timeline (UNIX start; ms offsets of acknowledgements and failed attempts)."""

    def __init__(self):
        self.acknowledged, self.unacknowledged, self.failures = {}, [], []
        self.start = time.time()
        self.acks, self.failed = [], []

    def offset(self):
        return round((time.time() - self.start) * 1000)


def write_loop(write, stop):
    """Writes 1, 2, 3... until the stop file exists, ``write(n)`` giving the client's completed process."""
    written = Written()
    acknowledged, failures = written.acknowledged, written.failures
    n = 0
    while not os.path.exists(stop):
        n += 1
        started = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            done = write(n)
            if done.returncode == 0:
                acknowledged[n] = (attempts, time.monotonic() - started)
                written.acks.append(written.offset())
                break
            written.failed.append(written.offset())
            if len(failures) < FAILURES_KEPT:
                error = " ".join((done.stderr or done.stdout).split())[:160]
                failures.append(f"{datetime.now(timezone.utc):%H:%M:%S.%f} write {n}: {error}")
            if time.monotonic() - started > GIVE_UP:
                written.unacknowledged.append(n)
                break
        time.sleep(max(0.0, INTERVAL - (time.monotonic() - started)))
    written.end = written.offset()
    return written


def figures(kind, written, read_back):
    acknowledged = written.acknowledged
    bounds = [0, *written.acks, written.end]
    return {
        "probe": kind,
        "writes": len(acknowledged),
        "failures": sum(attempts - 1 for attempts, wait in acknowledged.values()),
        "longest_wait": round(max((wait for attempts, wait in acknowledged.values()), default=0.0), 3),
        "outage": round(max(later - earlier for earlier, later in zip(bounds, bounds[1:])) / 1000, 3),
        "given_up": len(written.unacknowledged),
        "lost": len(set(acknowledged) - read_back),
        "first_failures": written.failures,
        "timeline": {"start": round(written.start, 3), "acknowledged": written.acks, "failed": written.failed},
    }


def run_etcd(run, endpoints, stop):
    prefix = f"/drill/{run}/"
    samples = []
    sampler = threading.Thread(target=sample_health, args=(endpoints, stop, samples), daemon=True)
    sampler.start()
    written = write_loop(lambda n: etcdctl(endpoints, "put", f"{prefix}{n:06d}", str(n)), stop)
    sampler.join()
    keys = etcdctl(endpoints, "get", "--prefix", prefix, "--keys-only", timeout="10s").stdout.split()
    result = figures("etcd", written, {int(key[len(prefix) :]) for key in keys})
    result.update(
        samples=len(samples),
        fewest_healthy=min((sample["healthy"] for sample in samples), default=0),
        fewest_voters=min((sample["voters"] for sample in samples if sample["voters"] is not None), default=0),
        member_lists_unanswered=sum(1 for sample in samples if sample["voters"] is None),
        quorum_lost=sum(1 for sample in samples if not sample["quorum"]),
    )
    return result


def run_pg(run, host, stop, port="5432"):
    table = "drill_writes"
    created = psql(host, f"CREATE TABLE IF NOT EXISTS {table} (run text, n int, PRIMARY KEY (run, n))", port)
    if created.returncode != 0:
        raise SystemExit(f"cannot create {table}: {created.stderr.strip()}")

    def write(n):
        # A retry after a lost acknowledgement finds its row already there: that is a success too.
        return psql(host, f"INSERT INTO {table} VALUES ('{run}', {n}) ON CONFLICT DO NOTHING", port)

    written = write_loop(write, stop)
    deadline = time.monotonic() + GIVE_UP
    rows = psql(host, f"SELECT n FROM {table} WHERE run = '{run}'", port)
    while rows.returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        rows = psql(host, f"SELECT n FROM {table} WHERE run = '{run}'", port)
    if rows.returncode != 0:
        raise SystemExit(f"cannot read the writes back: {rows.stderr.strip()}")
    return figures("pg", written, {int(n) for n in rows.stdout.split()})


def main():
    kind, run, target, stop, *port = sys.argv[1:]
    result = run_etcd(run, target, stop) if kind == "etcd" else run_pg(run, target, stop, *port)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
