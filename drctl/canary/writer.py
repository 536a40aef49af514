"""The canary writer: one numbered, timestamped row per transaction (autocommit), at a steady rate.

Every acknowledged commit is appended to `acks.jsonl` in the canary's folder and fsynced before the next one is
sent; an attempt whose acknowledgement was not seen is recorded as a failure and never counted (it may or may
not have committed: the check reports such rows apart). A sequence number is never reused. When the connection
breaks the writer reconnects, trying its endpoints in turn, to the first that accepts writes.

Clocks: `t` and `sent` are this machine's wall clock (time.time()) at acknowledgement and at sending; the pace is
kept on the monotonic clock.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drctl.canary import db
from drctl.canary.db import Credentials, Endpoint
from drctl.errors import ConfigError, DrctlError

ACKS = "acks.jsonl"
META = "canary.json"
RESULT = "canary-check.json"
DEFAULT_RATE = 20.0
MAX_RATE = 1000.0
RECONNECT_EVERY_S = 0.25


def canary_home() -> Path:
    from drctl.stack import drctl_home

    return drctl_home() / "canary"


def folder_for(run_id: str) -> Path:
    """A standalone canary's folder ($DRCTL_HOME/canary/RUN_ID), or a failover run's (runs/RUN_ID/canary)."""
    from drctl.journal.log import RUN_ID_RE, runs_dir

    if not RUN_ID_RE.match(run_id):
        raise ConfigError(f"{run_id!r} is not a run id", hint="e.g. 20261202T190000Z-ab12; see `drctl runs`")
    for folder in (canary_home() / run_id, runs_dir() / run_id / "canary"):
        if (folder / META).is_file():
            return folder
    raise ConfigError(
        f"no canary for run {run_id!r}", hint=f"canary runs live in {canary_home()} and runs/RUN_ID/canary"
    )


@dataclass
class Stats:
    acked: int = 0
    failed: int = 0
    reconnects: int = 0
    started: float = 0.0  # wall clock
    ended: float = 0.0
    first_error: str = ""

    @property
    def rate_achieved(self) -> float:
        span = self.ended - self.started
        return self.acked / span if span > 0 else 0.0


@dataclass
class Writer:
    folder: Path
    run_id: str
    endpoints: Sequence[Endpoint]
    database: str
    creds: Credentials = field(repr=False)
    rate: float = DEFAULT_RATE
    stats: Stats = field(default_factory=Stats)

    def __post_init__(self) -> None:
        if not 0 < self.rate <= MAX_RATE:
            raise ConfigError(f"canary rate must be above 0 and at most {MAX_RATE:g}/s, got {self.rate:g}")
        if not self.endpoints:
            raise ConfigError("the canary has no endpoint", hint="pass --endpoint or set [canary] in the stack")
        self._conn: Any = None
        self._current = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log: Any = None
        self._seq = 0

    # ------------------------------------------------------------------ lifecycle

    def open(self, conn: Any = None) -> None:
        """Connect to the first writable endpoint and create the table (or take `conn`, from probe()); a
        one-line typed error, and nothing written locally, when none will do."""
        self._conn = conn if conn is not None else self._connect(raise_errors=True)

    def _open_record(self) -> None:
        """The canary's folder, its meta file (no secret in it) and the ack log, opened for appending."""
        if self._log is not None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "run_id": self.run_id,
            "endpoints": [str(e) for e in self.endpoints],
            "name_servers": sorted({ns for e in self.endpoints for ns in e.name_servers}),
            "database": self.database,
            "user": self.creds.user,
            "credentials": self.creds.source,
            "table": db.TABLE,
            "rate_per_s": self.rate,
            "clock": "wall clock of the machine running drctl (time.time), at acknowledgement",
        }
        (self.folder / META).write_text(json.dumps(meta, indent=2) + "\n")
        self._log = open(self.folder / ACKS, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def start(self, duration_s: float | None = None) -> None:
        """Run in a background thread (open() first) until stop() or duration_s."""
        self._open_record()
        self._thread = threading.Thread(target=self.run, args=(duration_s,), name="drctl-canary", daemon=True)
        self._thread.start()

    def stop(self) -> Stats:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=db.CONNECT_TIMEOUT_S * len(self.endpoints) + 10)
        return self.stats

    # ------------------------------------------------------------------ the loop

    def run(self, duration_s: float | None = None, on_tick: Callable[[Stats], None] | None = None) -> Stats:
        self._open_record()
        interval = 1.0 / self.rate
        start = time.monotonic()
        deadline = start + duration_s if duration_s is not None else None
        next_at = start
        self.stats.started = time.time()
        last_connect_try = 0.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                if now < next_at:
                    self._stop.wait(min(next_at, deadline or next_at) - now)
                    continue
                next_at = max(next_at + interval, now - interval)  # steady pace; no burst after a stall
                if self._conn is None:
                    if now - last_connect_try < RECONNECT_EVERY_S:
                        continue
                    last_connect_try = now
                    self._conn = self._connect(raise_errors=False)
                    if self._conn is None:
                        continue
                self._insert_one()
                if on_tick is not None:
                    on_tick(self.stats)
        finally:
            self.stats.ended = time.time()
            if self._log is not None:
                self._log.flush()
        return self.stats

    def _insert_one(self) -> None:
        self._seq += 1
        seq = self._seq
        sent = time.time()
        try:
            self._conn.execute(db.INSERT, (self.run_id, seq, datetime.fromtimestamp(sent, UTC)))
        except Exception as e:  # no acknowledgement seen: not counted, whatever the server did
            self._record({"k": "fail", "seq": seq, "t": round(time.time(), 6), "error": _line(e)})
            self.stats.failed += 1
            self.stats.first_error = self.stats.first_error or _line(e)
            self._drop()
            return
        ack = time.time()
        self._record({"k": "ack", "seq": seq, "t": round(ack, 6), "sent": round(sent, 6)})
        self.stats.acked += 1

    def _connect(self, *, raise_errors: bool) -> Any:
        """The first writable endpoint, starting with the last good one."""
        n = len(self.endpoints)
        last: DrctlError | None = None
        for i in range(n):
            idx = (self._current + i) % n
            ep = self.endpoints[idx]
            try:
                conn = db.open_writer(ep, self.database, self.creds)
            except DrctlError as e:
                last = e
                continue
            except Exception as e:  # a server that answers oddly: a break like any other
                last = DrctlError(_line(e))
                continue
            if self._log is not None:
                self._record({"k": "connected", "endpoint": str(ep), "t": round(time.time(), 6)})
                self.stats.reconnects += 1
            self._current = idx
            return conn
        assert last is not None
        if raise_errors:
            raise last
        self._record({"k": "down", "t": round(time.time(), 6), "error": last.message})
        return None

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _record(self, entry: dict[str, Any]) -> None:
        self._log.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self._log.flush()
        os.fsync(self._log.fileno())


def probe(endpoints: Sequence[Endpoint], database: str, creds: Credentials) -> tuple[Any, Endpoint]:
    """Before a failover: a connection to the first writable endpoint with the table in place, or the last
    endpoint's one-line typed error. Nothing is written locally."""
    last: DrctlError | None = None
    for ep in endpoints:
        try:
            return db.open_writer(ep, database, creds), ep
        except DrctlError as e:
            last = e
    if last is None:
        raise ConfigError("the canary has no endpoint", hint="set [canary] endpoints in the stack file")
    raise last


def _line(e: Exception) -> str:
    text = getattr(e, "message", None) or str(e) or type(e).__name__
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return (lines[0] if lines else type(e).__name__)[:300]
