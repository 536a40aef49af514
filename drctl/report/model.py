"""A failover run rebuilt from its journal alone: phases with start/end, RTO, RPO sample, topology before and
after, every mutating AWS call with its request id, objectives met or missed.

Times are seconds relative to the journal's first line (the run header). Nothing here reads AWS or the stack
file: an auditor can rebuild the same report from a copied journal.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from drctl.errors import ConfigError
from drctl.failover.phases import PHASE_OF
from drctl.failover.phases import PHASE_ORDER as PHASES

NOTHING_MOVED = ("no-op", "refused", "aborted", "locked")  # outcomes where nothing was changed
READ_PREFIXES = ("Describe", "Get", "List", "Head", "Test", "Lookup", "Query", "Scan", "Select")


@dataclass(frozen=True)
class Phase:
    name: str
    start_s: float  # relative to the run header
    end_s: float
    steps: list[str]
    outcome: str  # ok, or the worst outcome of its steps (failed, refused, interrupted, error, unfinished)

    @property
    def seconds(self) -> float:
        return round(self.end_s - self.start_s, 3)


@dataclass(frozen=True)
class RpoSample:
    at_s: float  # when drctl read it, relative to the run header
    value_ms: float
    metric: str
    cluster_id: str
    region: str
    timestamp: str  # the CloudWatch datapoint's own time
    age_s: float


@dataclass(frozen=True)
class Topology:
    writer: str | None
    writer_source: str
    serving: str | None
    serving_source: str


@dataclass(frozen=True)
class Call:
    """A mutating AWS call as the journal recorded it."""

    at_s: float
    step: str
    service: str
    operation: str
    region: str
    request_id: str
    status: int | None
    error: str = ""


@dataclass(frozen=True)
class Objective:
    name: str  # RTO | RPO
    objective_s: float | None
    measured_s: float | None
    verdict: str  # met | missed | unknown | not applicable
    detail: str


@dataclass
class RunModel:
    run_id: str
    started: str
    finished: str | None
    from_region: str
    to_region: str
    mode: str
    flip_method: str
    outcome: str
    message: str
    attempts: int
    phases: list[Phase]
    rto_s: float | None
    rto_source: str
    rto_start_s: float | None  # where the RTO clock started, relative to the run header (may be < 0)
    rpo_s: float | None
    rpo_source: str
    rpo_evidence: str
    rpo_estimate: bool
    rpo_sample: RpoSample | None
    before: Topology
    after: Topology
    calls: list[Call]
    objectives: list[Objective]
    verification: dict[str, dict[str, Any]]
    checks: list[dict[str, Any]]  # preflight checks: name, ok (True/False/None), detail
    refusals: list[str]
    warnings: list[str]
    api_calls: int
    retries: int
    journal: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def moved(self) -> bool:
        """False when the run changed nothing (no-op, refused, aborted, locked): RTO does not apply."""
        return self.outcome not in NOTHING_MOVED

    @property
    def end_s(self) -> float:
        """The last moment the journal knows of, relative to the run header."""
        ends = [p.end_s for p in self.phases]
        return max([*ends, 0.0])

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        for p, phase in zip(data["phases"], self.phases, strict=True):
            p["seconds"] = phase.seconds
        return data


def load_records(journal: Path) -> list[dict[str, Any]]:
    """The journal's lines; a torn last line (crash while writing) ends the list, like the runner reads it."""
    if not journal.is_file():
        raise ConfigError(f"no journal at {journal}", hint="list runs with `drctl runs`")
    out: list[dict[str, Any]] = []
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break
    if not out or out[0].get("event") != "run":
        raise ConfigError(f"{journal}: not a drctl run journal")
    return out


def build_model(records: list[dict[str, Any]], journal: str = "") -> RunModel:
    """Rebuild a run from its journal records (the first one is the run header)."""
    header = records[0]
    t0 = _ts(header["ts"])
    request = header.get("request") or {}
    finish = next((r for r in reversed(records) if r.get("event") == "finish"), None)
    resumed_after_finish = finish is not None and any(
        r.get("event") == "resume" for r in records[records.index(finish) :]
    )
    if resumed_after_finish:
        finish = None
    report = (finish or {}).get("report") or {}
    results = _results(records)
    facts = _facts(records, results)
    phases = _phases(records, t0)
    last_s = max([p.end_s for p in phases] + [_rel(r["ts"], t0) for r in records if "ts" in r])

    rto_s, rto_source, rto_start_s = _rto(report, finish, t0, last_s)
    rpo = report.get("rpo") or {}
    rpo_s = report.get("rpo_s", rpo.get("rpo_s")) if finish else None
    model = RunModel(
        run_id=str(header.get("run_id", "")),
        started=str(header["ts"]),
        finished=str(finish["ts"]) if finish else None,
        from_region=str(header.get("from_region") or request.get("from_region", "")),
        to_region=str(header.get("to_region") or request.get("to_region", "")),
        mode=str(header.get("mode") or request.get("mode", "")),
        flip_method=str(request.get("flip_method", "switch")),
        outcome=str(finish.get("outcome")) if finish else "unfinished",
        message=str(report.get("message", "")) if finish else _unfinished(records),
        attempts=1 + sum(1 for r in records if r.get("event") == "resume"),
        phases=phases,
        rto_s=rto_s,
        rto_source=rto_source,
        rto_start_s=rto_start_s,
        rpo_s=None if rpo_s is None else float(rpo_s),
        rpo_source=str(rpo.get("source", "no finish record: the run did not report an RPO")),
        rpo_evidence=str(rpo.get("evidence", "")),
        rpo_estimate=bool(rpo.get("estimate", rpo_s is None)),
        rpo_sample=_rpo_sample(records, t0),
        before=_before(facts, header),
        after=_after(
            results, header, _before(facts, header) if finish and finish.get("outcome") in NOTHING_MOVED else None
        ),
        calls=_mutating_calls(records, t0),
        objectives=[],
        verification={k: v for k, v in (results.get("verify") or {}).items() if isinstance(v, dict)},
        checks=[c for c in facts.get("checks", []) if isinstance(c, dict)],
        refusals=[str(r) for r in facts.get("refusals", [])],
        warnings=list(report.get("warnings", [])),
        api_calls=sum(len(r.get("calls", [])) for r in records if r.get("event") == "end"),
        retries=sum(int(r.get("retries", 0)) for r in records if r.get("event") == "end"),
        journal=journal,
    )
    model.objectives = _objectives(model, header.get("objectives"))
    return model


def load_model(journal: Path) -> RunModel:
    return build_model(load_records(journal), str(journal))


# ------------------------------------------------------------------------------------------------ parts


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _rel(value: str, t0: datetime) -> float:
    return round((_ts(value) - t0).total_seconds(), 3)


def _results(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each step's result from its last successful `end` record."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.get("event") == "end" and r.get("outcome") == "ok" and r.get("step"):
            out[str(r["step"])] = r.get("result") or {}
    return out


def _phases(records: list[dict[str, Any]], t0: datetime) -> list[Phase]:
    spans: dict[str, list[float]] = {}
    steps: dict[str, list[str]] = {}
    outcomes: dict[str, str] = {}
    open_steps: dict[str, float] = {}
    for r in records:
        ev, step = r.get("event"), str(r.get("step", ""))
        if not step or ev not in ("start", "end"):
            continue
        phase = PHASE_OF.get(step, step)
        at = _rel(r["ts"], t0)
        if ev == "start":
            open_steps[step] = at
        else:
            open_steps.pop(step, None)
            start = at - float(r.get("elapsed_s", 0.0))
            outcomes[phase] = _worse(outcomes.get(phase, "ok"), str(r.get("outcome", "ok")))
            spans.setdefault(phase, []).extend([round(start, 3), at])
        if step not in steps.setdefault(phase, []):
            steps[phase].append(step)
        if ev == "start":
            spans.setdefault(phase, []).append(at)
    last = max((_rel(r["ts"], t0) for r in records), default=0.0)
    for step, started in open_steps.items():  # started, never ended: the run stopped inside it
        phase = PHASE_OF.get(step, step)
        spans[phase].extend([started, last])
        outcomes[phase] = _worse(outcomes.get(phase, "ok"), "unfinished")
    order = [p for p in PHASES if p in spans] + [p for p in spans if p not in PHASES]
    return [Phase(p, min(spans[p]), max(spans[p]), steps[p], outcomes.get(p, "unfinished")) for p in order]


_SEVERITY = ("ok", "unfinished", "interrupted", "refused", "failed", "error")


def _worse(a: str, b: str) -> str:
    rank = {name: i for i, name in enumerate(_SEVERITY)}
    return a if rank.get(a, len(_SEVERITY)) >= rank.get(b, len(_SEVERITY)) else b


def _rto(
    report: dict[str, Any], finish: dict[str, Any] | None, t0: datetime, last_s: float
) -> tuple[float | None, str, float | None]:
    if finish is not None and report.get("rto_s") is not None:
        rto = float(report["rto_s"])
        end = _rel(finish["ts"], t0)
        return rto, str(report.get("rto_source", "")), round(end - rto, 3)
    return (
        round(last_s, 3),
        "estimate: journal timestamps from the run header to its last line (the run did not finish)",
        0.0,
    )


def _rpo_sample(records: list[dict[str, Any]], t0: datetime) -> RpoSample | None:
    for r in reversed(records):
        if r.get("event") == "end" and r.get("step") == "sample_rpo" and r.get("outcome") == "ok":
            lag = (r.get("result") or {}).get("lag")
            if not lag:
                return None
            return RpoSample(
                at_s=_rel(r["ts"], t0),
                value_ms=float(lag.get("value_ms", 0.0)),
                metric=str(lag.get("metric", "")),
                cluster_id=str(lag.get("cluster_id", "")),
                region=str(lag.get("region", "")),
                timestamp=str(lag.get("timestamp", "")),
                age_s=float(lag.get("age_s", 0.0)),
            )
    return None


def _facts(records: list[dict[str, Any]], results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What preflight found: its step result, or the facts journaled with a refusal."""
    facts = (results.get("preflight") or {}).get("facts")
    if facts is None:
        refused = [r for r in records if r.get("event") == "refused"]
        facts = refused[-1].get("facts") if refused else None
    return facts if isinstance(facts, dict) else {}


def _before(facts: dict[str, Any], header: dict[str, Any]) -> Topology:
    target = str(header.get("to_region", ""))
    writer = facts.get("writer_region")
    writer_source = (
        f"DescribeGlobalClusters in {target} at preflight"
        if writer
        else "unknown: the global cluster was not readable at preflight"
    )
    source = str(header.get("from_region", ""))
    return Topology(writer, writer_source, source, "inferred: the run moves traffic away from its source region")


def _after(results: dict[str, dict[str, Any]], header: dict[str, Any], unchanged: Topology | None) -> Topology:
    if unchanged is not None:
        why = "unchanged: the run changed nothing"
        return Topology(unchanged.writer, why, unchanged.serving, why)
    target = str(header.get("to_region", ""))
    verify = results.get("verify") or {}
    promote = results.get("promote") or {}
    state = (verify.get("writer") or {}).get("state") or promote.get("after") or {}
    if promote.get("detached"):
        writer, writer_source = target, "detached and promoted: the target stands alone and writes"
    elif state.get("writer_region"):
        where = "verification" if verify else "promotion"
        writer, writer_source = str(state["writer_region"]), f"DescribeGlobalClusters in {target} at {where}"
    else:
        writer, writer_source = None, "not read: the run did not reach promotion"
    traffic = verify.get("traffic") or {}
    verdict = traffic.get("verdict")
    if verdict == "verified":
        serving, serving_source = traffic.get("serving"), f"verified: {traffic.get('detail', '')}"
    elif verdict == "switch-thrown":
        serving, serving_source = target, f"switch thrown (Route53 not read): {traffic.get('detail', '')}"
    else:
        serving, serving_source = None, f"{verdict or 'not verified'}: {traffic.get('detail', '')}".rstrip(": ")
    return Topology(writer, writer_source, None if serving is None else str(serving), serving_source)


def _mutating_calls(records: list[dict[str, Any]], t0: datetime) -> list[Call]:
    out: list[Call] = []
    seen: set[str] = set()
    sent_at = {
        str(r.get("request_id")): _rel(r["ts"], t0)
        for r in records
        if r.get("event") == "sent" and r.get("request_id")
    }
    for r in records:
        if r.get("event") != "end":
            continue
        at_end = _rel(r["ts"], t0)
        for c in r.get("calls", []):
            op = str(c.get("operation", ""))
            if op.startswith(READ_PREFIXES):
                continue
            rid = str(c.get("request_id", ""))
            seen.add(rid)
            out.append(
                Call(
                    at_s=sent_at.get(rid, at_end),
                    step=str(r.get("step", "")),
                    service=str(c.get("service", "")),
                    operation=op,
                    region=str(c.get("region", "")),
                    request_id=rid,
                    status=c.get("status"),
                    error=str(c.get("error", "")),
                )
            )
    for r in records:  # a promotion sent by a process that died before its step's `end` line
        rid = str(r.get("request_id", ""))
        if r.get("event") == "sent" and rid and rid not in seen:
            out.append(
                Call(_rel(r["ts"], t0), str(r.get("step", "")), "rds", str(r.get("operation", "")), "", rid, None)
            )
    return sorted(out, key=lambda c: c.at_s)


def _objectives(model: RunModel, objectives: Any) -> list[Objective]:
    if not isinstance(objectives, dict):
        why = "the journal does not record the stack's objectives"
        return [
            Objective("RTO", None, model.rto_s, "unknown", why),
            Objective("RPO", None, model.rpo_s, "unknown", why),
        ]
    rto_obj = _float(objectives.get("rto_s"))
    rpo_obj = _float(objectives.get("rpo_s"))
    if model.outcome in NOTHING_MOVED:
        why = f"run {model.outcome}: nothing failed over"
        return [
            Objective("RTO", rto_obj, None, "not applicable", why),
            Objective("RPO", rpo_obj, None, "not applicable", why),
        ]
    return [_rto_objective(model, rto_obj), _rpo_objective(model, rpo_obj)]


def _rto_objective(model: RunModel, objective: float | None) -> Objective:
    if objective is None or model.rto_s is None:
        return Objective("RTO", objective, model.rto_s, "unknown", "no objective or no measurement")
    if model.outcome != "completed":
        return Objective("RTO", objective, model.rto_s, "missed", f"the run is {model.outcome}: not recovered")
    ok = model.rto_s <= objective
    return Objective(
        "RTO", objective, model.rto_s, "met" if ok else "missed", f"{model.rto_s:g} s vs objective {objective:g} s"
    )


def _rpo_objective(model: RunModel, objective: float | None) -> Objective:
    if objective is None or model.rpo_s is None:
        return Objective("RPO", objective, model.rpo_s, "unknown", model.rpo_source)
    ok = model.rpo_s <= objective
    label = " (estimate)" if model.rpo_estimate else ""
    return Objective(
        "RPO",
        objective,
        model.rpo_s,
        "met" if ok else "missed",
        f"{model.rpo_s:g} s{label} vs objective {objective:g} s",
    )


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _unfinished(records: list[dict[str, Any]]) -> str:
    started = [str(r.get("step")) for r in records if r.get("event") == "start"]
    last = started[-1] if started else "lock"
    return f"no finish record (last step started: {last}); `drctl failover --resume` continues the run"
