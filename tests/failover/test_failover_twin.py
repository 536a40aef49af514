"""`drctl failover` end to end on the offline twin (seeded two-region topology), through the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from drctl.cli.app import run
from drctl.errors import ExitCode

pytestmark = [pytest.mark.twin]

GLOBAL_ID = "drctl-lab-global"
PROMOTIONS = ("SwitchoverGlobalCluster", "FailoverGlobalCluster", "RemoveFromGlobalCluster")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "drctl-home"
    monkeypatch.setenv("DRCTL_HOME", str(h))
    return h


@pytest.fixture
def fast(seeded):
    """The seeded twin with short modelled durations, warmed until the first lag samples exist."""
    twin, stack = seeded
    twin.control.set_durations(switchover_s=1.5, failover_s=1.0, promote_s=1.0, warmup_s=0.5)
    twin.control.set_lag(200)
    wait_for_lag(twin)
    twin.control.clear_requests()
    return twin, stack


def wait_for_lag(twin: Any, region: str = "us-west-2", timeout_s: float = 15.0) -> None:
    cw = twin.client("cloudwatch", region)
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        metrics = cw.list_metrics(Namespace="AWS/RDS", MetricName="AuroraGlobalDBRPOLag").get("Metrics", [])
        if metrics:
            time.sleep(1.2)
            return
        time.sleep(0.5)
    raise AssertionError("the lab published no lag samples")


def failover(capsys: pytest.CaptureFixture[str], stack: Path, *args: str) -> tuple[int, dict[str, Any]]:
    rc = run(["failover", "--stack", str(stack), "--yes", "--json", *args])
    out = capsys.readouterr().out
    return rc, (json.loads(out) if out.strip() else {})


def writer_region(twin: Any, region: str = "us-west-2") -> str:
    gc = twin.client("rds", region).describe_global_clusters(GlobalClusterIdentifier=GLOBAL_ID)["GlobalClusters"][
        0
    ]
    writers = [m["DBClusterArn"].split(":")[3] for m in gc["GlobalClusterMembers"] if m["IsWriter"]]
    assert len(writers) == 1, gc
    return writers[0]


def serving(twin: Any) -> dict[str, Any]:
    return twin.control.health()


def promotions(twin: Any) -> list[dict[str, Any]]:
    return [r for r in twin.control.requests() if r.get("operation") in PROMOTIONS]


def mutations(twin: Any) -> list[dict[str, Any]]:
    reads = ("Describe", "Get", "List")
    return [r for r in twin.control.requests() if r.get("operation") and not r["operation"].startswith(reads)]


def test_planned_failover_and_failback(fast, home, capsys) -> None:
    twin, stack = fast
    started = time.monotonic()
    rc, report = failover(capsys, stack, "--to", "secondary")
    wall = time.monotonic() - started
    assert rc == ExitCode.OK, report
    assert report["outcome"] == "completed"
    assert (report["from_region"], report["to_region"], report["mode"]) == ("us-east-1", "us-west-2", "planned")
    assert writer_region(twin) == "us-west-2"
    assert report["verification"]["traffic"]["verdict"] == "verified"
    assert report["verification"]["traffic"]["serving"] == "us-west-2"
    assert report["verification"]["fencing"]["verdict"] == "verified"
    assert report["rpo_s"] == 0.0 and "lag was 200 ms" in report["rpo"]["evidence"]
    assert abs(report["rto_s"] - wall) <= 0.5
    assert {p["name"] for p in report["phases"]} >= {"preflight", "capacity", "promotion", "traffic flip"}
    assert len(promotions(twin)) == 1

    rc, back = failover(capsys, stack, "--to", "primary")
    assert rc == ExitCode.OK, back
    assert back["outcome"] == "completed" and back["to_region"] == "us-east-1"
    assert writer_region(twin) == "us-east-1"
    assert back["verification"]["traffic"]["serving"] == "us-east-1"
