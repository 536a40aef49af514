"""The events of a run's journal, typed: what each line means, in one place.

On disk every event is one JSON object with an `event` key (its kind) and a `ts` (when it was written, UTC,
ISO 8601 with milliseconds). `to_record()` and `parse()` are the only translation between the two, so the
writer (failover runner), the readers (report, demo, bench, `drctl runs`) and the tests agree on every field.
Unknown kinds (a journal from a newer drctl) are kept as `Unknown` rather than dropped or misread.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

# Step outcomes, from best to worst; a phase takes the worst of its steps.
OK = "ok"
STEP_OUTCOMES = ("ok", "unfinished", "interrupted", "refused", "failed", "error")

# Run outcomes. Where nothing was changed in AWS, RTO and RPO do not apply.
COMPLETED, NOOP, REFUSED, ABORTED, LOCKED, FAILED, INTERRUPTED = (
    "completed",
    "no-op",
    "refused",
    "aborted",
    "locked",
    "failed",
    "interrupted",
)
NOTHING_MOVED = (NOOP, REFUSED, ABORTED, LOCKED)


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = ""
    ts: str = field(default="", kw_only=True)  # set by the journal when written

    @property
    def at(self) -> datetime:
        return datetime.fromisoformat(self.ts)

    def to_record(self) -> dict[str, Any]:
        body = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "ts"}
        return {"event": self.kind, **({"ts": self.ts} if self.ts else {}), **body}


@dataclass(frozen=True)
class RunStarted(Event):
    """The journal's first line: what was asked."""

    kind: ClassVar[str] = "run"
    run_id: str
    request: dict[str, Any]
    from_region: str
    to_region: str
    mode: str
    pid: int = 0
    objectives: dict[str, Any] | None = None
    command: str = "failover"  # which drctl command wrote the journal (failover, rejoin ...)
    clock_start: float = 0.0  # epoch seconds when the RTO clock started (drctl's own process start); 0: the ts


@dataclass(frozen=True)
class StepStarted(Event):
    kind: ClassVar[str] = "start"
    step: str


@dataclass(frozen=True)
class StepEnded(Event):
    """A step's end: its outcome, its own elapsed time, its result and every AWS call it made."""

    kind: ClassVar[str] = "end"
    step: str
    outcome: str
    elapsed_s: float
    result: dict[str, Any] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    retries: int = 0
    error: str = ""


@dataclass(frozen=True)
class PromotionSent(Event):
    """A promotion call's send and what came back (request id or error), written before anything else
    happens, so that a resumed run never sends it again blind."""

    kind: ClassVar[str] = "sent"
    step: str
    operation: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def request_id(self) -> str:
        return str(self.details.get("request_id", ""))

    def to_record(self) -> dict[str, Any]:  # flat on disk, as earlier journals wrote it
        return {
            "event": self.kind,
            **({"ts": self.ts} if self.ts else {}),
            "step": self.step,
            "operation": self.operation,
            **self.details,
        }


@dataclass(frozen=True)
class StateObserved(Event):
    """A read of AWS that decided what the run did next (e.g. the global cluster after an unknown outcome)."""

    kind: ClassVar[str] = "observed"
    step: str
    what: str
    state: dict[str, Any] = field(default_factory=dict)
    verdict: str = ""


@dataclass(frozen=True)
class Milestone(Event):
    """A moment of the recovery as users see it (promotion sent, database writable, switch datapoint put,
    alarm in ALARM, DNS answers the target ...), with where drctl learned it: a call, a read, a DNS answer."""

    kind: ClassVar[str] = "milestone"
    name: str
    at_epoch: float  # epoch seconds, when it was observed (or sent)
    source: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRefused(Event):
    kind: ClassVar[str] = "refused"
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunResumed(Event):
    kind: ClassVar[str] = "resume"
    pid: int = 0
    done: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunFinished(Event):
    kind: ClassVar[str] = "finish"
    outcome: str
    report: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CanaryChecked(Event):
    """`failover --canary`: the canary's ground truth, read back after the run (drctl/canary/check.py): RPO as
    acknowledged commits lost, and the write outages, on the local wall clock. Written after the finish line."""

    kind: ClassVar[str] = "canary"
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Unknown(Event):
    """A line of a kind this drctl does not know: kept, never interpreted."""

    record: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return dict(self.record)


KINDS: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        RunStarted,
        StepStarted,
        StepEnded,
        PromotionSent,
        StateObserved,
        Milestone,
        RunRefused,
        RunResumed,
        RunFinished,
        CanaryChecked,
    )
}


def parse(record: dict[str, Any]) -> Event:
    """One journal line (already JSON-decoded) as its typed event."""
    kind = str(record.get("event", ""))
    cls = KINDS.get(kind)
    ts = str(record.get("ts", ""))
    if cls is None:
        return Unknown(record=record, ts=ts)
    if cls is PromotionSent:
        rest = {k: v for k, v in record.items() if k not in ("event", "ts", "step", "operation")}
        return PromotionSent(
            step=str(record.get("step", "")), operation=str(record.get("operation", "")), details=rest, ts=ts
        )
    names = {f.name for f in fields(cls)} - {"ts"}
    try:
        return cls(**{k: v for k, v in record.items() if k in names}, ts=ts)
    except TypeError:  # a required field missing: a damaged line, kept as such
        return Unknown(record=record, ts=ts)
