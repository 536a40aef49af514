"""`drctl failover --canary`: the canary writes for the whole run, from before the promotion to after the
verification and a short tail, then is read back; the ground truth goes into the run's journal (CanaryChecked)
and so into its report, beside the RPO estimate and the recovery points.

`prepare()` runs before anything happens: a stack without a canary endpoint, missing credentials, an unreachable
or read-only endpoint or a foreign table each stop the command with a one-line error, before the run starts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drctl.canary.check import check
from drctl.canary.credentials import resolve
from drctl.canary.db import Credentials, Endpoint
from drctl.canary.writer import Writer, probe
from drctl.errors import ConfigError, DrctlError
from drctl.journal.events import CanaryChecked
from drctl.journal.log import Journal
from drctl.stack import Stack

TAIL_S = 2.0  # the canary keeps writing this long after the run, so the new writer's commits are seen


@dataclass
class FailoverCanary:
    endpoints: list[Endpoint]
    database: str
    creds: Credentials = field(repr=False)
    rate: float
    conn: Any = field(default=None, repr=False)
    writer: Writer | None = None

    @classmethod
    def prepare(cls, stack: Stack) -> FailoverCanary:
        settings = stack.canary
        if not settings.configured:
            raise ConfigError(
                f"--canary: the stack {stack.source or ''} has no database endpoint for the canary".replace(
                    "  ", " "
                ),
                hint="add [canary] endpoints and database to the stack file (README: the canary)",
            )
        creds = resolve(settings, stack.aws)
        endpoints = [Endpoint.parse(e, settings.name_servers) for e in settings.endpoints]
        conn, _ = probe(endpoints, settings.database, creds)
        return cls(endpoints, settings.database, creds, settings.rate, conn)

    def start(self, journal: Journal) -> None:
        """Called once the run's journal exists, before its lock, preflight and promotion."""
        self.writer = Writer(
            journal.path.parent / "canary", journal.run_id, self.endpoints, self.database, self.creds, self.rate
        )
        self.writer.open(self.conn)
        self.conn = None
        self.writer.start()

    def finish(self, journal_path: str, tail_s: float = TAIL_S) -> dict[str, Any]:
        """Stop after the tail, read back, journal the result; the result (or {"error": ...})."""
        if self.writer is None:
            if self.conn is not None:
                self.conn.close()
            return {}
        time.sleep(tail_s)
        self.writer.stop()
        self.writer.close()
        try:
            result: dict[str, Any] = check(self.writer.folder, self.endpoints, self.database, self.creds).to_dict()
        except DrctlError as e:
            result = {"error": e.message, "run_id": self.writer.run_id, "acked": self.writer.stats.acked}
        Journal(self.writer.run_id, Path(journal_path)).append(CanaryChecked(result=result))
        return result
