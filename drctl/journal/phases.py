"""The phases of a run, computed once from its journal: for the RTO split, `failover --json`, reports and
the demo alike.

A step's interval is [its end - its own elapsed time, its end]; a step that started and never ended runs to
the journal's last line. A phase's time is the union of its steps' intervals (so a prompt between two
preflight steps is not preflight time). Capacity and promotion run side by side; the confirmation prompt is
the operator's time, not AWS's, and is left out of the critical path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from drctl.journal.events import STEP_OUTCOMES, Milestone, StepEnded, StepStarted
from drctl.journal.log import RunLog

PHASE_OF = {
    "lock": "preflight",
    "preflight": "preflight",
    "confirm": "confirmation",
    "sample_rpo": "preflight",
    "keep_snapshots": "preflight",
    "keep_snapshot": "after recovery",
    "capacity": "capacity",
    "capacity_after_flip": "capacity after flip",
    "promote": "promotion",
    "flip": "traffic flip",
    "verify": "verification",
}
PHASE_ORDER = (
    "preflight",
    "confirmation",
    "capacity",
    "promotion",
    "traffic flip",
    "verification",
    "capacity after flip",
    "after recovery",
)
OPERATOR_PHASES = ("confirmation",)


@dataclass(frozen=True)
class Phase:
    name: str
    start_s: float  # relative to the run header
    end_s: float
    seconds: float  # the union of its steps' intervals (≤ end_s - start_s)
    steps: tuple[str, ...]
    outcome: str  # ok, or the worst outcome of its steps

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["steps"] = list(self.steps)
        return d


def compute_phases(log: RunLog) -> list[Phase]:
    intervals: dict[str, list[tuple[float, float]]] = {}
    outcomes: dict[str, str] = {}
    steps: dict[str, list[str]] = {}
    open_at: dict[str, float] = {}
    for e in log.events:
        if isinstance(e, StepStarted):
            open_at[e.step] = log.rel(e)
            steps.setdefault(PHASE_OF.get(e.step, e.step), [])
            if e.step not in steps[PHASE_OF.get(e.step, e.step)]:
                steps[PHASE_OF.get(e.step, e.step)].append(e.step)
        elif isinstance(e, StepEnded):
            phase = PHASE_OF.get(e.step, e.step)
            end = log.rel(e)
            open_at.pop(e.step, None)
            intervals.setdefault(phase, []).append((round(end - float(e.elapsed_s), 3), end))
            outcomes[phase] = _worse(outcomes.get(phase, "ok"), e.outcome)
            if e.step not in steps.setdefault(phase, []):
                steps[phase].append(e.step)
    last = round((log.last_at - log.started_at).total_seconds(), 3)
    for step, started in open_at.items():  # started, never ended: the run stopped inside it
        phase = PHASE_OF.get(step, step)
        intervals.setdefault(phase, []).append((started, last))
        outcomes[phase] = _worse(outcomes.get(phase, "ok"), "unfinished")
    order = [p for p in PHASE_ORDER if p in intervals] + [p for p in intervals if p not in PHASE_ORDER]
    return [
        Phase(
            name=p,
            start_s=min(a for a, _ in intervals[p]),
            end_s=max(b for _, b in intervals[p]),
            seconds=_union(intervals[p]),
            steps=tuple(steps.get(p, [])),
            outcome=outcomes.get(p, "unfinished"),
        )
        for p in order
    ]


def operator_seconds(phases: list[Phase]) -> float:
    return round(sum(p.seconds for p in phases if p.name in OPERATOR_PHASES), 3)


def capacity_tail_s(phases: list[Phase]) -> float:
    """Time the run spent after verification only waiting for the rest of the capacity (unplanned mode):
    traffic had moved by then, so it is not recovery time."""
    got = {p.name: p for p in phases}
    cap, verify = got.get("capacity after flip"), got.get("verification")
    if cap is None or verify is None:
        return 0.0
    return round(max(0.0, cap.end_s - verify.end_s), 3)


def critical_path_s(phases: list[Phase]) -> float | None:
    """Preflight + the longer of capacity and promotion (parallel) + flip + verification."""
    if not phases:
        return None
    got = {p.name: p.seconds for p in phases}
    parallel = max(got.get("capacity", 0.0), got.get("promotion", 0.0))
    return round(
        got.get("preflight", 0.0) + parallel + got.get("traffic flip", 0.0) + got.get("verification", 0.0), 3
    )


def _union(spans: list[tuple[float, float]]) -> float:
    total, cur_a, cur_b = 0.0, None, None
    for a, b in sorted(spans):
        if cur_b is None or a > cur_b:
            if cur_b is not None and cur_a is not None:
                total += cur_b - cur_a
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    if cur_a is not None and cur_b is not None:
        total += cur_b - cur_a
    return round(total, 3)


def _worse(a: str, b: str) -> str:
    rank = {name: i for i, name in enumerate(STEP_OUTCOMES)}
    return a if rank.get(a, len(STEP_OUTCOMES)) >= rank.get(b, len(STEP_OUTCOMES)) else b


# ------------------------------------------------------------------------------------------- recovery
# RTO as users see it: milestones from the run's start to the moment users can reach the target, each with its
# source. The headline is when the zone's authoritative servers answer with the target ("DNS answers target"),
# or when the target serves through the public name if that was probed; the run's own duration stays a phase.
RECOVERY_ORDER = (
    "promotion sent",
    "database writable",
    "switch datapoint put",
    "health check changed",
    "failover records changed",
    "alarm in ALARM",
    "DNS answers target",
    "clients converge",
    "target serving",
    "application healthy",
)
HEADLINE = ("target serving", "DNS answers target")  # the first of these the run observed
DATABASE_HEADLINE = ("database writable",)  # `failover --only database`: users stay where they were


@dataclass(frozen=True)
class RecoveryPoint:
    name: str
    at_s: float  # seconds from the RTO clock's start (drctl's process start)
    source: str
    bound: bool = False  # a bound (e.g. DNS answer + TTL), not an observation

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def clock_start(log: RunLog) -> float:
    """Epoch seconds when the run's RTO clock started (drctl's process start, else the header's time)."""
    return log.header.clock_start or log.started_at.timestamp()


def recovery_points(log: RunLog) -> list[RecoveryPoint]:
    """The run's recovery milestones, first observation of each, in time order (ties: the documented order);
    times from the RTO clock's start with the operator's time at the confirmation prompt left out (it precedes
    every milestone)."""
    t0 = clock_start(log) + operator_seconds(compute_phases(log))
    first: dict[str, Milestone] = {}
    for m in log.of(Milestone):
        first.setdefault(m.name, m)
    points = [RecoveryPoint(n, round(m.at_epoch - t0, 3), m.source) for n, m in first.items()]
    dns = first.get("DNS answers target")
    if dns is not None and dns.detail.get("ttl_s") is not None and "clients converge" not in first:
        ttl = float(dns.detail["ttl_s"])
        points.append(
            RecoveryPoint(
                "clients converge",
                round(dns.at_epoch - t0 + ttl, 3),
                f"bound: DNS answers target + the record's TTL ({ttl:g} s) — resolvers may keep the old answer "
                "that long",
                bound=True,
            )
        )
    points += canary_points(log.canary, t0)
    rank = {n: i for i, n in enumerate(RECOVERY_ORDER)}
    return sorted(points, key=lambda p: (p.at_s, rank.get(p.name, len(rank))))  # a timeline: by time


CANARY_LAST = "last canary commit before the write outage"
CANARY_AGAIN = "canary writes again"


def canary_points(result: dict[str, Any], t0: float) -> list[RecoveryPoint]:
    """The longest write outage the canary saw (drctl/canary/check.py), as two recovery points."""
    outages = [o for o in result.get("outages") or [] if isinstance(o, dict)]
    if not outages:
        return []
    o = max(outages, key=lambda x: float("inf") if x.get("to_t") is None else x["to_t"] - x["from_t"])
    points = [
        RecoveryPoint(
            CANARY_LAST,
            round(float(o["from_t"]) - t0, 3),
            "canary, measured: the last acknowledged commit before the break (local wall clock)",
        )
    ]
    if o.get("to_t") is not None:
        points.append(
            RecoveryPoint(
                CANARY_AGAIN,
                round(float(o["to_t"]) - t0, 3),
                f"canary, measured: the first acknowledged commit after the break; write outage "
                f"{float(o['to_t']) - float(o['from_t']):.3f} s (local wall clock)",
            )
        )
    return points


def headline(points: list[RecoveryPoint], names: tuple[str, ...] = HEADLINE) -> RecoveryPoint | None:
    by_name = {p.name: p for p in points}
    return next((by_name[n] for n in names if n in by_name), None)
