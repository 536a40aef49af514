"""The concurrent read runner: all at once, a deadline, unreachable vs AWS errors vs bugs."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from drctl.status.runner import Read, run_reads


def test_reads_run_concurrently() -> None:
    barrier = threading.Barrier(3, timeout=2)  # only passes if all three run at the same time
    reads = [Read(f"r{i}", "us-east-1", "x:Y", lambda: barrier.wait()) for i in range(3)]
    assert all(o.ok for o in run_reads(reads, 5).values())


def test_deadline_marks_late_reads_unreachable() -> None:
    stop = threading.Event()
    started = time.monotonic()
    out = run_reads(
        [
            Read("slow", "us-east-1", "rds:Describe", lambda: stop.wait(10)),
            Read("fast", "us-west-2", "x:Y", lambda: 1),
        ],
        0.3,
    )
    stop.set()
    assert time.monotonic() - started < 1.5
    assert out["fast"].value == 1
    assert out["slow"].unreachable and "no answer within 0.3s" in out["slow"].unreachable


def test_connection_errors_are_unreachable_and_client_errors_are_kept() -> None:
    def refused() -> None:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    def denied() -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DescribeGlobalClusters")

    out = run_reads([Read("a", "us-east-1", "x:A", refused), Read("b", "us-east-1", "x:B", denied)], 2)
    assert out["a"].unreachable == "x:A: EndpointConnectionError"
    assert isinstance(out["b"].error, ClientError)


def test_a_bug_in_a_read_is_raised_not_hidden() -> None:
    def bug() -> None:
        raise KeyError("oops")

    with pytest.raises(KeyError):
        run_reads([Read("a", "us-east-1", "x:A", bug)], 2)
