"""Crash and concurrency on the twin: kill -9 at every step boundary then --resume; two operators at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from failover_helpers import PROMOTIONS, lab_healthy, wait_for_lag, writer_region

from drctl.errors import ExitCode

pytestmark = [pytest.mark.twin, pytest.mark.slow]

CLI_TIMEOUT_S = 90


def drctl(home: Path, *args: str, kill_at: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DRCTL_"))}
    env["DRCTL_HOME"] = str(home)
    if kill_at:
        env["DRCTL_TEST_KILL_AT"] = kill_at
    return subprocess.Popen(
        [sys.executable, "-m", "drctl", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=CLI_TIMEOUT_S)
    return proc.returncode, out, err


def run_id_of(home: Path) -> str:
    runs = sorted(p.name for p in (home / "runs").iterdir())
    return runs[-1]


def accepted_promotions(twin: Any) -> list[dict[str, Any]]:
    return [r for r in twin.control.requests() if r.get("operation") in PROMOTIONS and r.get("status") == 200]


# Every step boundary, plus "promote:sent": killed while the modelled switchover is in progress.
KILL_POINTS = [
    "lock:after",
    "preflight:before",
    "preflight:after",
    "sample_rpo:after",
    "capacity:before",
    "promote:before",
    "promote:sent",
    "promote:after",
    "flip:before",
    "flip:after",
    "verify:before",
    "verify:after",
]


def test_kill_at_every_step_boundary_then_resume(fast, tmp_path: Path) -> None:
    twin, stack = fast
    regions = {"us-east-1": "us-west-2", "us-west-2": "us-east-1"}
    for i, point in enumerate(KILL_POINTS):
        home = tmp_path / f"home-{i}"
        source = writer_region(twin)
        target = regions[source]
        wait_for_lag(twin, target)
        twin.control.clear_requests()
        rc, _, err = finish(drctl(home, "failover", "--stack", str(stack), "--to", target, "--yes", kill_at=point))
        assert rc == -9, (point, err)
        run_id = run_id_of(home)
        rc, out, err = finish(drctl(home, "failover", "--resume", run_id, "--yes", "--json"))
        assert rc == ExitCode.OK, (point, err)
        report = json.loads(out)
        assert report["outcome"] == "completed" or (point == "verify:after" and report["outcome"] == "no-op"), (
            point
        )
        # Final state equals an uninterrupted run's; the promotion was sent exactly once.
        assert writer_region(twin) == target, point
        assert len(accepted_promotions(twin)) == 1, (point, accepted_promotions(twin))
        healthy = lab_healthy(twin, stack)
        assert healthy[target], point
        if target == "us-west-2":
            assert not healthy["us-east-1"], point


def test_two_concurrent_runs_exactly_one_proceeds(fast, tmp_path: Path) -> None:
    twin, stack = fast
    # Separate homes: no shared local lock file, so the DynamoDB conditional write alone decides.
    procs = [
        drctl(tmp_path / f"op{i}", "failover", "--stack", str(stack), "--to", "secondary", "--yes") for i in (1, 2)
    ]
    results = [finish(p) for p in procs]
    codes = sorted(rc for rc, _, _ in results)
    assert codes == [ExitCode.OK, ExitCode.LOCKED], [r[2] for r in results]
    locked_err = next(err for rc, _, err in results if rc == ExitCode.LOCKED)
    last = locked_err.strip().splitlines()[-1]
    assert "another failover holds the lock" in last and "run 2" in last  # names the holder's run id
    assert len(accepted_promotions(twin)) == 1
    assert writer_region(twin) == "us-west-2"
    time.sleep(0)
