"""The lab's fault chain: what the gateway injects in front of the emulator, and nothing else.

Per-region outages (which gateway ports are down; the server closes their sockets), injected latency with
jitter, throttling and 5xx errors as rates, and faults per operation: `fail` (InternalFailure, not acted on)
and `lose_answer` (acted on by the models and the emulator, then the connection drops before the answer: the
ambiguous outcome an asynchronous FailoverGlobalCluster leaves a client with). Latency and errors are chain
links (drctl/lab/http.py's middleware contract); injected errors are shaped by drctl/lab/protocol.py in the
request's own protocol, so botocore classifies them as it would AWS's (throttling retried in standard mode, 5xx
as transient).
"""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from drctl.lab.http import Forward, LabRequest, LabResponse
from drctl.lab.protocol import aws_error

GLOBAL = "global"  # the port of the global endpoints (Route53's control plane, IAM, STS)
DROP_HEADER = "x-lab-drop-answer"  # internal: the server closes the connection instead of answering
_OPERATION = re.compile(r"[A-Za-z0-9]+")


def throttled(req: LabRequest) -> LabResponse:
    """An injected throttling error as the request's service sends it (S3: 503 SlowDown)."""
    if req.service == "s3":
        return aws_error(req, 503, "SlowDown", "lab: injected throttling (Please reduce your request rate.)")
    return aws_error(req, 400, "Throttling", "lab: injected throttling (Rate exceeded)")


def server_error(req: LabRequest) -> LabResponse:
    return aws_error(req, 500, "InternalFailure", "lab: injected server error")


class Rate:
    """Fires at exactly `rate` of calls over any window (error diffusion from a random phase), so a test
    of "30 % throttled over 200 calls" is not at the mercy of a coin."""

    def __init__(self, rng: random.Random) -> None:
        self.rate = 0.0
        self._rng = rng
        self._acc = 0.0

    def set(self, rate: float) -> None:
        self.rate = min(max(rate, 0.0), 1.0)
        self._acc = self._rng.random()

    def fire(self) -> bool:
        if self.rate <= 0.0:
            return False
        self._acc += self.rate
        if self._acc >= 1.0:
            self._acc -= 1.0
            return True
        return False


@dataclass
class Injected:
    down: set[str] = field(default_factory=set)  # port roles whose sockets are closed
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fail_ops: set[str] = field(default_factory=set)  # answered InternalFailure (500) without acting
    lose_answer_ops: set[str] = field(default_factory=set)  # acted on, then the connection drops unanswered


def operations(value: Any) -> set[str]:
    """A list of AWS operation names from the admin API, validated."""
    if not isinstance(value, list) or not all(isinstance(v, str) and _OPERATION.fullmatch(v) for v in value):
        raise ValueError("operations must be a list of AWS operation names, e.g. FailoverGlobalCluster")
    return set(value)


class Faults:
    """The injected state and the chain links that apply it (latency, then throttling or a 5xx)."""

    def __init__(self, regions: tuple[str, str], rng: random.Random | None = None) -> None:
        self.regions = regions
        self.injected = Injected()
        self._rng = rng or random.Random()
        self.throttle = Rate(self._rng)
        self.errors = Rate(self._rng)
        self._lock = threading.Lock()

    # outages: which ports go down or come back (the server opens and closes them)
    def take_down(self, region: str, *, route53: bool = False) -> set[str]:
        """Mark `region` (and with `route53` the global port) down; returns the roles newly down."""
        roles = {region} | ({GLOBAL} if route53 else set())
        unknown = roles - {GLOBAL, *self.regions}
        if unknown:
            raise ValueError(f"unknown region {sorted(unknown)[0]!r}; the lab has {', '.join(self.regions)}")
        newly = roles - self.injected.down
        self.injected.down |= roles
        return newly

    def bring_back(self, region: str | None = None) -> set[str]:
        """Mark `region` (None: everything) up again; returns the roles to reopen."""
        if region is not None and region not in {GLOBAL, *self.regions}:
            raise ValueError(f"unknown region {region!r}; the lab has {', '.join(self.regions)}")
        roles = set(self.injected.down) if region is None else {region} & self.injected.down
        if region is not None and region != GLOBAL and GLOBAL in self.injected.down:
            roles.add(GLOBAL)  # the Route53 control plane came down with this region
        self.injected.down -= roles
        return roles

    def is_down(self, role: str) -> bool:
        return role in self.injected.down

    # latency and error rates
    def set_latency(self, ms: float, jitter_ms: float = 0.0) -> None:
        self.injected.latency_ms = max(ms, 0.0)
        self.injected.jitter_ms = max(jitter_ms, 0.0)

    def set_rates(self, *, throttle_rate: float, error_rate: float) -> None:
        with self._lock:
            self.throttle.set(throttle_rate)
            self.errors.set(error_rate)

    def set_operations(self, *, fail: set[str], lose_answer: set[str]) -> None:
        with self._lock:
            self.injected.fail_ops, self.injected.lose_answer_ops = set(fail), set(lose_answer)

    def clear(self) -> None:
        """Latency, rates and per-operation faults back to nothing (outages are the server's to restore)."""
        self.set_latency(0.0)
        self.set_rates(throttle_rate=0.0, error_rate=0.0)
        self.set_operations(fail=set(), lose_answer=set())

    def status(self) -> dict[str, Any]:
        return {
            "outages": sorted(self.injected.down),
            "latency": {"ms": self.injected.latency_ms, "jitter_ms": self.injected.jitter_ms},
            "faults": {
                "throttle_rate": self.throttle.rate,
                "error_rate": self.errors.rate,
                "fail": sorted(self.injected.fail_ops),
                "lose_answer": sorted(self.injected.lose_answer_ops),
            },
        }

    # chain links
    def latency(self, req: LabRequest, forward: Forward) -> LabResponse:
        inj = self.injected
        delay_ms = inj.latency_ms + (self._rng.uniform(0.0, inj.jitter_ms) if inj.jitter_ms > 0 else 0.0)
        if delay_ms > 0:
            time.sleep(delay_ms / 1000.0)
        return forward(req)

    def inject_errors(self, req: LabRequest, forward: Forward) -> LabResponse:
        with self._lock:
            throttle = self.throttle.fire()
            error = not throttle and self.errors.fire()
        if throttle:
            return throttled(req)
        if error or req.operation in self.injected.fail_ops:
            return server_error(req)
        if req.operation in self.injected.lose_answer_ops:
            resp = forward(req)  # accepted and acted on; the server then drops the connection unanswered
            resp.headers[DROP_HEADER] = "1"
            return resp
        return forward(req)
