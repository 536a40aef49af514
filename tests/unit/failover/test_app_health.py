"""The "application healthy" poller (drctl/failover/app_health.py) against a fake CloudWatch client."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from drctl.aws.cloudwatch import Alarm
from drctl.failover.app_health import MILESTONE, cap_s, check_app_health

NAMES = ("app-unhealthy-hosts", "app-5xx")


class FakeCloudWatch:
    """DescribeAlarms answering from a script: one dict of name -> (state, updated epoch) per call (the last
    repeats), or an exception to raise."""

    def __init__(
        self, *script: Any, period: int = 60, evaluation_periods: int = 2, transitioned: float | None = None
    ) -> None:
        self.script = list(script)
        self.transitioned = transitioned
        self.calls: list[dict[str, Any]] = []
        self.period, self.evaluation_periods = period, evaluation_periods

    def describe_alarms(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        return {
            "MetricAlarms": [
                {
                    "AlarmName": name,
                    "StateValue": state,
                    "StateReason": f"{state} (fake)",
                    "StateUpdatedTimestamp": datetime.fromtimestamp(updated, UTC),
                    "Period": self.period,
                    "EvaluationPeriods": self.evaluation_periods,
                    **(
                        {"StateTransitionedTimestamp": datetime.fromtimestamp(self.transitioned, UTC)}
                        if self.transitioned is not None
                        else {}
                    ),
                }
                for name, (state, updated) in step.items()
                if name in kwargs["AlarmNames"]
            ]
        }


class Recorder:
    def __init__(self) -> None:
        self.milestones: list[tuple[str, str, dict[str, Any]]] = []
        self.progress: list[str] = []

    def milestone(self, name: str, source: str, **kw: Any) -> None:
        self.milestones.append((name, source, kw))


def check(cw: FakeCloudWatch, rec: Recorder, *, flip_at: float, remaining_s: float = 30.0, stop=None) -> dict:
    return check_app_health(
        cw,
        "us-west-2",
        NAMES,
        flip_at=flip_at,
        remaining_s=remaining_s,
        stop_event=stop or threading.Event(),
        progress=rec.progress.append,
        milestone=rec.milestone,
        poll_s=0.01,
    )


def both(state: str, updated: float, other: str | None = None) -> dict[str, tuple[str, float]]:
    return {NAMES[0]: (state, updated), NAMES[1]: (other or state, updated)}


def test_already_ok_at_the_flip_is_healthy_at_the_flip() -> None:
    flip = time.time() - 5
    cw, rec = FakeCloudWatch(both("OK", flip - 600)), Recorder()
    out = check(cw, rec, flip_at=flip)
    assert out["verdict"] == "verified" and out["polls"] == 1
    assert cw.calls[0]["AlarmNames"] == list(NAMES)  # one DescribeAlarms for all names, in the target region
    [(name, source, kw)] = rec.milestones
    assert name == MILESTONE == "application healthy"
    assert kw["at"] == flip  # healthy before traffic moved: nothing added to the run's time
    assert source.startswith(
        "DescribeAlarms in us-west-2: app-unhealthy-hosts, app-5xx OK (StateUpdatedTimestamp "
    )
    assert "already OK at the flip" in source


def test_alarm_then_ok_takes_cloudwatchs_timestamp() -> None:
    flip = time.time() - 5
    turned_ok = flip + 3.25
    cw = FakeCloudWatch(both("OK", flip - 60, "ALARM"), both("OK", flip - 60, "ALARM"), both("OK", turned_ok))
    rec = Recorder()
    out = check(cw, rec, flip_at=flip)
    assert out["verdict"] == "verified" and out["polls"] == 3
    assert rec.milestones[0][2]["at"] == pytest.approx(turned_ok, abs=1e-3)  # CloudWatch's clock, not the poll's
    assert "turned OK after the flip" in rec.milestones[0][1]
    assert rec.progress == ["waiting for application health in us-west-2: app-5xx ALARM"]  # once per change


def test_the_transition_time_wins_over_a_later_state_update() -> None:
    """StateUpdatedTimestamp moves on updates that keep the state; StateTransitionedTimestamp is the change."""
    flip = time.time() - 5
    cw, rec = FakeCloudWatch(both("OK", flip + 2), transitioned=flip - 300), Recorder()
    out = check(cw, rec, flip_at=flip)
    assert out["verdict"] == "verified"
    [(_, source, kw)] = rec.milestones
    assert kw["at"] == flip and "(StateTransitionedTimestamp " in source and "already OK at the flip" in source


def test_insufficient_data_is_not_ok() -> None:
    cw, rec = FakeCloudWatch(both("INSUFFICIENT_DATA", time.time()), period=1, evaluation_periods=1), Recorder()
    out = check(cw, rec, flip_at=time.time(), remaining_s=0.3)
    assert out["verdict"].startswith("unverified: app-unhealthy-hosts is INSUFFICIENT_DATA after ")
    assert out["verdict"].endswith("(and 1 more)")
    assert rec.milestones == []
    assert out["polls"] > 1  # it kept asking until the bound


def test_wait_is_bounded_by_the_runs_remaining_time() -> None:
    cw, rec = FakeCloudWatch(both("ALARM", time.time())), Recorder()
    started = time.monotonic()
    out = check(cw, rec, flip_at=time.time(), remaining_s=0.2)
    assert out["verdict"].startswith("unverified: app-unhealthy-hosts is ALARM after ")
    assert time.monotonic() - started < 10  # not the alarms' 3 minutes


def test_unreadable_is_unverified_with_the_reason() -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DescribeAlarms")
    cw, rec = FakeCloudWatch(denied), Recorder()
    out = check(cw, rec, flip_at=time.time())
    assert out["verdict"] == "unverified: DescribeAlarms in us-west-2 failed: AccessDenied"
    assert out["polls"] == 1  # not worth another look
    down = EndpointConnectionError(endpoint_url="https://monitoring.us-west-2.amazonaws.com")
    cw = FakeCloudWatch(down)
    out = check(cw, rec, flip_at=time.time())
    assert out["verdict"] == "unverified: DescribeAlarms in us-west-2 failed: EndpointConnectionError"
    assert out["polls"] == 3 and rec.milestones == []


def test_missing_alarm_is_named() -> None:
    cw, rec = FakeCloudWatch({NAMES[0]: ("OK", time.time())}), Recorder()
    out = check(cw, rec, flip_at=time.time())
    assert out["verdict"] == "unverified: app-5xx not found in us-west-2"
    assert out["alarms"][1] == {"name": "app-5xx", "state": "not found", "since": None, "reason": ""}


def test_stop_event_ends_the_wait() -> None:
    stop = threading.Event()
    cw, rec = FakeCloudWatch(both("ALARM", time.time())), Recorder()
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    out = check(cw, rec, flip_at=time.time(), stop=stop)
    assert out["verdict"].startswith("unverified: stopped after ")
    assert time.monotonic() - started < 5 and rec.milestones == []


def test_cap_is_three_periods_or_evaluation_periods_plus_one() -> None:
    assert cap_s([Alarm("a", "ALARM", 60, evaluation_periods=1)]) == 180
    assert (
        cap_s([Alarm("a", "ALARM", 60, evaluation_periods=3), Alarm("b", "OK", 300, evaluation_periods=1)]) == 900
    )
    assert cap_s([Alarm("a", "ALARM", None)]) == 180
    assert cap_s([]) == 180
