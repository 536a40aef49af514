"""`drctl status`: read both regions at once and compute what an on-call engineer needs to decide."""

from __future__ import annotations

from datetime import UTC, datetime

from drctl.models import StatusReport
from drctl.stack import Stack


def collect_status(stack: Stack, *, timeout_s: float, factory: object | None = None) -> StatusReport:
    """Read everything (bounded by `timeout_s`) and compute the report. Imports boto3 lazily."""
    from drctl.aws.clients import ClientFactory
    from drctl.status.compute import build_report
    from drctl.status.gather import gather, status_settings

    f = factory if isinstance(factory, ClientFactory) else ClientFactory(status_settings(stack.aws, timeout_s))
    readings = gather(stack, f, timeout_s)
    return build_report(stack, readings, datetime.now(UTC))
