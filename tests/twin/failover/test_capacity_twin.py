"""Unplanned failover into a region short of capacity (the lab's InsufficientInstanceCapacity fault)."""

from __future__ import annotations

import threading
import time
import tomllib
from pathlib import Path

import pytest
from failover_helpers import failover, lab_healthy, writer_region

from drctl.errors import ExitCode
from drctl.report.markdown import render_markdown
from drctl.report.model import load_model
from drctl.stack import write_stack_file

pytestmark = [pytest.mark.twin]


def _with(stack: Path, *, rto_s: float, share: float | None = None) -> Path:
    data = tomllib.loads(stack.read_text())
    data["objectives"]["rto_s"] = rto_s
    if share is not None:
        data.setdefault("failover", {})["min_capacity_share"] = share
    return write_stack_file(data, stack)


def test_traffic_moves_although_the_target_cannot_reach_its_capacity(fast, home, capsys) -> None:
    twin, stack = fast
    _with(stack, rto_s=12, share=50)
    # The target group can launch 3 instances; unplanned mode wants max(max 6, desired 2) = 6, the flip 3.
    done = twin.cli("lab", "capacity-limit", "us-west-2", "3")
    assert done.returncode == 0 and "3 instances per Auto Scaling group" in done.stdout, done.stderr
    twin.control.set_lag(2500)
    time.sleep(2.2)
    twin.control.outage("us-east-1", route53=True)
    started = time.monotonic()
    rc, report = failover(capsys, stack, "--to", "us-west-2", "--mode", "unplanned", "--allow-data-loss")
    took = time.monotonic() - started
    assert rc == ExitCode.OK, report["_stderr"]
    assert report["outcome"] == "completed" and writer_region(twin) == "us-west-2"
    assert lab_healthy(twin, stack) == {"us-east-1": False, "us-west-2": True}  # traffic moved
    cap = report["capacity"]
    assert (cap["wanted"], cap["needed_to_flip"], cap["share_pct"]) == (6, 3, 50.0)
    assert (cap["healthy_at_flip"], cap["healthy_at_end"], cap["reached"]) == (3, 3, False)
    assert any("3 of 6 wanted healthy targets" in w for w in report["warnings"]), report["warnings"]
    # The run waited for the rest until its deadline, and that wait is not counted as recovery time.
    phases = {p["name"]: p for p in report["phases"]}
    assert "capacity after flip" in phases and took >= 10
    # The headline is when the target served through the public name (the lab's stack file probes it), after
    # the authoritative DNS answered the target; the run's own duration, a phase, leaves the wait after the
    # flip out too.
    assert report["rto_s"] < took - 5 and report["rto_source"].startswith("target serving"), report
    assert report["run_s"] < took - 5
    text = render_markdown(load_model(Path(report["journal"])))
    assert "| Capacity | 3 of 6 wanted healthy targets when traffic moved, 3 at the end — short" in text
    twin.control.restore()


def test_the_rest_of_the_capacity_is_waited_for_after_the_flip(fast, home, capsys) -> None:
    twin, stack = fast
    _with(stack, rto_s=60, share=0)
    twin.control.set_capacity_limit("us-west-2", 2)
    twin.control.outage("us-east-1", route53=True)

    lift = threading.Timer(4.0, lambda: twin.control.set_capacity_limit("us-west-2", None))
    lift.start()
    try:
        rc, report = failover(capsys, stack, "--to", "us-west-2", "--mode", "unplanned", "--allow-data-loss")
    finally:
        lift.cancel()
    assert rc == ExitCode.OK, report["_stderr"]
    cap = report["capacity"]
    assert (cap["needed_to_flip"], cap["healthy_at_flip"]) == (0, 2), cap
    assert (cap["healthy_at_end"], cap["reached"]) == (6, True), cap
    assert not any("wanted healthy targets" in w for w in report["warnings"])
    twin.control.restore()
