"""Fault drills on a running cluster of this collection: the HA claims of the README, measured.

    python tests/drills/fault_drills.py --inventory inventory/lab/servers.yaml [--runs 5] [--drill NAME ...]

The hosts are the podman containers named after the servers of the servers.yaml the cluster was built from
(the lab's, a molecule scenario's). Each drill waits until the cluster is fully healthy, starts the write probe
(write_probe.py: one INSERT every 100 ms through the VIP, each retried until acknowledged, all read back at the
end from whichever member is primary then), injects its fault, undoes it like an operator would, waits until
the cluster is fully healthy again and reports the write outage, the writes acknowledged and lost, the time
until healthy, and its own bound. Each drill writes <report dir>/<drill>.json and a PNG timeline; the
summary table goes to standard output. The drills:

  switchover          a planned switchover (Patroni's REST API)
  etcd_member_killed  SIGKILL of the etcd raft leader's process, started again 10 s later
  etcd_quorum_loss    etcd stopped on a majority of its members for 40 s (Patroni's failsafe mode keeps the
                      primary while every member answers)
  vip_holder_crash    hard crash (podman kill) of the host holding the VIP, not the primary's; started again,
                      it must not take the VIP back
  primary_crash       hard crash of the primary's host; started again, it rejoins as a replica
  primary_partition   the primary's host drops every frame but loopback's: a client on that host must not
                      commit after the cut-off plus Patroni's ttl, another member takes over
  old_primary_rejoins the partition healed: the old primary rejoins as a replica (pg_rewind)
"""

import argparse
import base64
import json
import os
import re
import ssl
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# The collection's one host:port / URL builder (an IPv6 address in brackets), from the collections root
# `make venv` links to this repository.
sys.path.insert(0, str(HERE.parents[1] / ".collections"))
from ansible_collections.gardenos.cluster.plugins.module_utils.host_port import url  # noqa: E402
from timeline import render  # noqa: E402

PROBE = HERE / "write_probe.py"
PATRONI_CONFIG = "/etc/patroni/patroni.yml"
PATRONI_ENV = "/etc/patroni/patroni.env"
PATRONI_CA = "/etc/patroni/pki/etcd-ca.crt"
ETCD_PKI = "/etc/etcd/pki"
PARTITION_TABLE = "gardenos_drill_partition"
# The partition: every frame in and out of each network interface but loopback dropped, at the netdev
# hooks. An inet table (IP's input and output hooks) would let frames of packet sockets out: a cut-off
# keepalived's gratuitous neighbour advertisements then still reached the clients and drew the VIP's
# traffic to a host nobody could reach (measured: writes stopped until the partition healed).
PARTITION = f"""devices=$(ls /sys/class/net | grep -vx lo | paste -sd, -)
nft -f - <<EOF
table netdev {PARTITION_TABLE} {{
  chain ingress {{ type filter hook ingress devices = {{ $devices }} priority -500; policy drop; }}
  chain egress {{ type filter hook egress devices = {{ $devices }} priority -500; policy drop; }}
}}
EOF"""
HEALTHY_TIMEOUT = 180
# The replication lag a healthy replica may show (bytes), as Patroni's maximum_lag_on_failover default.
HEALTHY_LAG = 1048576


class DrillError(Exception):
    """A drill could not run or its cluster did not become healthy."""


class Cluster:
    """The running cluster of a servers.yaml, reached from this machine through podman and its addresses."""

    def __init__(self, servers_file):
        data = yaml.safe_load(Path(servers_file).read_text(encoding="utf-8"))
        self.servers = data["servers"]
        vip = (data.get("cluster") or {}).get("vip")
        self.vip = vip["address"] if isinstance(vip, dict) else vip
        self.names = sorted(self.servers)
        self.crashed = set()
        self._patroni = None
        self._context = None

    def having(self, service):
        return [name for name in self.names if service in self.servers[name].get("services", [])]

    def ip(self, name):
        return self.servers[name]["ip"]

    def live(self, service):
        return [name for name in self.having(service) if name not in self.crashed]

    @staticmethod
    def podman(*args, timeout=60, check=True):
        done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise DrillError(f"podman {' '.join(args[:2])}: {done.stderr.strip()}")
        return done

    def sh(self, host, script, timeout=20, check=False):
        return self.podman("exec", host, "sh", "-c", script, timeout=timeout, check=check)

    def crash(self, host):
        self.podman("kill", host)
        self.crashed.add(host)

    def start(self, host):
        self.podman("start", host)
        self.crashed.discard(host)

    def patroni(self):
        """What the drills need of Patroni's environment and configuration (passwords, ports), read on a member."""
        if self._patroni is None:
            host = self.live("patroni")[0]
            env = self.sh(host, f"cat {PATRONI_ENV}", check=True).stdout
            values = dict(re.findall(r'^(\w+)="(.*)"$', env, re.MULTILINE))
            config = yaml.safe_load(self.sh(host, f"cat {PATRONI_CONFIG}", check=True).stdout)
            ca = self.sh(host, f"cat {PATRONI_CA}", check=True).stdout
            self._context = ssl.create_default_context(cadata=ca)
            self._patroni = {
                "superuser": values["PATRONI_SUPERUSER_PASSWORD"],
                "api_auth": "Basic "
                + base64.b64encode(
                    f"{config['restapi']['authentication']['username']}:{values['PATRONI_RESTAPI_PASSWORD']}".encode()
                ).decode(),
                "pg_port": config["postgresql"]["connect_address"].rsplit(":", 1)[1],
                "api_port": int(config["restapi"]["connect_address"].rsplit(":", 1)[1]),
            }
        return self._patroni

    def api(self, host, path, body=None, timeout=2.0):
        """A Patroni REST API call to a member over HTTPS (checked against the cluster CA): status, JSON body."""
        settings = self.patroni()
        request = urllib.request.Request(url(self.ip(host), settings["api_port"], scheme="https", path=path))
        if body is not None:
            request.data = json.dumps(body).encode()
            request.add_header("Authorization", settings["api_auth"])
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self._context) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def members(self, among=None):
        """Patroni's member list, from the first member of ``among`` (default: every live one) that answers."""
        for host in among or self.live("patroni"):
            try:
                return self.api(host, "/cluster")[1]["members"]
            except (OSError, KeyError, TypeError):
                continue
        return []

    def leader(self, among=None):
        leaders = [m["name"] for m in self.members(among) if m["role"] == "leader" and m["state"] == "running"]
        return leaders[0] if len(leaders) == 1 else None

    def switchover(self, leader):
        """Ask Patroni to move the leadership away from ``leader``. Patroni answers 503 "Switchover status unknown" when
        its own wait did not see the outcome (seen on a loaded machine): the callers wait for the new leader anyway."""
        status, answer = self.api(leader, "/switchover", {"leader": leader}, timeout=30)
        if status != 200 and not (status == 503 and "status unknown" in str(answer)):
            raise DrillError(f"switchover from {leader} refused: {status} {answer}")

    def ttl(self):
        return int(self.api(self.leader() or self.live("patroni")[0], "/config")[1]["ttl"])

    def haproxy_hosts(self):
        """{live HAProxy host: {"services": haproxy's and keepalived's states, "holds": the VIP?}}, one exec each."""
        state = {}
        for host in self.live("haproxy"):
            said = self.sh(host, f"systemctl is-active haproxy keepalived; ip -o address show to {self.vip}").stdout
            lines = said.splitlines()
            state[host] = {"services": lines[:2], "holds": len(lines) > 2}
        return state

    def holders(self):
        """The live HAProxy hosts that hold the VIP."""
        return [host for host, state in self.haproxy_hosts().items() if state["holds"]]

    def sole_holder(self, timeout=30):
        """Wait until exactly one live host holds the VIP; its name."""
        return self.wait_for("one VIP holder", lambda: len(held := self.holders()) == 1 and held[0], timeout, every=0.5)

    def etcdctl(self, args, on=None, timeout=20, check=False):
        endpoints = ",".join(url(self.ip(name), 2379) for name in self.having("etcd"))
        return self.sh(
            on or self.live("etcd")[0],
            f"ETCDCTL_API=3 etcdctl --endpoints={endpoints} --cacert {ETCD_PKI}/ca.crt --cert {ETCD_PKI}/admin.crt"
            f" --key {ETCD_PKI}/admin.key --dial-timeout=1s --command-timeout=2s {args}",
            timeout=timeout,
            check=check,
        )

    def etcd_leader(self):
        status = json.loads(self.etcdctl("endpoint status -w json", check=True).stdout)
        leader_id = next(entry["Status"]["leader"] for entry in status)
        return next(
            name
            for name, entry in zip(self.having("etcd"), status, strict=True)
            if entry["Status"]["header"]["member_id"] == leader_id
        )

    def patroni_problems(self):
        members = {m["name"]: m for m in self.members()}
        leaders = [name for name, m in members.items() if m["role"] == "leader" and m["state"] == "running"]
        found = [] if len(leaders) == 1 else [f"Patroni leaders: {leaders}"]
        timeline = members[leaders[0]].get("timeline") if len(leaders) == 1 else None
        for name in self.having("patroni"):
            member = members.get(name)
            if member is None:
                found.append(f"{name} is no Patroni member")
            elif name not in leaders and (
                member["state"] != "streaming"
                or member.get("timeline") != timeline
                or not isinstance(member.get("lag"), int)
                or member["lag"] > HEALTHY_LAG
            ):
                found.append(f"{name}: {member['state']}, timeline {member.get('timeline')}, lag {member.get('lag')}")
        return found

    def etcd_problems(self):
        health = self.etcdctl("endpoint health")
        said = health.stdout + health.stderr
        healthy = health.returncode == 0 and said.count(" is healthy") == len(self.having("etcd"))
        return [] if healthy else ["etcd: " + " ".join(said.split())[:200]]

    def vip_problems(self):
        """One VIP holder; HAProxy and keepalived active on every HAProxy host."""
        state = self.haproxy_hosts()
        found = [f"{host}: {seen['services']}" for host, seen in state.items() if seen["services"] != ["active"] * 2]
        holders = [host for host, seen in state.items() if seen["holds"]]
        return found + ([] if len(holders) == 1 else [f"VIP holders: {holders}"])

    def problems(self):
        """What keeps the cluster from being fully healthy, empty when it is: the first of hosts down, Patroni,
        etcd and the VIP that has problems (the later checks cost podman execs: none while an earlier one fails)."""
        down = [f"{host} is down" for host in sorted(self.crashed)]
        if down:
            return down
        checks = (self.patroni_problems, self.etcd_problems, *((self.vip_problems,) if self.vip else ()))
        for check in checks:
            found = check()
            if found:
                return found
        return []

    def wait_healthy(self, timeout=HEALTHY_TIMEOUT):
        """Seconds until the cluster is fully healthy."""
        started = time.monotonic()
        while True:
            found = self.problems()
            if not found:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise DrillError(f"not healthy after {timeout}s: {'; '.join(found)}")
            time.sleep(1)

    @staticmethod
    def wait_for(what, condition, timeout=60, every=0.2):
        """The first true value of ``condition()``, asked every ``every`` seconds."""
        started = time.monotonic()
        while not (value := condition()):
            if time.monotonic() - started > timeout:
                raise DrillError(f"{what}: not within {timeout}s")
            time.sleep(every)
        return value

    def undo_faults(self):
        """What a drill that failed half-way may have left: crashed hosts, a partition, stopped etcd members."""
        for host in sorted(self.crashed):
            self.start(host)
        for host in self.names:
            self.sh(host, f"nft delete table netdev {PARTITION_TABLE} 2>/dev/null")
        for host in self.having("etcd"):
            self.sh(host, "systemctl start --no-block etcd")

    def journal_since(self, host, unit, since):
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(since))
        return self.sh(host, f"TZ=UTC journalctl -u {unit} --since '{stamp}' --no-pager -o cat", timeout=30).stdout


class Probe:
    """write_probe.py writing through ``host`` (default the VIP), on this machine or, with ``on``, inside a host."""

    def __init__(self, cluster, host=None, port="5432", on=None):
        self.cluster, self.on = cluster, on
        self.run = f"drill-{uuid.uuid4().hex[:10]}"
        self.args = ["pg", self.run, host or cluster.vip, f"/tmp/stop-{self.run}", port]
        self.process = None
        self.stopped = False

    def __enter__(self):
        if self.on:
            # The password from Patroni's environment file on the host, never on a command line.
            self.cluster.podman("cp", str(PROBE), f"{self.on}:/root/write_probe.py")
            self.cluster.podman(
                "exec", "-d", self.on, "sh", "-c",
                f"set -a; . {PATRONI_ENV}; set +a; PGPASSWORD=$PATRONI_SUPERUSER_PASSWORD"
                f" exec python3 /root/write_probe.py {' '.join(self.args)}"
                f" > /root/{self.run}.json 2> /root/{self.run}.err",
            )  # fmt: skip
        else:
            env = dict(os.environ, PGPASSWORD=self.cluster.patroni()["superuser"])
            self.process = subprocess.Popen(
                [sys.executable, str(PROBE), *self.args], env=env, stdout=subprocess.PIPE, text=True
            )
        time.sleep(2)
        return self

    def result(self):
        """Stop writing, read everything back; the probe's figures."""
        stop = self.args[3]
        self.stopped = True
        if self.on:
            self.cluster.sh(self.on, f"touch {stop}", check=True)
            output = self.cluster.wait_for(
                "the probe's figures", lambda: self.cluster.sh(self.on, f"cat /root/{self.run}.json").stdout, 60
            )
        else:
            Path(stop).touch()
            output = self.process.communicate(timeout=60)[0]
            Path(stop).unlink()
        return json.loads(output)

    def __exit__(self, *exc):
        """A drill that failed leaves no probe writing."""
        if self.stopped:
            return
        if self.on:
            self.cluster.sh(self.on, f"touch {self.args[3]}")
        elif self.process.poll() is None:
            Path(self.args[3]).touch()
            self.process.wait(timeout=60)
            Path(self.args[3]).unlink()


def outage_since(timeline, since):
    """The longest time without an acknowledged write from ``since`` (UNIX time) to the probe's last one."""
    acks = [timeline["start"] + ms / 1000 for ms in timeline["acknowledged"]]
    bounds = [since, *(when for when in acks if when > since)]
    return round(max((later - earlier for earlier, later in zip(bounds, bounds[1:])), default=0.0), 3)


class Drill:
    """One drill's run: its events (UNIX time, label) and figures."""

    def __init__(self, name, bound, cluster):
        self.name, self.bound, self.cluster = name, bound, cluster
        self.events = []
        self.figures = {}

    def event(self, label):
        """Note an event; its UNIX time."""
        self.events.append((time.time(), label))
        print(f"  {self.name}: {label}", flush=True)
        return self.events[-1][0]

    def new_leader(self, old, among=None, timeout=60):
        """Wait until a member other than ``old`` leads (asking the members ``among``); its name, as an event."""
        new = self.cluster.wait_for(
            "a new leader", lambda: (leader := self.cluster.leader(among)) not in (None, old) and leader, timeout
        )
        self.event(f"{new} leads")
        return new

    def healthy(self):
        """Wait until the cluster is fully healthy; the UNIX time it was, as an event."""
        self.cluster.wait_healthy()
        return self.event("healthy")

    def report(self, probe, fault_at, healthy_at, since=None):
        """The drill's result; with ``since`` (UNIX time) its outage counts from then on only."""
        result = {
            "drill": self.name,
            "outage_s": probe["outage"] if since is None else outage_since(probe["timeline"], since),
            "writes": probe["writes"],
            "failed_attempts": probe["failures"],
            "given_up": probe["given_up"],
            "lost": probe["lost"],
            "healthy_after_s": round(healthy_at - fault_at, 1),
            "bound_s": self.bound,
            **self.figures,
            "events": [{"at": round(when, 3), "what": label} for when, label in self.events],
            "first_failures": probe["first_failures"],
            "timeline": probe["timeline"],
        }
        result["passed"] = bool(
            result["lost"] == 0
            and result["given_up"] == 0
            and result["writes"] > 0
            and (self.bound is None or result["outage_s"] <= self.bound)
            and all(self.figures.get(check, True) for check in ("no_failover", "vip_stayed", "no_commit_after_ttl"))
        )
        return result


def switchover(cluster):
    drill = Drill("switchover", 5.0, cluster)
    with Probe(cluster) as probe:
        old = cluster.leader()
        fault_at = drill.event(f"switchover from {old}")
        cluster.switchover(old)
        drill.new_leader(old)
        healthy_at = drill.healthy()
        return drill.report(probe.result(), fault_at, healthy_at)


def etcd_member_killed(cluster):
    drill = Drill("etcd_member_killed", 5.0, cluster)
    leader = cluster.leader()
    victim = cluster.etcd_leader()
    with Probe(cluster) as probe:
        fault_at = drill.event(f"kill etcd on {victim}")
        cluster.sh(victim, "systemctl kill --signal=SIGKILL etcd", check=True)
        time.sleep(10)
        drill.event(f"start etcd on {victim}")
        cluster.sh(victim, "systemctl start etcd", timeout=60, check=True)
        healthy_at = drill.healthy()
        drill.figures["no_failover"] = cluster.leader() == leader
        return drill.report(probe.result(), fault_at, healthy_at)


def etcd_quorum_loss(cluster, seconds=40):
    drill = Drill("etcd_quorum_loss", 2.0, cluster)
    leader = cluster.leader()
    members = cluster.having("etcd")
    # A majority stopped; the primary's own member last, so that it is the one left when it can be.
    victims = sorted(members, key=lambda name: name == leader)[: len(members) // 2 + 1]
    with Probe(cluster) as probe:
        fault_at = drill.event(f"stop etcd on {', '.join(victims)}")
        for victim in victims:
            cluster.sh(victim, "systemctl stop etcd", check=True)
        time.sleep(seconds)
        drill.event("start etcd")
        for victim in victims:
            cluster.sh(victim, "systemctl start --no-block etcd", check=True)
        healthy_at = drill.healthy()
        drill.figures["no_failover"] = cluster.leader() == leader
        return drill.report(probe.result(), fault_at, healthy_at)


def vip_holder_crash(cluster):
    drill = Drill("vip_holder_crash", 5.0, cluster)
    holder = cluster.sole_holder()
    if holder == cluster.leader():
        # The primary's host is primary_crash's drill: this one crashes the VIP alone.
        cluster.switchover(holder)
        cluster.wait_for("a leader other than the VIP holder", lambda: cluster.leader() not in (None, holder))
        cluster.wait_healthy()
    with Probe(cluster) as probe:
        fault_at = drill.event(f"crash {holder}")
        cluster.crash(holder)
        new = cluster.sole_holder()
        drill.event(f"{new} holds the VIP")
        time.sleep(3)
        drill.event(f"start {holder}")
        cluster.start(holder)
        healthy_at = drill.healthy()
        time.sleep(3)
        drill.figures["vip_stayed"] = cluster.holders() == [new]
        return drill.report(probe.result(), fault_at, healthy_at)


def primary_crash(cluster):
    drill = Drill("primary_crash", 25.0, cluster)
    with Probe(cluster) as probe:
        old = cluster.leader()
        # etcd extends every lease when its raft leader changes: losing both at once takes longest.
        drill.figures["etcd_leader_crashed_too"] = cluster.etcd_leader() == old
        fault_at = drill.event(f"crash {old}")
        cluster.crash(old)
        drill.new_leader(old, timeout=90)
        time.sleep(3)
        started = drill.event(f"start {old}")
        cluster.start(old)
        healthy_at = drill.healthy()
        drill.figures["rewound"] = "pg_rewind" in cluster.journal_since(old, "patroni", started)
        return drill.report(probe.result(), fault_at, healthy_at)


def primary_partition(cluster):
    """The partition, then its healing: two reports, the second old_primary_rejoins'."""
    drill = Drill("primary_partition", 25.0, cluster)
    old = cluster.leader()
    ttl = cluster.ttl()
    others = [name for name in cluster.live("patroni") if name != old]
    with Probe(cluster, host="127.0.0.1", port=cluster.patroni()["pg_port"], on=old) as direct, Probe(cluster) as probe:
        fault_at = drill.event(f"cut off {old}")
        cluster.sh(old, PARTITION, check=True)
        drill.new_leader(old, among=others, timeout=90)
        # Long enough past the cut-off plus ttl to see whether the old primary still commits.
        time.sleep(max(3.0, fault_at + ttl + 5 - time.time()))
        healed_at = drill.event(f"heal {old}")
        cluster.sh(old, f"nft delete table netdev {PARTITION_TABLE}", check=True)
        healthy_at = drill.healthy()
        rejoin = Drill("old_primary_rejoins", None, cluster)
        rejoin.events = drill.events
        rejoin.figures["rewound"] = "pg_rewind" in cluster.journal_since(old, "patroni", healed_at)
        direct_figures = direct.result()
        commits = [direct_figures["timeline"]["start"] + ms / 1000 for ms in direct_figures["timeline"]["acknowledged"]]
        last = max((when for when in commits if when > fault_at), default=fault_at)
        drill.figures["direct_commits_after_cut"] = sum(1 for when in commits if when > fault_at)
        drill.figures["last_direct_commit_after_cut_s"] = round(last - fault_at, 2)
        drill.figures["ttl_s"] = ttl
        drill.figures["no_commit_after_ttl"] = last - fault_at <= ttl
        figures = probe.result()
        return [drill.report(figures, fault_at, healthy_at), rejoin.report(figures, healed_at, healthy_at, healed_at)]


DRILLS = {
    "switchover": switchover,
    "etcd_member_killed": etcd_member_killed,
    "etcd_quorum_loss": etcd_quorum_loss,
    "vip_holder_crash": vip_holder_crash,
    "primary_crash": primary_crash,
    "primary_partition": primary_partition,
}


def run(cluster, name, report_dir):
    """Run one drill (the cluster healthy first); its reports, each written as JSON and PNG."""
    cluster.wait_healthy()
    try:
        results = DRILLS[name](cluster)
    except Exception:
        cluster.undo_faults()
        raise
    results = results if isinstance(results, list) else [results]
    report_dir.mkdir(parents=True, exist_ok=True)
    for result in results:
        stem = report_dir / result["drill"]
        stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        stem.with_suffix(".png").write_bytes(
            render(result["timeline"], [(e["at"], e["what"]) for e in result["events"]], result["drill"])
        )
    return results


COLUMNS = ("drill", "outage_s", "bound_s", "writes", "failed_attempts", "lost", "healthy_after_s", "passed")


def table(results):
    rows = [COLUMNS, *([str(result.get(column)) for column in COLUMNS] for result in results)]
    widths = [max(len(row[index]) for row in rows) for index in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows)


def spread(runs):
    """min / median / max of each drill's outage and time until healthy over several runs."""
    by_drill = {}
    for result in runs:
        by_drill.setdefault(result["drill"], []).append(result)
    return {
        drill: {
            figure: {
                "min": min(values := [r[figure] for r in results]),
                "median": statistics.median(values),
                "max": max(values),
            }
            for figure in ("outage_s", "healthy_after_s", "lost")
        }
        | {"runs": len(results), "passed": sum(r["passed"] for r in results)}
        for drill, results in by_drill.items()
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--inventory", required=True, help="the servers.yaml the cluster was built from")
    parser.add_argument("--drill", action="append", choices=sorted(DRILLS), help="default: all, in order")
    parser.add_argument("--runs", type=int, default=1, help="runs of each drill (min/median/max over them)")
    parser.add_argument("--report-dir", default="reports/drills", type=Path)
    args = parser.parse_args()
    cluster = Cluster(args.inventory)
    results = []
    for index in range(args.runs):
        for name in args.drill or DRILLS:
            directory = args.report_dir / f"run-{index + 1}" if args.runs > 1 else args.report_dir
            results.extend(run(cluster, name, directory))
    print(table(results))
    if args.runs > 1:
        summary = spread(results)
        (args.report_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        print(json.dumps(summary, indent=1))
    return 0 if all(result["passed"] for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
