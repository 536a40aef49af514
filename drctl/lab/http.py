"""The lab gateway's request/response types and its middleware contract.

The gateway (drctl/lab/gateway.py) parses each AWS request once into a LabRequest (drctl/lab/protocol.py),
runs it through a chain of middleware (faults, then models), and the last link forwards it to the emulator.
A middleware either answers itself (short-circuit), or calls `forward(req)` and may rewrite what comes back:

    class HealthChecks:
        def __call__(self, req: LabRequest, forward: Forward) -> LabResponse:
            if req.service == "route53" and req.path.endswith("/status"):
                return LabResponse.xml(200, "<GetHealthCheckStatusResponse>...")
            return forward(req)

Only the lab imports this module; production code never does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qs


@dataclass
class LabRequest:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # header names lower-cased
    body: bytes
    port_role: str  # which gateway port received it: a region name or "global"
    region: str  # signing region from the SigV4 credential scope ("" if unsigned)
    service: str  # signing service from the credential scope, e.g. "rds", "route53", "monitoring"
    operation: str  # best effort: X-Amz-Target, Action=, or a REST name such as "GetHealthCheckStatus"
    params: dict[str, str] = field(default_factory=dict)  # flattened Action/form or JSON top-level params

    @property
    def form(self) -> dict[str, list[str]]:
        """Form-encoded body (query protocols: rds, autoscaling, elbv2, monitoring, sns, iam, sts)."""
        if self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {}


@dataclass
class LabResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @classmethod
    def xml(cls, status: int, body: str, *, request_id: str = "lab-0000") -> LabResponse:
        return cls(status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode("utf-8"))

    @classmethod
    def json(cls, status: int, data: Mapping[str, object]) -> LabResponse:
        return cls(status, {"Content-Type": "application/json"}, json.dumps(data).encode("utf-8"))


Forward = Callable[[LabRequest], LabResponse]


class Middleware(Protocol):
    def __call__(self, req: LabRequest, forward: Forward) -> LabResponse: ...
