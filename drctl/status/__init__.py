"""`drctl status`: read both regions at once and compute what an on-call engineer needs to decide."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from drctl.models import StatusReport
from drctl.stack import Stack

if TYPE_CHECKING:
    from drctl.aws.clients import ClientFactory


def status_client_factory(stack: Stack, timeout_s: float) -> ClientFactory:
    """Clients whose per-call timeouts fit inside the command's deadline (reuse it across --watch refreshes)."""
    from drctl.aws.clients import ClientFactory
    from drctl.status.gather import status_settings

    return ClientFactory(status_settings(stack.aws, timeout_s))


def collect_status(stack: Stack, *, timeout_s: float, factory: ClientFactory | None = None) -> StatusReport:
    """Read everything (bounded by `timeout_s`) and compute the report. Imports boto3 lazily."""
    from drctl.status.compute import build_report
    from drctl.status.gather import gather

    readings = gather(stack, factory or status_client_factory(stack, timeout_s), timeout_s)
    return build_report(stack, readings, datetime.now(UTC))
