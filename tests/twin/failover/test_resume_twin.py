"""Crash and concurrency on the twin: kill -9 at every step boundary then --resume; two operators at once."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from failover_helpers import (
    CLI_TIMEOUT_S,
    PROMOTIONS,
    drctl,
    finish,
    lab_healthy,
    run_id_of,
    wait_for_lag,
    writer_region,
)

from drctl.errors import ExitCode

pytestmark = [pytest.mark.twin, pytest.mark.slow]


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


def kill_then_resume(twin: Any, stack: Path, home: Path, point: str, target: str) -> None:
    twin.control.clear_requests()
    rc, _, err = finish(drctl(home, "failover", "--stack", str(stack), "--to", target, "--yes", kill_at=point))
    assert rc == -9, (point, err)
    run_id = run_id_of(home)
    rc, out, err = finish(drctl(home, "failover", "--resume", run_id, "--yes", "--json"))
    assert rc == ExitCode.OK, (point, err)
    report = json.loads(out)
    assert report["outcome"] == "completed" or (point == "verify:after" and report["outcome"] == "no-op"), point
    # Final state equals an uninterrupted run's; the promotion was sent exactly once.
    assert writer_region(twin) == target, point
    assert len(accepted_promotions(twin)) == 1, (point, accepted_promotions(twin))
    healthy = lab_healthy(twin, stack)
    assert healthy[target], point
    if target == "us-west-2":
        assert not healthy["us-east-1"], point


@pytest.mark.parametrize("point", KILL_POINTS)
def test_kill_at_a_step_boundary_then_resume(fast, tmp_path: Path, point: str) -> None:
    twin, stack = fast
    kill_then_resume(twin, stack, tmp_path / "home", point, "us-west-2")


def test_a_failback_killed_before_the_flip_resumes_and_waits_out_the_switch(fast, tmp_path: Path) -> None:
    """Straight back after a failover: the resumed failback still waits until the drain left the alarm period."""
    twin, stack = fast
    kill_then_resume(twin, stack, tmp_path / "there", "verify:after", "us-west-2")
    wait_for_lag(twin, "us-east-1")
    kill_then_resume(twin, stack, tmp_path / "back", "flip:before", "us-east-1")


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


def test_a_crashed_run_keeps_the_lock_until_resumed_or_broken(fast, tmp_path: Path) -> None:
    twin, stack = fast
    home = tmp_path / "home"
    rc, _, _ = finish(
        drctl(home, "failover", "--stack", str(stack), "--to", "secondary", "--yes", kill_at="lock:after")
    )
    assert rc == -9
    crashed = run_id_of(home)
    rc, _, err = finish(drctl(home, "failover", "--stack", str(stack), "--to", "secondary", "--yes"))
    assert rc == ExitCode.LOCKED and crashed in err.strip().splitlines()[-1]
    assert accepted_promotions(twin) == []
    rc, _out, err = finish(
        drctl(home, "failover", "--stack", str(stack), "--to", "secondary", "--yes", "--break-lock")
    )
    assert rc == ExitCode.OK, err
    assert writer_region(twin) == "us-west-2" and len(accepted_promotions(twin)) == 1


def test_ctrl_c_stops_and_resume_finishes_without_a_second_promotion(fast, tmp_path: Path) -> None:
    twin, stack = fast
    twin.control.set_durations(switchover_s=4.0)
    home = tmp_path / "home"
    proc = drctl(home, "failover", "--stack", str(stack), "--to", "secondary", "--yes")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not accepted_promotions(twin):
        time.sleep(0.1)
    assert accepted_promotions(twin), "the switchover was never sent"
    proc.send_signal(signal.SIGINT)
    rc, _, err = finish(proc)
    assert rc == ExitCode.INTERRUPTED, err
    run_id = run_id_of(home)
    assert f"--resume {run_id}" in err
    rc, out, err = finish(drctl(home, "failover", "--resume", run_id, "--yes", "--json"))
    assert rc == ExitCode.OK, err
    assert json.loads(out)["outcome"] == "completed"
    assert writer_region(twin) == "us-west-2" and len(accepted_promotions(twin)) == 1


def test_declining_the_confirmation_changes_nothing(fast, tmp_path: Path) -> None:
    twin, stack = fast
    proc = drctl(tmp_path / "home", "failover", "--stack", str(stack), "--to", "secondary")
    _out, err = proc.communicate("n\n", timeout=CLI_TIMEOUT_S)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "SwitchoverGlobalCluster" in err  # the prompt lists the calls it would make
    assert accepted_promotions(twin) == [] and writer_region(twin) == "us-east-1"
