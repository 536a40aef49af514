"""Reads that meet throttling after botocore's own attempts try again within the deadline (found by
bench/faults.py: at 50 % throttling, status read a ready stack as not ready)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from drctl.status import runner
from drctl.status.runner import RETRY_PAUSE_S, Read, run_reads


def error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "DescribeGlobalClusters")


def flaky(failures: int, code: str = "Throttling") -> tuple[Read, list[int]]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise error(code)
        return "ok"

    return Read("db:us-east-1", "us-east-1", "rds:DescribeGlobalClusters", fn), calls


def test_throttled_read_is_tried_again_and_answers() -> None:
    read, calls = flaky(2)
    out = run_reads([read], 10.0)[read.key]
    assert out.ok and out.value == "ok" and len(calls) == 3


class FakeClock:
    """The runner's clock: time passes only when the runner sleeps, so the retry schedule is exact."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_throttling_until_the_deadline_is_an_error_not_an_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(runner, "time", clock)
    called_at: list[float] = []
    throttled, calls = flaky(10_000)
    read = Read(
        throttled.key, throttled.region, throttled.action, lambda: called_at.append(clock.now) or throttled.fn()
    )
    out = run_reads([read], 1.5)[read.key]
    # At 0 s: throttled, 1.5 s left, room for a 0.25 s pause + the 1 s reserve: try again. At 0.25 s: throttled,
    # 1.25 s left, not enough for the next 0.5 s pause + 1 s reserve: give up with the throttling error itself.
    assert [t - 1000.0 for t in called_at] == [0.0, RETRY_PAUSE_S] and len(calls) == 2
    assert clock.sleeps == [RETRY_PAUSE_S]
    assert out.unreachable is None and isinstance(out.error, ClientError)
    assert out.error.response["Error"]["Code"] == "Throttling"


def test_other_errors_are_not_tried_again() -> None:
    read, calls = flaky(1, code="AccessDenied")
    out = run_reads([read], 10.0)[read.key]
    assert out.error is not None and len(calls) == 1
