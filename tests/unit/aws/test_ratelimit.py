"""The client-side token bucket every GetHealthCheckStatus reader shares (docs/fidelity.md D-15)."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest

from drctl.aws import ratelimit, route53
from drctl.aws.ratelimit import RateLimited, TokenBucket
from drctl.stack import Route53Api
from drctl.status.runner import Read, run_reads


class FakeClock:
    """Time that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


@pytest.mark.parametrize(("rate", "burst", "n"), [(1.0, 1, 10), (0.8, 3, 12), (5.0, 1, 50), (0.5, 4, 9)])
def test_n_calls_take_at_least_n_minus_burst_over_rate(rate: float, burst: int, n: int) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, burst, clock=clock, sleep=clock.sleep)
    start = clock()
    for _ in range(n):
        bucket.acquire()
    assert clock() - start >= (n - burst) / rate - 1e-9
    assert clock() - start == pytest.approx((n - burst) / rate)  # and no slower than the rate allows
    assert clock.slept == [] if n <= burst else len(clock.slept) == n - burst


def test_burst_1_spaces_every_call_by_one_over_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, 1, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(5):
        bucket.acquire()
        starts.append(clock())
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([0.5] * 4)


def test_idle_time_refills_up_to_the_burst_only() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, 2, clock=clock, sleep=clock.sleep)
    bucket.acquire(), bucket.acquire()
    clock.now += 3600  # an hour idle: still only 2 tokens
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]


def test_concurrent_callers_queue_for_distinct_slots() -> None:
    """Threads at once (the clock frozen): each reserves its own slot, none shares one."""
    clock = FakeClock()
    waits: list[float] = []
    lock = threading.Lock()

    def record(s: float) -> None:
        with lock:
            waits.append(s)

    bucket = TokenBucket(0.8, 3, clock=clock, sleep=record)
    go = threading.Barrier(10)

    def caller() -> None:
        go.wait()
        bucket.acquire()

    threads = [threading.Thread(target=caller) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    # 3 went at once (no sleep), the other 7 wait 1.25 s, 2.5 s, ... apart: 10 calls span (10 - 3) / 0.8 s.
    assert sorted(waits) == pytest.approx([k / 0.8 for k in range(1, 8)])


def test_a_wait_past_the_deadline_is_refused_and_takes_nothing() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, 1, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    with pytest.raises(RateLimited, match=r"client-side rate limit would hold the request 1\.0s"):
        bucket.acquire(deadline_s=0.5, what="GetHealthCheckStatus x")
    assert bucket.acquire(deadline_s=1.0) == pytest.approx(1.0)  # the refused call did not spend a token


def test_reconfigure_keeps_what_was_spent() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, 4, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        bucket.acquire()
    bucket.configure(2.0, 2)
    assert bucket.acquire() == pytest.approx(0.5)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (float("inf"), 1), (1, 0)])
def test_nonsense_limits_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)


class _Route53:
    """A Route53 client that records when each GetHealthCheckStatus arrived."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.lock = threading.Lock()

    def get_health_check_status(self, HealthCheckId: str) -> dict[str, Any]:
        with self.lock:
            self.arrivals.append(time.monotonic())
        return {"HealthCheckObservations": [{"Region": "us-east-1", "StatusReport": {"Status": "Success"}}]}


def test_every_reader_in_the_process_shares_one_bucket() -> None:
    """Readers on different threads and with different clients draw from the one process bucket: requests
    reach Route53 at most at the stack's rate (a lower bound on spacing; sleeps are never shorter)."""
    api = Route53Api(max_requests_per_s=20.0, burst=1)
    clients = [_Route53(), _Route53()]
    threads = [
        threading.Thread(target=route53.get_health_check_observations, args=(clients[i % 2], f"hc{i}", api))
        for i in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    arrivals = sorted(clients[0].arrivals + clients[1].arrivals)
    assert len(arrivals) == 6
    assert arrivals[-1] - arrivals[0] >= 5 / 20.0 - 0.01
    assert route53.health_status_bucket(api) is ratelimit.shared(route53.HEALTH_STATUS_BUCKET, 20.0, 1)


def test_status_read_that_cannot_get_a_slot_in_time_is_an_error_not_a_crash() -> None:
    """The runner records RateLimited as the read's error (status shows it), never as an outage."""
    api = Route53Api(max_requests_per_s=0.01, burst=1)  # one now, the next in 100 s
    r53 = _Route53()
    end = time.monotonic() + 2

    def observe(check_id: str) -> Any:
        return route53.get_health_check_observations(r53, check_id, api, deadline_s=end - time.monotonic())

    out = run_reads(
        [Read(f"hcs:{c}", "global", "route53:GetHealthCheckStatus", lambda c=c: observe(c)) for c in "ab"], 2
    )
    assert sorted(o.ok for o in out.values()) == [False, True]
    refused = next(o for o in out.values() if not o.ok)
    assert isinstance(refused.error, RateLimited) and refused.unreachable is None
    assert len(r53.arrivals) == 1
