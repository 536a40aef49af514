"""Helpers and fixtures shared by the failover twin tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from drctl.cli.app import run
from drctl.stack import load_stack

GLOBAL_ID = "drctl-lab-global"
PROMOTIONS = ("SwitchoverGlobalCluster", "FailoverGlobalCluster", "RemoveFromGlobalCluster")


def wait_for_lag(twin: Any, region: str = "us-west-2", timeout_s: float = 15.0) -> None:
    """Until the lab has published a round of lag samples for `region` after this call, at the profile's lag
    (the publisher ticks every second: at most about one tick)."""
    since = time.time()
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        view = twin.control.signals()
        last, lag = view.get("last_published") or {}, view["profile"]["lag_ms"]
        if float(last.get("ts", 0)) > since and any(
            r["region"] == region and r["lag_ms"] == lag for r in last.get("rds", [])
        ):
            return
        time.sleep(0.1)
    raise AssertionError("the lab published no lag samples")


def failover(capsys: pytest.CaptureFixture[str], stack: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """Run `drctl failover --json` in process: exit code and the report (+ "_stderr"; {} if none printed)."""
    rc = run(["failover", "--stack", str(stack), "--yes", "--json", *args])
    captured = capsys.readouterr()
    report = json.loads(captured.out) if captured.out.strip() else {}
    return rc, {**report, "_stderr": captured.err}


def writer_region(twin: Any, region: str = "us-west-2") -> str:
    gc = twin.client("rds", region).describe_global_clusters(GlobalClusterIdentifier=GLOBAL_ID)["GlobalClusters"][
        0
    ]
    writers = [m["DBClusterArn"].split(":")[3] for m in gc["GlobalClusterMembers"] if m["IsWriter"]]
    assert len(writers) == 1, gc
    return writers[0]


def lab_healthy(twin: Any, stack: Path) -> dict[str, bool]:
    """The lab's own verdict (not drctl's) on each region's record health check."""
    regions = load_stack(stack).regions.values()
    checks = {c["id"]: c["healthy"] for c in twin.control.health()["health_checks"]}
    return {r.name: checks[r.health_check_id] for r in regions}


def promotions(twin: Any) -> list[dict[str, Any]]:
    return [r for r in twin.control.requests() if r.get("operation") in PROMOTIONS]


def mutations(twin: Any) -> list[dict[str, Any]]:
    reads = ("Describe", "Get", "List")
    return [r for r in twin.control.requests() if r.get("operation") and not r["operation"].startswith(reads)]


CLI_TIMEOUT_S = 90


def drctl(home: Path, *args: str, kill_at: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DRCTL_"))}
    env["DRCTL_HOME"] = str(home)
    if kill_at:
        env["DRCTL_TEST_KILL_AT"] = kill_at
    return subprocess.Popen(
        [sys.executable, "-m", "drctl", *args],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=CLI_TIMEOUT_S)
    return proc.returncode, out, err


def run_id_of(home: Path) -> str:
    runs = sorted(p.name for p in (home / "runs").iterdir())
    return runs[-1]
