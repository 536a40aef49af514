"""A run's journal on disk: one writer (append, flush, fsync) and one reader.

`$DRCTL_HOME/runs/<run_id>/journal.jsonl`. The first line is the run header (`RunStarted`); then, per step,
a `StepStarted` line before it runs and a `StepEnded` line after it. A resumed run appends to the same file.
A torn last line (a crash while writing) ends the journal: everything before it stands.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drctl.errors import ConfigError
from drctl.journal.events import (
    CanaryChecked,
    Event,
    PromotionSent,
    RunFinished,
    RunResumed,
    RunStarted,
    StepEnded,
    StepStarted,
    parse,
)
from drctl.stack import drctl_home

RUN_ID_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{4}$")
JOURNAL_NAME = "journal.jsonl"
LIST_HINT = "list runs with `drctl runs`"


def runs_dir() -> Path:
    return drctl_home() / "runs"


def run_dir(run_id: str) -> Path:
    """The folder of run `run_id`, or a one-line CONFIG error that says how to list runs."""
    folder = runs_dir() / run_id
    if not RUN_ID_RE.match(run_id) or not (folder / JOURNAL_NAME).is_file():
        raise ConfigError(f"no run {run_id!r} in {runs_dir()}", hint=LIST_HINT)
    return folder


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique-enough id such as `20261129T121500Z-ab12`."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Journal:
    """Append-only typed events for one run; safe to append from several threads."""

    def __init__(self, run_id: str, path: Path) -> None:
        self.run_id = run_id
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def create(cls, header: RunStarted) -> Journal:
        folder = runs_dir() / header.run_id
        folder.mkdir(parents=True, exist_ok=False)
        journal = cls(header.run_id, folder / JOURNAL_NAME)
        journal.append(header)
        return journal

    @classmethod
    def open(cls, run_id: str) -> Journal:
        """An existing run's journal; a one-line CONFIG error when there is none."""
        return cls(run_id, run_dir(run_id) / JOURNAL_NAME)

    def append(self, event: Event) -> Event:
        """Write one event and make it durable before returning (a crash right after loses nothing)."""
        record = {**event.to_record(), "ts": utc_now()}
        line = json.dumps(record, default=str) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        return parse(record)

    def read(self) -> RunLog:
        return RunLog.read(self.path)


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The journal's JSON lines; a torn last line ends the list."""
    out: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return out


@dataclass(frozen=True)
class RunLog:
    """A journal, read: the header and every event in order, with the questions readers ask of it."""

    header: RunStarted
    events: tuple[Event, ...]
    path: Path | None = None

    @classmethod
    def read(cls, path: Path) -> RunLog:
        if not path.is_file():
            raise ConfigError(f"no journal at {path}", hint=LIST_HINT)
        return cls.from_records(read_lines(path), path)

    @classmethod
    def from_records(cls, records: list[dict[str, Any]], path: Path | None = None) -> RunLog:
        events = tuple(parse(r) for r in records)
        if not events or not isinstance(events[0], RunStarted):
            raise ConfigError(f"{path or 'journal'}: not a drctl run journal")
        return cls(events[0], events, path)

    @property
    def run_id(self) -> str:
        return self.header.run_id

    @property
    def started_at(self) -> datetime:
        return self.header.at

    @property
    def last_at(self) -> datetime:
        # The canary's check comes after the run (its tail and read-back): not part of the run's time.
        return max(e.at for e in self.events if e.ts and not isinstance(e, CanaryChecked))

    @property
    def canary(self) -> dict[str, Any]:
        """The last canary check of the run ({} when the run had no canary)."""
        found = self.of(CanaryChecked)
        return dict(found[-1].result) if found else {}

    def rel(self, event: Event) -> float:
        """Seconds from the header to `event`."""
        return round((event.at - self.started_at).total_seconds(), 3)

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def finished(self) -> RunFinished | None:
        """The last finish, unless the run was resumed after it."""
        for e in reversed(self.events):
            if isinstance(e, RunResumed):
                return None
            if isinstance(e, RunFinished):
                return e
        return None

    @property
    def outcome(self) -> str:
        return self.finished.outcome if self.finished else "unfinished"

    @property
    def attempts(self) -> int:
        return 1 + len(self.of(RunResumed))

    @property
    def done(self) -> dict[str, StepEnded]:
        """Steps that ended ok (the last such end per step)."""
        return {e.step: e for e in self.of(StepEnded) if e.outcome == "ok"}

    @property
    def results(self) -> dict[str, dict[str, Any]]:
        return {step: e.result or {} for step, e in self.done.items()}

    @property
    def started_only(self) -> list[str]:
        """Steps started and never ended ok."""
        done = self.done
        return [s for s in dict.fromkeys(e.step for e in self.of(StepStarted)) if s not in done]

    @property
    def sent(self) -> list[PromotionSent]:
        return self.of(PromotionSent)

    @property
    def calls(self) -> list[dict[str, Any]]:
        return [c for e in self.of(StepEnded) for c in e.calls]


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    started: str
    from_region: str
    to_region: str
    mode: str
    command: str
    outcome: str  # the last finish's outcome, "unfinished", or "unreadable journal"
    report: dict[str, Any]  # the finish record's report (rto_s, rpo_s ...), {} when unfinished
    folder: Path
    only: str = ""  # failover --only: "database" or "traffic" ("" for both)


def list_runs(limit: int | None = None) -> list[RunSummary]:
    """Every run under $DRCTL_HOME/runs, newest first; an unreadable journal is listed as such."""
    root = runs_dir()
    if not root.is_dir():
        return []
    folders = [f for f in sorted(root.iterdir(), reverse=True) if RUN_ID_RE.match(f.name)]
    out = []
    for folder in folders[:limit]:
        if not (folder / JOURNAL_NAME).is_file():
            continue
        try:
            log = RunLog.read(folder / JOURNAL_NAME)
        except (ConfigError, OSError, ValueError):
            out.append(RunSummary(folder.name, "", "", "", "", "", "unreadable journal", {}, folder))
            continue
        h = log.header
        out.append(
            RunSummary(
                folder.name,
                h.ts,
                h.from_region,
                h.to_region,
                h.mode,
                h.command,
                log.outcome,
                log.finished.report if log.finished else {},
                folder,
                str((h.request or {}).get("only") or ""),
            )
        )
    return out
