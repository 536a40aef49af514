"""What the steps of a run share: the stack, the request, clients, journal, deadline, results so far."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drctl.failover.observe import Clients
from drctl.failover.plan import Facts, Request
from drctl.journal.events import Milestone
from drctl.journal.log import Journal
from drctl.stack import RegionStack, Stack


@dataclass
class Run:
    """Everything the steps share. `clients` record calls for the journal; `single_shot` never auto-retries
    (used for the promotion, so that a lost response is answered by a re-read, not by a second send)."""

    stack: Stack
    req: Request
    clients: Clients
    single_shot: Clients
    journal: Journal
    run_id: str
    deadline: float  # monotonic: run start + RTO objective
    progress: Callable[[str], None]
    stop_event: threading.Event = field(default_factory=threading.Event)
    facts: Facts = field(default_factory=Facts)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    promotion_sent_before: bool = False  # the journal says an earlier process sent it: never again
    promotion_detached_before: bool = False  # ... and that it was the detach-and-promote fallback
    kill_hook: Callable[[str], None] = lambda point: None

    @property
    def source(self) -> RegionStack:
        return self.stack.regions[self.req.from_region]

    @property
    def target(self) -> RegionStack:
        return self.stack.regions[self.req.to_region]

    def milestone(self, name: str, source: str, *, at: float | None = None, **detail: Any) -> None:
        """Journal a recovery milestone (an RTO phase boundary) with where it was observed."""
        self.journal.append(
            Milestone(name=name, at_epoch=time.time() if at is None else at, source=source, detail=detail)
        )

    def remaining(self) -> float:
        return max(1.0, self.deadline - time.monotonic())


def traffic_bound_s(run: Run) -> float:
    """How long verification waits for traffic to show moved (Route53's answer, DNS, the probe): one
    health-check turn (RequestInterval x FailureThreshold) and 30 s of slack, within the run's deadline."""
    stack = run.stack
    return min(run.remaining(), stack.health_check_interval_s * stack.health_check_failure_threshold + 30)
