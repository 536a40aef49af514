"""Dependent call chains of `drctl status`: from an in-process trace, and from the gateway's request log.

In-process: every botocore API call is recorded with its thread (drctl runs each read in a thread named
`drctl-read-<key>`) and every call of `run_reads` is a round; calls inside one read depend on each other,
and a second round depends on the first. The longest dependent chain is the sum, over rounds, of the most
calls any one read of that round made.

Request log: the gateway logs when each call ended; with L ms injected per call, a call started at least L
before it ended. The observed depth is the longest sequence of calls each starting after the previous ended
(greedy by end time, which is optimal for this). With unlimited concurrency it equals the dependent chain
plus any stagger in starting the reads.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

READ_THREAD_PREFIX = "drctl-read-"


@dataclass
class Call:
    thread: str
    operation: str
    start: float
    end: float


@dataclass
class Trace:
    calls: list[Call] = field(default_factory=list)
    rounds: list[list[str]] = field(default_factory=list)  # read keys of each run_reads call
    lock: threading.Lock = field(default_factory=threading.Lock)

    def chain(self) -> tuple[int, list[str]]:
        """(longest dependent chain in calls, the operations along it)."""
        per_thread: dict[str, list[Call]] = {}
        for c in self.calls:
            per_thread.setdefault(c.thread, []).append(c)
        total, ops = 0, []
        for keys in self.rounds:
            best: list[Call] = []
            for key in keys:
                calls = per_thread.get(READ_THREAD_PREFIX + key, [])
                if len(calls) > len(best):
                    best = sorted(calls, key=lambda c: c.start)
            total += len(best)
            ops += [c.operation for c in best]
        return total, ops

    def per_read(self) -> Counter[str]:
        return Counter(c.thread.removeprefix(READ_THREAD_PREFIX) for c in self.calls)


@contextmanager
def traced() -> Iterator[Trace]:
    """Record every botocore API call and every round of drctl.status's reads made inside the block."""
    import botocore.client

    import drctl.status.gather as gather

    trace = Trace()
    real_call = botocore.client.BaseClient._make_api_call
    real_run_reads = gather.run_reads

    def make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
        t = time.perf_counter()
        try:
            return real_call(self, operation_name, api_params)
        finally:
            call = Call(threading.current_thread().name, operation_name, t, time.perf_counter())
            with trace.lock:
                trace.calls.append(call)

    def run_reads(reads: Sequence[Any], deadline_s: float) -> Any:
        trace.rounds.append([r.key for r in reads])
        return real_run_reads(list(reads), deadline_s)

    botocore.client.BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
    gather.run_reads = run_reads  # type: ignore[assignment]
    try:
        yield trace
    finally:
        botocore.client.BaseClient._make_api_call = real_call  # type: ignore[method-assign]
        gather.run_reads = real_run_reads


def log_depth(entries: Sequence[dict[str, Any]], latency_s: float, tol_s: float = 0.0) -> int:
    """Observed depth from request-log end times: longest chain of calls [end - latency, end] that do not
    overlap (each starts after the previous ended)."""
    ends = sorted(float(e["ts"]) for e in entries)
    depth, last_end = 0, float("-inf")
    for end in ends:
        if end - latency_s >= last_end - tol_s:
            depth += 1
            last_end = end
    return depth


def calls_by_api(entries: Sequence[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((str(e.get("service")), str(e.get("operation"))) for e in entries)


def retried(entries: Sequence[dict[str, Any]], is_retry: Callable[[dict[str, Any]], bool] | None = None) -> int:
    """Responses that made botocore try again: throttling (400/429/503) and 5xx answers."""
    check = is_retry or (lambda e: int(e.get("status", 200)) in (429, 500, 502, 503, 504))
    return sum(1 for e in entries if check(e))
