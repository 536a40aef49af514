"""A run's journal: JSON lines appended (flush + fsync) before and after every step.

`$DRCTL_HOME/runs/<run_id>/journal.jsonl`. The first line is the run header (what was asked); then, per step,
a `start` line before it runs and an `end` line after it (outcome, AWS request ids, retries, state read).
A resumed run appends to the same file; a report can be rebuilt from the journal alone.
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
from drctl.stack import drctl_home

RUN_ID_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{4}$")
JOURNAL_NAME = "journal.jsonl"


def runs_dir() -> Path:
    return drctl_home() / "runs"


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique-enough id such as `20261129T121500Z-ab12`."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


class Journal:
    """Append-only JSON lines for one run; safe to append from several threads."""

    def __init__(self, run_id: str, path: Path) -> None:
        self.run_id = run_id
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def create(cls, run_id: str, header: dict[str, Any]) -> Journal:
        folder = runs_dir() / run_id
        folder.mkdir(parents=True, exist_ok=False)
        journal = cls(run_id, folder / JOURNAL_NAME)
        journal.append({"event": "run", "run_id": run_id, **header})
        return journal

    @classmethod
    def open(cls, run_id: str) -> Journal:
        """An existing run's journal; a one-line CONFIG error when there is none."""
        path = runs_dir() / run_id / JOURNAL_NAME
        if not RUN_ID_RE.match(run_id) or not path.is_file():
            raise ConfigError(f"no run {run_id!r} in {runs_dir()}", hint="list runs with `drctl runs`")
        return cls(run_id, path)

    def append(self, record: dict[str, Any]) -> None:
        """Write one line and make it durable before returning (a crash right after loses nothing)."""
        line = json.dumps({"ts": utc_now(), **record}, default=str, sort_keys=False) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def records(self) -> list[dict[str, Any]]:
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a torn last line after a crash: everything before it stands
        return out


@dataclass(frozen=True)
class Progress:
    """What a journal says about a run: its header, finished steps with results, steps started only."""

    header: dict[str, Any]
    done: dict[str, dict[str, Any]]  # step -> its `end` record (outcome ok)
    started: set[str]  # steps with a `start` but no successful `end`
    finished: dict[str, Any] | None  # the `finish` record, if the run ended
    first_ts: str
    records: list[dict[str, Any]]


def read_progress(journal: Journal) -> Progress:
    records = journal.records()
    if not records or records[0].get("event") != "run":
        raise ConfigError(f"{journal.path}: not a drctl run journal")
    done: dict[str, dict[str, Any]] = {}
    started: set[str] = set()
    finished = None
    for r in records:
        ev, step = r.get("event"), r.get("step")
        if ev == "start" and step:
            started.add(step)
        elif ev == "end" and step:
            if r.get("outcome") == "ok":
                done[step] = r
                started.discard(step)
        elif ev == "finish":
            finished = r
        elif ev == "resume":
            finished = None
    return Progress(records[0], done, started, finished, str(records[0]["ts"]), records)


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    started: str
    from_region: str
    to_region: str
    mode: str
    outcome: str  # the last finish record's outcome, or "unfinished"


def list_runs() -> list[RunSummary]:
    """Every run journal under $DRCTL_HOME/runs, newest first (for `drctl runs` and reports)."""
    root = runs_dir()
    if not root.is_dir():
        return []
    out = []
    for folder in sorted(root.iterdir(), reverse=True):
        if not (folder / JOURNAL_NAME).is_file() or not RUN_ID_RE.match(folder.name):
            continue
        try:
            p = read_progress(Journal(folder.name, folder / JOURNAL_NAME))
        except ConfigError:
            continue
        h = p.header
        out.append(
            RunSummary(
                run_id=folder.name,
                started=p.first_ts,
                from_region=str(h.get("from_region", "")),
                to_region=str(h.get("to_region", "")),
                mode=str(h.get("mode", "")),
                outcome=str(p.finished.get("outcome")) if p.finished else "unfinished",
            )
        )
    return out
