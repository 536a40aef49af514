"""Reading the canary back: ground-truth RPO and write outage, from the local ack log and the current writer.

- RPO (measured): acknowledged commits (in acks.jsonl) whose row the current writer does not have: count, first
  and last sequence number, and the window between their acknowledgements (local wall clock).
- Write outage (measured): for each break (a failed insert, or a failed connection), the last acknowledged commit
  before it -> the first acknowledged commit after it, on the local wall clock. A break that never ended by the
  end of the run has no end.
Rows the writer has whose commit was never acknowledged (the answer was lost) are reported apart, not counted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drctl.canary import db
from drctl.canary.db import Credentials, Endpoint
from drctl.canary.writer import ACKS, META, RESULT
from drctl.errors import ConfigError, DrctlError, Unreachable

SOURCE_RPO = "canary, measured: acknowledged commits missing on the current writer (ack times: local wall clock)"
SOURCE_OUTAGE = "canary, measured: last acknowledged commit before a break -> first after it (local wall clock)"


@dataclass(frozen=True)
class Outage:
    from_seq: int | None  # the last acknowledged commit before the break (None: the break came first)
    from_t: float
    to_seq: int | None  # the first acknowledged commit after it (None: not recovered by the end of the run)
    to_t: float | None
    failed_attempts: int
    first_error: str

    @property
    def duration_s(self) -> float | None:
        return None if self.to_t is None else round(self.to_t - self.from_t, 3)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["duration_s"] = self.duration_s
        d["from"], d["to"] = _iso(self.from_t), _iso(self.to_t)
        return d


@dataclass(frozen=True)
class CheckResult:
    run_id: str
    read_from: str  # endpoint the rows were read from
    acked: int
    failed_attempts: int  # inserts sent whose acknowledgement was not seen
    missing: int
    first_missing_seq: int | None
    last_missing_seq: int | None
    missing_window_s: float | None  # between the first and last missing acknowledgements
    missing_from_t: float | None
    missing_to_t: float | None
    unacked_present: int  # attempts without a seen acknowledgement that committed anyway (not counted)
    outages: tuple[Outage, ...] = field(default=())
    checked_at: float = 0.0
    check_s: float = 0.0
    first_ack_t: float | None = None
    last_ack_t: float | None = None

    @property
    def longest_outage_s(self) -> float | None:
        ends = [o.duration_s for o in self.outages if o.duration_s is not None]
        return max(ends) if ends else None

    @property
    def open_outage(self) -> bool:
        return any(o.to_t is None for o in self.outages)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outages"] = [o.to_dict() for o in self.outages]
        d["longest_outage_s"] = self.longest_outage_s
        d["rate_achieved_per_s"] = self.rate_achieved
        d["sources"] = {"rpo": SOURCE_RPO, "write_outage": SOURCE_OUTAGE}
        for k in ("missing_from_t", "missing_to_t", "checked_at", "first_ack_t", "last_ack_t"):
            d[k.removesuffix("_t") + ("" if k == "checked_at" else "_at")] = _iso(d.pop(k))
        return d

    @property
    def rate_achieved(self) -> float | None:
        """Acknowledged commits per second between the first and last acknowledgement, breaks excluded."""
        if self.first_ack_t is None or self.last_ack_t is None or self.last_ack_t <= self.first_ack_t:
            return None
        span = self.last_ack_t - self.first_ack_t - sum(o.duration_s or 0.0 for o in self.outages)
        return round((self.acked - 1 - len(self.outages)) / span, 2) if span > 0 else None

    def rpo_line(self) -> str:
        return rpo_text(self.to_dict())

    def outage_line(self) -> str:
        return outage_text(self.to_dict())


def rpo_text(d: dict[str, Any]) -> str:
    """ "RPO (canary, measured): N of M acknowledged transactions lost, window X s" from a result's dict."""
    if d.get("error"):
        return f"RPO (canary, measured): unknown — the read-back failed: {d['error']}"
    n, acked = d.get("missing", 0), d.get("acked", 0)
    if not n:
        return f"RPO (canary, measured): 0 of {acked} acknowledged transactions lost"
    return (
        f"RPO (canary, measured): {n} of {acked} acknowledged transactions lost, window "
        f"{d.get('missing_window_s', 0):.3f} s (seq {d.get('first_missing_seq')}-{d.get('last_missing_seq')}, "
        "acknowledgement times, local wall clock)"
    )


def outage_text(d: dict[str, Any]) -> str:
    """ "write outage (canary, measured): X s" (the longest break) from a result's dict."""
    outages = [o for o in d.get("outages") or [] if isinstance(o, dict)]
    if d.get("error") and not outages:
        return "write outage (canary, measured): unknown — the read-back failed"
    if not outages:
        return "write outage (canary, measured): none — every attempt was acknowledged"
    if any(o.get("duration_s") is None for o in outages):
        return "write outage (canary, measured): writes had not resumed by the end of the canary"
    longest = max(float(o["duration_s"]) for o in outages)
    more = f", the longest of {len(outages)} breaks" if len(outages) > 1 else ""
    return (
        f"write outage (canary, measured): {longest:.3f} s{more} — last acknowledged commit before the break "
        "to the first after it, local wall clock"
    )


def read_log(folder: Path) -> list[dict[str, Any]]:
    """acks.jsonl; a torn last line (a crash while writing) ends it."""
    entries: list[dict[str, Any]] = []
    path = folder / ACKS
    if not path.is_file():
        return entries
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            break
    return entries


def read_meta(folder: Path) -> dict[str, Any]:
    try:
        meta: dict[str, Any] = json.loads((folder / META).read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"canary record {folder / META} unreadable: {e}") from None
    return meta


def analyse(run_id: str, entries: Sequence[dict[str, Any]], present: Iterable[int], read_from: str) -> CheckResult:
    """Pure: the ground truth from the ack log and the sequence numbers the writer has."""
    have = set(present)
    acks = {int(e["seq"]): float(e["t"]) for e in entries if e.get("k") == "ack"}
    fails = {int(e["seq"]) for e in entries if e.get("k") == "fail"}
    missing = sorted(s for s in acks if s not in have)
    times = [acks[s] for s in missing]
    outages: list[Outage] = []
    last_ack: tuple[int, float] | None = None
    open_break: dict[str, Any] | None = None
    start_t = next((float(e["t"]) for e in entries if "t" in e), 0.0)
    for e in entries:
        k = e.get("k")
        if k == "ack":
            if open_break is not None:
                outages.append(Outage(to_seq=int(e["seq"]), to_t=float(e["t"]), **open_break))
                open_break = None
            last_ack = (int(e["seq"]), float(e["t"]))
        elif k in ("fail", "down"):
            if open_break is None:
                open_break = {
                    "from_seq": last_ack[0] if last_ack else None,
                    "from_t": last_ack[1] if last_ack else start_t,
                    "failed_attempts": 0,
                    "first_error": str(e.get("error", "")),
                }
            open_break["failed_attempts"] += 1
    if open_break is not None:
        outages.append(Outage(to_seq=None, to_t=None, **open_break))
    ack_times = sorted(acks.values())
    return CheckResult(
        run_id=run_id,
        read_from=read_from,
        acked=len(acks),
        failed_attempts=len(fails),
        missing=len(missing),
        first_missing_seq=missing[0] if missing else None,
        last_missing_seq=missing[-1] if missing else None,
        missing_window_s=round(max(times) - min(times), 3) if times else None,
        missing_from_t=min(times) if times else None,
        missing_to_t=max(times) if times else None,
        unacked_present=len(fails & have),
        outages=tuple(outages),
        checked_at=time.time(),
        first_ack_t=ack_times[0] if ack_times else None,
        last_ack_t=ack_times[-1] if ack_times else None,
    )


def read_back(
    endpoints: Sequence[Endpoint], database: str, creds: Credentials, run_id: str
) -> tuple[list[int], str]:
    """The run's sequence numbers on the current writer (the first writable endpoint), and its endpoint."""
    import psycopg

    errors: list[DrctlError] = []
    for ep in endpoints:
        try:
            conn = db.connect(ep, database, creds)
        except DrctlError as e:
            errors.append(e)
            continue
        try:
            if len(endpoints) > 1 and db.read_only(conn):
                errors.append(Unreachable(f"{ep} is read-only (not the writer)"))
                continue
            if db.table_shape(conn) != db.SHAPE:
                raise ConfigError(f"{ep}: no canary table {db.TABLE} of drctl's shape to read back")
            rows = conn.execute(db.SELECT_SEQS, (run_id,)).fetchall()
            return [int(r[0]) for r in rows], str(ep)
        except psycopg.Error as e:
            errors.append(db.connect_error(ep, database, creds, e))
        finally:
            conn.close()
    if len(errors) == 1:
        raise errors[0]
    raise Unreachable(
        "no writer to read the canary back from: " + "; ".join(e.message for e in errors),
        hint="check again when a writer answers: `drctl canary check --run RUN_ID`",
    )


def check(folder: Path, endpoints: Sequence[Endpoint], database: str, creds: Credentials) -> CheckResult:
    """Read back, analyse, and keep the result beside the ack log (canary-check.json)."""
    started = time.monotonic()
    meta = read_meta(folder)
    run_id = str(meta["run_id"])
    entries = read_log(folder)
    present, read_from = read_back(endpoints, database, creds, run_id)
    result = analyse(run_id, entries, present, read_from)
    result = _with_check_s(result, time.monotonic() - started)
    (folder / RESULT).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return result


def _with_check_s(r: CheckResult, s: float) -> CheckResult:
    from dataclasses import replace

    return replace(r, check_s=round(s, 3))


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")
