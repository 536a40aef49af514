"""Reads that meet throttling after botocore's own attempts try again within the deadline (found by
bench/faults.py: at 50 % throttling, status read a ready stack as not ready)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from drctl.status.runner import Read, run_reads


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


def test_throttling_until_the_deadline_is_an_error_not_an_outage() -> None:
    read, calls = flaky(10_000)
    out = run_reads([read], 1.5)[read.key]
    assert out.unreachable is None and out.error is not None and len(calls) >= 1


def test_other_errors_are_not_tried_again() -> None:
    read, calls = flaky(1, code="AccessDenied")
    out = run_reads([read], 10.0)[read.key]
    assert out.error is not None and len(calls) == 1
