"""The fault drills of tests/drills/fault_drills.py on the converged scenario (README "Fault drills"), the same code
`make drills` runs on the lab: each writes through the VIP, injects its fault, undoes it, waits until the cluster
is fully healthy and asserts its bounds: no acknowledged write lost, a planned switchover and a crash of the VIP
holder within 5 s of writes, a crash or partition of the primary within 25 s, an etcd quorum loss within 2 s
(Patroni's failsafe mode). The reports and PNG timelines go to reports/drills/. These run after every other test
of the scenario (molecule/conftest.py): they crash hosts and move the leader.
"""

import os
import sys
from pathlib import Path

import pytest

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
sys.path.insert(0, str(PROJECT / "tests" / "drills"))
from fault_drills import DRILLS, Cluster, run, table  # noqa: E402

CLUSTER = Cluster(Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"]) / "servers.yaml")
REPORTS = PROJECT / "reports" / "drills"


@pytest.mark.parametrize("name", list(DRILLS))
def test_drill(name):
    results = run(CLUSTER, name, REPORTS)
    print("\n" + table(results))
    for result in results:
        assert result["passed"], {key: value for key, value in result.items() if key != "timeline"}
