"""Unplanned mode's traffic verdict: what the flip saw of the switch alarm counts; a read too early does not."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drctl.failover import observe, verify
from drctl.stack import load_stack

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "stack.example.toml"


def run_with(flip: dict[str, Any] | None, remaining: float = 5.0) -> Any:
    stack = load_stack(EXAMPLE)
    source = next(r for r in stack.regions.values() if r.role == "primary")
    return SimpleNamespace(
        source=source,
        results={"flip": flip} if flip is not None else {},
        clients=object(),
        stop_event=threading.Event(),
        progress=lambda msg: None,
        remaining=lambda: remaining,
    )


def flip_result(run: Any, state: str, value: int = 1) -> dict[str, Any]:
    s = run.source
    return {
        "calls": [
            {
                "operation": "PutMetricData",
                "region": s.switch_alarm_region,
                "params": {"MetricData": [{"Value": value, "Dimensions": [{"Name": "Region", "Value": s.name}]}]},
                "alarm": {
                    "name": s.switch_alarm_name,
                    "state": state,
                    "period_s": 60,
                    "seen_at": 1000.0,
                    "seen_after_put_s": 42.0,
                    "source": "DescribeAlarms (StateValue, StateUpdatedTimestamp)",
                },
            }
        ]
    }


def test_the_flip_saw_alarm_counts_even_if_a_read_now_says_ok(monkeypatch) -> None:
    run = run_with(None)
    run.results["flip"] = flip_result(run, "ALARM")
    reads: list[str] = []
    monkeypatch.setattr(observe, "alarm_state", lambda *a: reads.append("read") or "OK")
    out = verify._switch_verdict(run, run.source)
    assert out["verdict"] == "switch-thrown"
    assert "42s after the datapoint" in out["detail"] and "seen by the flip step" in out["detail"]
    assert reads == []  # nothing re-read


def test_without_the_flip_it_follows_the_alarm_until_alarm(monkeypatch) -> None:
    """An early read (OK, the datapoint not evaluated yet) is followed until the evaluation shows ALARM."""
    run = run_with(None)
    states = iter(["OK", "OK", "ALARM"])
    monkeypatch.setattr(observe, "alarm_state", lambda *a: next(states))
    out = verify._switch_verdict(run, run.source)
    assert out["verdict"] == "switch-thrown"


def test_a_reset_datapoint_is_not_the_drain(monkeypatch) -> None:
    run = run_with(None)
    run.results["flip"] = flip_result(run, "ALARM", value=0)
    monkeypatch.setattr(observe, "alarm_state", lambda *a: "ALARM")
    assert verify._flip_saw(run, run.source) is None
    assert verify._switch_verdict(run, run.source)["verdict"] == "switch-thrown"  # read, not taken from the flip


def test_not_thrown_only_after_following_it_within_the_bound(monkeypatch) -> None:
    run = run_with(None, remaining=0.5)  # the bound: min(time left, 1.5 periods)
    reads: list[int] = []

    def state(*a: Any) -> str:
        reads.append(1)
        return "OK"

    monkeypatch.setattr(observe, "alarm_state", state)
    out = verify._switch_verdict(run, run.source)
    assert out["verdict"] == "switch-not-thrown"
    assert len(reads) > 1 and "after following it for 0.5s" in out["detail"]


@pytest.mark.parametrize("flip_state", ["OK", "INSUFFICIENT_DATA"])
def test_a_flip_that_saw_no_alarm_is_followed_again(monkeypatch, flip_state: str) -> None:
    run = run_with(None, remaining=0.5)
    run.results["flip"] = flip_result(run, flip_state)
    monkeypatch.setattr(observe, "alarm_state", lambda *a: "OK")
    out = verify._switch_verdict(run, run.source)
    assert out["verdict"] == "switch-not-thrown" and f"the flip saw {flip_state}" in out["detail"]
