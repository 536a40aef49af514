"""One mutating AWS call as a value: what the dry run prints is the object the run sends.

The `*_actions` modules build these; a dry run lists them (`line()`, `describe()`), a run calls `send()`.
There is no second description of a call that could drift from what is sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Protocol


class Clients(Protocol):
    """Anything that gives a boto3 client per service and region (ClientFactory and its wrappers)."""

    def client(self, service: str, region: str) -> Any: ...


@dataclass(frozen=True)
class ApiCall:
    service: str  # boto3 service name, e.g. "dynamodb"
    region: str  # where the call is sent (us-east-1 for Route53's control plane)
    operation: str  # the AWS API operation, e.g. "DeleteItem"
    params: dict[str, Any] = field(hash=False)  # the request, exactly as sent
    why: str = ""

    def because(self, why: str) -> ApiCall:
        """The same call, with the reason a dry run shows for it."""
        return replace(self, why=why)

    def send(self, clients: Clients) -> dict[str, Any]:
        """Send the call once, on a client for its service and region; the raw response."""
        from botocore import xform_name  # botocore's own operation -> method name mapping

        client = clients.client(self.service, self.region)
        resp: dict[str, Any] = getattr(client, xform_name(self.operation))(**self.params)
        return resp

    def describe(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "operation": self.operation,
            "region": self.region,
            "params": self.params,
            "why": self.why,
        }

    def line(self) -> str:
        return f"{self.service} {self.operation} [{self.region}] {json.dumps(self.params, default=str)}"
