"""Client-side rate limits for AWS calls that the service limits per account: one token bucket per process.

Route 53 throttles per account with token buckets, one for all its actions and one per action
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html, table "Request rate
limits per API action"): all actions combined, bucket maximum capacity 50, refill rate 10 per second;
GetHealthCheckStatus, capacity 4, refill 1 per second. The action's own bucket is the tight one, and it is
shared with every other client of the account (consoles, other drctl processes, monitoring), so drctl keeps
below it by default: `[route53] max_requests_per_s` and `[route53] burst` (drctl/stack.py Route53Api: 0.8 and
3 unless the stack file says otherwise). docs/fidelity.md D-15.

Every reader of health-check status in this process takes a token from the same bucket (`shared`), whatever
thread it runs on: status's fan-out over several checks and the failover's polling loops alike. A request
that would have to wait longer than its caller's deadline is not sent (`RateLimited`). Throttling answers that
still come (other clients of the account) are retried with backoff by botocore's standard mode and then by
the caller (drctl/status/runner.py, drctl/failover/waiting.py).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimited(Exception):
    """The request was not sent: the client-side rate limit would have held it past the caller's deadline."""

    def __init__(self, what: str, wait_s: float, deadline_s: float) -> None:
        super().__init__(
            f"{what}: client-side rate limit would hold the request {wait_s:.1f}s, past the {deadline_s:.1f}s left"
        )
        self.wait_s = wait_s


class TokenBucket:
    """A token bucket (capacity `burst`, refilled at `rate_per_s`), thread-safe.

    A caller that finds it empty reserves the next token (the level goes below zero) and sleeps outside the
    lock until its turn, so concurrent callers queue in order and N calls from a full bucket start no sooner
    than (N - burst) / rate after the first."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep
        self.rate_per_s, self.burst = _checked(rate_per_s, burst)
        self._level = float(self.burst)
        self._at = clock()

    def configure(self, rate_per_s: float, burst: int) -> None:
        """New rate and capacity, keeping what has been spent (a smaller bucket is not refilled)."""
        rate, cap = _checked(rate_per_s, burst)
        with self._lock:
            self._refill()
            self.rate_per_s, self.burst = rate, cap
            self._level = min(self._level, float(cap))

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(float(self.burst), self._level + (now - self._at) * self.rate_per_s)
        self._at = now

    def acquire(self, *, deadline_s: float | None = None, what: str = "request") -> float:
        """Take one token, sleeping until there is one; return the seconds waited.

        With `deadline_s`, raise RateLimited (taking nothing) if the wait would be longer."""
        with self._lock:
            self._refill()
            wait = 0.0 if self._level >= 1.0 else (1.0 - self._level) / self.rate_per_s
            if deadline_s is not None and wait > deadline_s:
                raise RateLimited(what, wait, deadline_s)
            self._level -= 1.0
        if wait > 0:
            self._sleep(wait)
        return wait


def _checked(rate_per_s: float, burst: int) -> tuple[float, int]:
    if not (math.isfinite(rate_per_s) and rate_per_s > 0):
        raise ValueError(f"rate must be a positive number of requests per second, got {rate_per_s!r}")
    if burst < 1:
        raise ValueError(f"burst must be at least 1, got {burst!r}")
    return float(rate_per_s), int(burst)


_shared_lock = threading.Lock()
_shared: dict[str, TokenBucket] = {}


def shared(name: str, rate_per_s: float, burst: int) -> TokenBucket:
    """The process's one bucket called `name`, (re)configured to the given rate and burst."""
    with _shared_lock:
        bucket = _shared.get(name)
        if bucket is None:
            bucket = _shared[name] = TokenBucket(rate_per_s, burst)
        elif (bucket.rate_per_s, bucket.burst) != (rate_per_s, burst):
            bucket.configure(rate_per_s, burst)
        return bucket


def forget_shared() -> None:
    """Drop the process's buckets (the next `shared` call starts full): for tests that run many commands in
    one process, each of which on AWS would be its own process."""
    with _shared_lock:
        _shared.clear()
