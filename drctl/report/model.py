"""A failover run rebuilt from its journal alone: phases with start/end, RTO, RPO sample, topology before and
after, every mutating AWS call with its request id, objectives met or missed.

Times are seconds relative to the journal's first line (the run header). Nothing here reads AWS or the stack
file: an auditor can rebuild the same report from a copied journal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drctl.journal.events import NOTHING_MOVED, RunRefused, StepEnded, StepStarted
from drctl.journal.log import RunLog
from drctl.journal.phases import PHASE_ORDER as PHASES
from drctl.journal.phases import Phase, RecoveryPoint, compute_phases, operator_seconds, recovery_points

__all__ = ["NOTHING_MOVED", "PHASES", "Phase", "RunModel", "build_model", "load_model", "load_records"]

READ_PREFIXES = ("Describe", "Get", "List", "Head", "Test", "Lookup", "Query", "Scan", "Select")


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
    recovery: list[RecoveryPoint]  # milestones from drctl's start to users reaching the target, with sources
    run_s: float | None  # the run's own duration (a phase; the headline RTO is when DNS answers the target)
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
    capacity: dict[str, Any] = field(default_factory=dict)  # the capacity step's summary (see capacity_text)
    rto_end_s: float | None = None  # where the RTO clock stopped, relative to the run header
    rto_clock: str = ""  # where the RTO clock started, in words ("0.4 s before the run header (...)")
    canary: dict[str, Any] = field(default_factory=dict)  # ground truth of `failover --canary` (drctl/canary)
    only: str = ""  # `failover --only`: "database" or "traffic" ("" for both)
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
        data["phases"] = [p.to_dict() for p in self.phases]
        return data


def load_records(journal: Path) -> list[dict[str, Any]]:
    """The journal's lines as written (for tests and tools that want the raw records)."""
    return [e.to_record() for e in RunLog.read(journal).events]


def build_model(source: RunLog | list[dict[str, Any]], journal: str = "") -> RunModel:
    """Rebuild a run from its journal (the first event is the run header)."""
    log = source if isinstance(source, RunLog) else RunLog.from_records(source)
    header = log.header
    request = header.request or {}
    finish = log.finished
    report = finish.report if finish else {}
    results = log.results
    facts = _facts(log, results)
    phases = compute_phases(log)
    last_s = round((log.last_at - log.started_at).total_seconds(), 3)

    rto = _rto(log, last_s, operator_seconds(phases))
    rto_s, rto_source, rto_start_s = rto.seconds, rto.source, rto.start_s
    rpo = report.get("rpo") or {}
    rpo_s = report.get("rpo_s", rpo.get("rpo_s")) if finish else None
    model = RunModel(
        run_id=header.run_id,
        started=header.ts,
        finished=finish.ts if finish else None,
        from_region=header.from_region or str(request.get("from_region", "")),
        to_region=header.to_region or str(request.get("to_region", "")),
        mode=header.mode or str(request.get("mode", "")),
        flip_method=str(request.get("flip_method", "switch")),
        outcome=log.outcome,
        message=str(report.get("message", "")) if finish else _unfinished(log),
        attempts=log.attempts,
        phases=phases,
        rto_s=rto_s,
        rto_source=rto_source,
        rto_start_s=rto_start_s,
        recovery=recovery_points(log),
        run_s=_float(report.get("run_s")) if finish else None,
        rpo_s=None if rpo_s is None else float(rpo_s),
        rpo_source=str(rpo.get("source", "no finish record: the run did not report an RPO")),
        rpo_evidence=str(rpo.get("evidence", "")),
        rpo_estimate=bool(rpo.get("estimate", rpo_s is None)),
        rpo_sample=_rpo_sample(log),
        before=_before(facts, header.from_region, header.to_region),
        after=_after(
            results,
            header.to_region,
            _before(facts, header.from_region, header.to_region) if log.outcome in NOTHING_MOVED else None,
        ),
        calls=_mutating_calls(log),
        objectives=[],
        verification={k: v for k, v in (results.get("verify") or {}).items() if isinstance(v, dict)},
        checks=[c for c in facts.get("checks", []) if isinstance(c, dict)],
        refusals=[str(r) for r in facts.get("refusals", [])],
        warnings=list(report.get("warnings", [])),
        api_calls=len(log.calls),
        retries=sum(e.retries for e in log.of(StepEnded)),
        journal=journal or str(log.path or ""),
        capacity=_capacity(results),
        rto_end_s=rto.end_s,
        rto_clock=rto.clock,
        canary=log.canary,
        only=str(request.get("only") or ""),
    )
    model.objectives = _objectives(model, header.objectives)
    return model


def load_model(journal: Path) -> RunModel:
    return build_model(RunLog.read(journal), str(journal))


# ------------------------------------------------------------------------------------------------ parts


@dataclass(frozen=True)
class _Rto:
    seconds: float | None
    source: str
    start_s: float  # relative to the run header (< 0: drctl started before it wrote the header)
    end_s: float
    clock: str


def _rto(log: RunLog, last_s: float, operator_s: float) -> _Rto:
    """The RTO and where its clock ran, relative to the run header. The runner measures the RTO from drctl's
    process start (the header's `clock_start`) with the confirmation prompt left out, so it ends at
    start + prompt + RTO on the header's timeline."""
    finish = log.finished
    clock_start = log.header.clock_start
    start = round(clock_start - log.started_at.timestamp(), 3) if clock_start else 0.0
    prompt = f"; the confirmation prompt's {operator_s:g} s left out" if operator_s else ""
    if clock_start:
        side = "before" if start <= 0 else "after"
        clock = f"RTO clock started {abs(start):g} s {side} the run header (drctl process start){prompt}"
    else:
        clock = f"RTO clock started at the run header (this journal has no drctl process start){prompt}"
    if finish is not None and finish.report.get("rto_s") is not None:
        rto = float(finish.report["rto_s"])
        source = str(finish.report.get("rto_source", ""))
        if not clock_start:  # older journals: the RTO was the run's own duration, ending at the finish line
            end = log.rel(finish)
            start = round(end - rto, 3)
            clock = f"RTO clock start inferred as the finish line minus the RTO ({start:g} s from the run header)"
            return _Rto(rto, source, start, end, clock)
        return _Rto(rto, source, start, round(start + operator_s + rto, 3), clock)
    rto = round(last_s - start - operator_s, 3)
    source = (
        "estimate: from drctl's start to the journal's last line (the run did not finish)"
        if clock_start
        else "estimate: journal timestamps from the run header to its last line (the run did not finish)"
    )
    return _Rto(rto, source, start, last_s, clock)


def _capacity(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The summary journaled by the last capacity step (after the flip in unplanned mode)."""
    for step in ("capacity_after_flip", "capacity"):
        found = (results.get(step) or {}).get("summary")
        if isinstance(found, dict):
            return found
    return {}


def capacity_text(m: RunModel) -> str:
    """One line: healthy targets when traffic moved and at the end, against what was wanted ('' if unknown)."""
    c = m.capacity
    if not c:
        return ""
    short = "" if c.get("reached") else " — short of the wanted capacity"
    return (
        f"{c.get('healthy_at_flip')} of {c.get('wanted')} wanted healthy targets when traffic moved, "
        f"{c.get('healthy_at_end')} at the end{short} ({c.get('rule', '')})"
    )


def _rpo_sample(log: RunLog) -> RpoSample | None:
    ends = [e for e in log.of(StepEnded) if e.step == "sample_rpo" and e.outcome == "ok"]
    if not ends:
        return None
    lag = (ends[-1].result or {}).get("lag")
    if not lag:
        return None
    return RpoSample(
        at_s=log.rel(ends[-1]),
        value_ms=float(lag.get("value_ms", 0.0)),
        metric=str(lag.get("metric", "")),
        cluster_id=str(lag.get("cluster_id", "")),
        region=str(lag.get("region", "")),
        timestamp=str(lag.get("timestamp", "")),
        age_s=float(lag.get("age_s", 0.0)),
    )


def _facts(log: RunLog, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What preflight found: its step result, or the facts journaled with a refusal."""
    facts = (results.get("preflight") or {}).get("facts")
    if facts is None:
        refused = log.of(RunRefused)
        facts = refused[-1].facts if refused else None
    return facts if isinstance(facts, dict) else {}


def _before(facts: dict[str, Any], source: str, target: str) -> Topology:
    writer = facts.get("writer_region")
    writer_source = (
        f"DescribeGlobalClusters in {target} at preflight"
        if writer
        else "unknown: the global cluster was not readable at preflight"
    )
    return Topology(writer, writer_source, source, "inferred: the run moves traffic away from its source region")


def _after(results: dict[str, dict[str, Any]], target: str, unchanged: Topology | None) -> Topology:
    if unchanged is not None:
        why = "unchanged: the run changed nothing"
        return Topology(unchanged.writer, why, unchanged.serving, why)
    verify = results.get("verify") or {}
    if isinstance(verify.get("writer"), str):  # a rejoin's verify: the re-formed global database, read back
        why = f"DescribeGlobalClusters in {target} at verification (rejoin)"
        return Topology(str(verify["writer"]), why, None, "not changed: a rejoin moves no traffic")
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


def _mutating_calls(log: RunLog) -> list[Call]:
    out: list[Call] = []
    seen: set[str] = set()
    sent_at = {e.request_id: log.rel(e) for e in log.sent if e.request_id}
    for e in log.of(StepEnded):
        at_end = log.rel(e)
        for c in e.calls:
            op = str(c.get("operation", ""))
            if op.startswith(READ_PREFIXES):
                continue
            rid = str(c.get("request_id", ""))
            seen.add(rid)
            out.append(
                Call(
                    at_s=sent_at.get(rid, at_end),
                    step=e.step,
                    service=str(c.get("service", "")),
                    operation=op,
                    region=str(c.get("region", "")),
                    request_id=rid,
                    status=c.get("status"),
                    error=str(c.get("error", "")),
                )
            )
    for sent in log.sent:  # a promotion sent by a process that died before its step's end line
        if sent.request_id and sent.request_id not in seen:
            out.append(Call(log.rel(sent), sent.step, "rds", sent.operation, "", sent.request_id, None))
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


def _unfinished(log: RunLog) -> str:
    started = [e.step for e in log.of(StepStarted)]
    last = started[-1] if started else "lock"
    return f"no finish record (last step started: {last}); `drctl failover --resume` continues the run"
