"""Run independent reads at once, each in its own daemon thread, and stop waiting at a deadline.

Daemon threads (not ThreadPoolExecutor, whose workers are joined at interpreter exit) so that a read stuck
on a dead region can never hold the command past its timeout. Each call's own connect/read timeouts bound
how long such a thread lives.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drctl.aws.errors import is_throttling, no_answer
from drctl.aws.ratelimit import RateLimited

# How many reads may run at once (unset: all of them). `DRCTL_MAX_WORKERS=1` runs them one after another,
# which bench/ uses to measure what the fan-out buys.
MAX_WORKERS_ENV = "DRCTL_MAX_WORKERS"
# Throttling still there after botocore's own attempts: a read (idempotent) tries again while the deadline
# leaves room, and reports its last error rather than "no answer" if the deadline comes first. Without this,
# status under 50 % throttling read a ready stack as not ready (bench/faults.py).
RETRY_PAUSE_S = 0.25
RETRY_RESERVE_S = 1.0  # no new attempt when less than this is left before the deadline


@dataclass(frozen=True)
class Outcome:
    """The result of one read: a value, or why there is none."""

    value: Any = None
    unreachable: str | None = None  # the endpoint did not answer (or not before the deadline)
    # an AWS error (ClientError / BotoCoreError) to classify later, or RateLimited: not sent, because the
    # client-side rate limit (drctl/aws/ratelimit.py) would have held it past the deadline
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.unreachable is None and self.error is None


@dataclass(frozen=True)
class Read:
    key: str
    region: str  # a region name, or "global" for Route53
    action: str  # IAM-style action name for error messages, e.g. "rds:DescribeGlobalClusters"
    fn: Callable[[], Any]
    resource: str = ""  # what the read is about, for "not found" messages, e.g. "DB cluster 'app-use1'"


class _Raised:
    """A non-AWS exception from a read (a DrctlError or a bug in drctl), re-raised in the caller's thread."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def max_workers() -> int | None:
    """The cap from $DRCTL_MAX_WORKERS (a positive integer), or None for no cap."""
    raw = os.environ.get(MAX_WORKERS_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def run_reads(reads: list[Read], deadline_s: float) -> dict[str, Outcome]:
    """Start every read at once; return when all finished or the deadline passed (late ones: unreachable)."""
    results: dict[str, Outcome | _Raised] = {}
    throttled: dict[str, BaseException] = {}  # the last throttling error of a read that is trying again
    done = threading.Condition()
    end = time.monotonic() + deadline_s
    limit = max_workers()
    gate: contextlib.AbstractContextManager[Any] = (
        threading.BoundedSemaphore(limit) if limit else contextlib.nullcontext()
    )

    def worker(read: Read) -> None:
        outcome: Outcome | _Raised
        try:
            with gate:
                outcome = Outcome(value=_until_not_throttled(read, end, throttled))
        except (ClientError, BotoCoreError) as e:
            if no_answer(e):
                outcome = Outcome(unreachable=f"{read.action}: {type(e).__name__}")
            else:
                outcome = Outcome(error=e)
        except RateLimited as e:
            outcome = Outcome(error=e)
        except Exception as e:  # not swallowed: handed to the caller's thread and raised there
            outcome = _Raised(e)
        with done:
            results[read.key] = outcome
            done.notify_all()

    for read in reads:
        threading.Thread(target=worker, args=(read,), name=f"drctl-read-{read.key}", daemon=True).start()
    with done:
        while len(results) < len(reads):
            left = end - time.monotonic()
            if left <= 0:
                break
            done.wait(left)
        snapshot = dict(results)
        late_errors = dict(throttled)
    out: dict[str, Outcome] = {}
    for read in reads:
        got = snapshot.get(read.key)
        if isinstance(got, _Raised):
            raise got.exc
        if got is None and read.key in late_errors:  # it answered, with throttling: not an outage
            got = Outcome(error=late_errors[read.key])
        out[read.key] = got or Outcome(unreachable=f"{read.action}: no answer within {deadline_s:g}s")
    return out


def _until_not_throttled(read: Read, end: float, throttled: dict[str, BaseException]) -> Any:
    pause = RETRY_PAUSE_S
    while True:
        try:
            return read.fn()
        except ClientError as e:
            if not is_throttling(e) or end - time.monotonic() < pause + RETRY_RESERVE_S:
                raise
            throttled[read.key] = e
        time.sleep(pause)
        pause = min(pause * 2, 2.0)
