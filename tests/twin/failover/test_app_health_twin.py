"""The "application healthy" phase end to end: the lab publishes the ALB metrics from its target-health model,
its alarm clock evaluates the Terraform's ALB alarms on them, and after an unplanned failover drctl reports the
target's alarms all OK as the "application healthy" milestone, with its source, after the flip."""

from __future__ import annotations

import threading
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from failover_helpers import failover

from drctl.errors import ExitCode
from drctl.lab.seed import app_health_alarm_name
from drctl.stack import load_stack, write_stack_file

pytestmark = [pytest.mark.twin]

TARGET = "us-west-2"
NAMES = [app_health_alarm_name(TARGET, "alb-unhealthy-hosts"), app_health_alarm_name(TARGET, "alb-5xx")]


def with_app_health_alarms(stack: Path) -> Path:
    """The seeded stack file with each region's ALB alarms listed (the phase on), as `drctl deploy` writes them."""
    data = tomllib.loads(stack.read_text())
    for region in data["regions"]:
        data["regions"][region]["app_health_alarms"] = [
            app_health_alarm_name(region, kind) for kind in ("alb-unhealthy-hosts", "alb-5xx")
        ]
    return write_stack_file(data, stack)


def on_milestone(home: Path, name: str, action: Any, done: threading.Event) -> None:
    """Call `action` once a run's journal under `home` records the milestone `name` (or give up when `done`)."""
    while not done.wait(0.05):
        for journal in home.glob("runs/*/journal.jsonl"):
            if any(f'"name": "{name}"' in line and '"event": "milestone"' in line for line in journal.open()):
                action()
                return


def states(twin: Any, region: str, names: list[str]) -> dict[str, str]:
    alarms = twin.client("cloudwatch", region).describe_alarms(AlarmNames=names)["MetricAlarms"]
    return {a["AlarmName"]: a["StateValue"] for a in alarms}


def wait_for(what: str, check: Any, timeout_s: float = 20.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"the lab never showed {what}")


def test_lab_publishes_alb_metrics_that_the_terraform_alarms_evaluate(fast) -> None:
    twin, stack = fast
    region = load_stack(stack).regions[TARGET]
    lb = region.alb_arn.split(":loadbalancer/", 1)[1]
    tg = region.target_group_arn.rsplit(":", 1)[1]
    cw = twin.client("cloudwatch", TARGET)

    def published() -> bool:
        got = cw.list_metrics(Namespace="AWS/ApplicationELB", MetricName="HealthyHostCount")["Metrics"]
        want = {("LoadBalancer", lb), ("TargetGroup", tg)}
        return any({(d["Name"], d["Value"]) for d in m["Dimensions"]} == want for m in got)

    wait_for("HealthyHostCount under {TargetGroup, LoadBalancer}", published)
    # Healthy targets, no 503s: the alarms evaluate OK at their (scaled) period boundaries.
    wait_for("the ALB alarms OK", lambda: set(states(twin, TARGET, NAMES).values()) == {"OK"})


def test_unplanned_failover_reports_application_healthy_after_the_flip(fast, home, capsys) -> None:
    twin, stack = fast
    stack = with_app_health_alarms(stack)
    assert load_stack(stack).regions[TARGET].app_health_alarms == tuple(NAMES)
    twin.control.outage("us-east-1", route53=True)
    try:
        rc, report = failover(capsys, stack, "--to", TARGET, "--mode", "unplanned", "--allow-data-loss")
    finally:
        twin.control.restore()
    assert rc == ExitCode.OK, report
    verdict = report["verification"]["app_health"]
    assert verdict["verdict"] == "verified", verdict
    assert [a["name"] for a in verdict["alarms"]] == NAMES and {a["state"] for a in verdict["alarms"]} == {"OK"}
    recovery = {p["name"]: p for p in report["recovery"]}
    healthy = recovery["application healthy"]
    # The emulator returns no StateTransitionedTimestamp: drctl falls back to StateUpdatedTimestamp and says so.
    assert healthy["source"].startswith(
        f"DescribeAlarms in {TARGET}: {', '.join(NAMES)} OK (StateUpdatedTimestamp "
    )
    assert healthy["at_s"] >= recovery["switch datapoint put"]["at_s"]  # after the flip
    times = [p["at_s"] for p in report["recovery"]]
    assert times == sorted(times)  # a timeline
    written = (Path(report["journal"]).parent / "report.md").read_text()
    assert "| application healthy |" in written and "DescribeAlarms in us-west-2" in written


def test_without_alarms_in_the_stack_the_phase_is_not_configured(fast, home, capsys) -> None:
    _, stack = fast
    rc, report = failover(capsys, stack, "--to", TARGET)
    assert rc == ExitCode.OK, report
    assert report["verification"]["app_health"] == {
        "verdict": "not configured",
        "detail": f"no app_health_alarms for {TARGET} in the stack file",
    }
    assert "application healthy" not in {p["name"] for p in report["recovery"]}


def test_alarm_before_the_flip_then_ok_is_timed_by_cloudwatchs_state_change(fast, home, capsys) -> None:
    """The target has no instance yet (a capacity fault): its ALB answers 503 itself, the 5xx alarm is in ALARM
    when traffic moves; the capacity arrives after the flip, the 503s stop, the alarm evaluates OK at its next
    period, and that state change (StateUpdatedTimestamp) is the "application healthy" milestone."""
    twin, stack = fast
    data = tomllib.loads(with_app_health_alarms(stack).read_text())
    data.setdefault("failover", {})["min_capacity_share"] = 0  # the flip does not wait for capacity
    stack = write_stack_file(data, stack)
    twin.control.set_capacity_limit(TARGET, 0)
    wait_for("the 5xx alarm in ALARM", lambda: states(twin, TARGET, NAMES)[NAMES[1]] == "ALARM")
    twin.control.outage("us-east-1", route53=True)
    # The capacity arrives once DNS answers the target (journaled as it happens), so the 5xx alarm is still in
    # ALARM at verification's first look however long the run took to get there (a fixed 4 s timer raced a
    # loaded machine: the alarm was OK before the first look).
    done = threading.Event()
    lift = threading.Thread(
        target=on_milestone,
        args=(home, "DNS answers target", lambda: twin.control.set_capacity_limit(TARGET, None), done),
    )
    lift.start()
    try:
        rc, report = failover(capsys, stack, "--to", TARGET, "--mode", "unplanned", "--allow-data-loss")
    finally:
        done.set()
        lift.join(5)
        twin.control.set_capacity_limit(TARGET, None)
        twin.control.restore()
    assert rc == ExitCode.OK, report["_stderr"]
    verdict = report["verification"]["app_health"]
    assert verdict["verdict"] == "verified" and verdict["polls"] > 1, verdict
    recovery = {p["name"]: p for p in report["recovery"]}
    healthy = recovery["application healthy"]
    assert "turned OK after the flip" in healthy["source"], healthy
    assert healthy["at_s"] > recovery["switch datapoint put"]["at_s"]
