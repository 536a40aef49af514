"""The twin's clock in-process: alarm evaluation at period boundaries, SetAlarmState until the next evaluation,
health checks turning after RequestInterval x FailureThreshold (docs/fidelity.md T-5, T-7, T-20, T-22)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drctl.lab.alarms import AlarmClock, Period, decide
from drctl.lab.health import HealthCheckStore, Verdict

SWITCH = {
    "AlarmName": "switch", "Namespace": "drctl/Failover", "MetricName": "RegionDrained", "Statistic": "Maximum",
    "Period": 60, "EvaluationPeriods": 1, "Threshold": 1.0, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "TreatMissingData": "ignore", "StateValue": "OK",
}  # fmt: skip


def test_decide_follows_threshold_datapoints_to_alarm_and_missing_data() -> None:
    one, zero = Period(1, 1, 1, 1), Period(1, 0, 0, 0)
    assert decide(SWITCH, [one], "OK")[0] == "ALARM"
    assert decide(SWITCH, [zero], "ALARM")[0] == "OK"
    assert decide(SWITCH, [None], "ALARM")[0] == "ALARM"  # ignore keeps the state
    assert decide({**SWITCH, "TreatMissingData": "missing"}, [None], "OK")[0] == "INSUFFICIENT_DATA"
    assert decide({**SWITCH, "TreatMissingData": "breaching"}, [None], "OK")[0] == "ALARM"
    three = {**SWITCH, "EvaluationPeriods": 3, "DatapointsToAlarm": 2}
    assert decide(three, [one, zero, zero], "OK")[0] == "OK"
    assert decide(three, [one, None, one], "OK")[0] == "ALARM"


class _Cw:
    def __init__(self) -> None:
        self.alarm = dict(SWITCH)
        self.points: list[tuple[float, float]] = []

    def get_paginator(self, name: str) -> Any:
        cw = self

        class _P:
            def paginate(self, **kw: Any) -> list[dict[str, Any]]:
                return [{"MetricAlarms": [dict(cw.alarm)]}]

        return _P()

    def set_alarm_state(self, **kw: Any) -> None:
        self.alarm["StateValue"] = kw["StateValue"]

    def get_metric_statistics(self, **kw: Any) -> dict[str, Any]:
        start, end = kw["StartTime"].timestamp(), kw["EndTime"].timestamp()
        values = [v for t, v in self.points if start <= t < end]
        if not values:
            return {"Datapoints": []}
        dp = {"SampleCount": len(values), "Sum": sum(values), "Minimum": min(values), "Maximum": max(values)}
        return {"Datapoints": [dp]}


class _World:
    regions = ("us-west-2",)

    def __init__(self) -> None:
        self.cw = _Cw()

    def is_region_down(self, region: str) -> bool:
        return False

    def client(self, service: str, region: str) -> Any:
        return self.cw


def test_alarm_turns_only_at_its_period_boundary_and_set_alarm_state_lasts_until_the_next() -> None:
    world, now = _World(), [1000.0]  # time scale 0.1: a 60 s period is 6 lab seconds; boundaries at 996, 1002
    clock = AlarmClock(world, time_scale=0.1, clock=lambda: now[0])
    clock.evaluate_due()  # first sight
    world.cw.points.append((1000.5, 1.0))  # the drain datapoint
    now[0] = 1001.9
    clock.evaluate_due()
    assert clock.state("us-west-2", "switch") == "OK"  # the period has not ended: not evaluated yet
    now[0] = 1002.01
    clock.evaluate_due()
    assert clock.state("us-west-2", "switch") == "ALARM"
    assert world.cw.alarm["StateValue"] == "ALARM"
    # SetAlarmState (through the gateway: the emulator's state, then adopted as forced)
    world.cw.alarm["StateValue"] = "OK"
    clock.adopt("us-west-2", forced=True)
    assert clock.state("us-west-2", "switch") == "OK"
    now[0] = 1008.01  # next boundary: no data in the period, TreatMissingData ignore -> the data's ALARM
    clock.evaluate_due()
    assert clock.state("us-west-2", "switch") == "ALARM"


def test_endpoint_check_turns_after_request_interval_times_failure_threshold(tmp_path: Path) -> None:
    now = [0.0]
    store = HealthCheckStore(tmp_path / "hc.json", time_scale=0.5, clock=lambda: now[0])
    config = {"Type": "HTTPS", "RequestInterval": 10, "FailureThreshold": 3}  # 30 s x 0.5 = 15 lab seconds
    ok, bad = Verdict(True, "Success"), Verdict(False, "Failure")
    assert store.settle("c", config, ok).healthy
    now[0] = 1.0
    assert store.settle("c", config, bad).healthy  # the first failure: still healthy
    now[0] = 15.9
    assert store.settle("c", config, bad).healthy
    now[0] = 16.0
    assert not store.settle("c", config, bad).healthy
    alarm_check = {"Type": "CLOUDWATCH_METRIC"}  # ALARM_CHECK_DELAY_S (30 s) x 0.5
    assert not store.settle("a", alarm_check, bad).healthy
    now[0] = 20.0
    assert not store.settle("a", alarm_check, ok).healthy
    now[0] = 35.0
    assert store.settle("a", alarm_check, ok).healthy


def test_an_alarm_check_turns_the_modelled_delay_after_the_alarm_changed_not_after_the_lab_looked(
    tmp_path: Path,
) -> None:
    # Route53 follows the alarm's data stream; the lab times the turn from the alarm's state change, so a check
    # first looked at some time after the change turns no later than change + delay.
    import time

    now = [100.0]
    store = HealthCheckStore(tmp_path / "hc.json", time_scale=0.5, clock=lambda: now[0])
    alarm_check = {"Type": "CLOUDWATCH_METRIC"}  # 30 s x 0.5 = 15 lab seconds
    assert store.settle("a", alarm_check, Verdict(True, "Success")).healthy
    changed = time.time() - 10.0  # the alarm went to ALARM 10 s ago
    assert store.settle("a", alarm_check, Verdict(False, "Failure", changed)).healthy  # 10 s < 15 s
    now[0] = 104.9
    assert store.settle("a", alarm_check, Verdict(False, "Failure", changed)).healthy
    now[0] = 105.1  # 15 s after the change (plus the few ms this test takes between time.time() calls)
    assert not store.settle("a", alarm_check, Verdict(False, "Failure", changed)).healthy


def test_a_datapoint_stamped_before_a_boundary_but_stored_after_it_is_not_lost() -> None:
    # The emulator stamps a datapoint when it takes the request and stores it a moment later; an evaluation of
    # that period must not read in between, or the datapoint sits in a period already evaluated, unseen for good.
    import threading

    from drctl.lab.http import LabRequest, LabResponse

    world, now = _World(), [1000.0]
    clock = AlarmClock(world, time_scale=0.1, clock=lambda: now[0])
    clock.evaluate_due()  # first sight; the next boundary is 1002
    stamped, release = threading.Event(), threading.Event()

    def forward(req: LabRequest) -> LabResponse:
        at = now[0]  # stamped before the boundary...
        stamped.set()
        release.wait(5)  # ...stored after the evaluator woke up for it
        world.cw.points.append((at, 1.0))
        return LabResponse(200, {}, b"")

    put = LabRequest("POST", "/", {}, {}, b"", "us-west-2", "us-west-2", "monitoring", "PutMetricData")
    now[0] = 1001.9
    putter = threading.Thread(target=clock, args=(put, forward))
    putter.start()
    assert stamped.wait(5)
    now[0] = 1002.01
    evaluator = threading.Thread(target=clock.evaluate_due)
    evaluator.start()
    evaluator.join(0.3)  # the evaluator waits for the put in flight (or, unfixed, has read the empty period)
    release.set()
    putter.join(5)
    evaluator.join(5)
    assert clock.state("us-west-2", "switch") == "ALARM"


def test_a_late_evaluator_evaluates_every_period_it_missed() -> None:
    # CloudWatch evaluates every period: a lab thread that wakes three periods late still sees the datapoint
    # that sat in the first of them (evaluating only the newest period would miss it for good).
    world, now = _World(), [1000.0]  # boundaries every 6 lab seconds: 996, 1002, 1008, 1014
    clock = AlarmClock(world, time_scale=0.1, clock=lambda: now[0])
    clock.evaluate_due()  # first sight
    world.cw.points.append((1000.5, 1.0))
    now[0] = 1014.5
    clock.evaluate_due()
    assert clock.state("us-west-2", "switch") == "ALARM"
    assert [e["boundary"] for e in clock.evaluations] == [1002.0]  # the only evaluation that changed the state


def test_an_alarm_first_seen_late_is_evaluated_from_the_period_it_was_created_in() -> None:
    from datetime import UTC, datetime

    world, now = _World(), [1000.0]
    world.cw.alarm["AlarmConfigurationUpdatedTimestamp"] = datetime.fromtimestamp(1000.0, UTC)
    world.cw.points.append((1000.5, 1.0))  # sent right after PutMetricAlarm
    clock = AlarmClock(world, time_scale=0.1, clock=lambda: now[0])
    now[0] = 1003.0  # the lab first looks after that period ended
    clock.evaluate_due()
    assert clock.state("us-west-2", "switch") == "ALARM"
