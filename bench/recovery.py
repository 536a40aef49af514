"""Unplanned failover: time until the zone's name servers answer the target, against the critical-path bound.

    uv run python -m bench.recovery                       # scales 0.1 and 0.25, 3 runs each (about 6 minutes)
    uv run python -m bench.recovery --scales 1 --runs 1   # AWS's own clock: one run of about 4 minutes

Each run: a freshly seeded twin on the given time scale, with the lab's modelled durations at the magnitudes
AWS documents times that scale (drctl/lab/models.py `Durations`: a managed failover 120 s), then `drctl failover
--to secondary --mode unplanned --allow-data-loss --yes --json` through the real CLI (a subprocess: Python
start-up counts).

The scenario is the one where drctl's drain is what moves users: the primary's database is lost but its load
balancer keeps passing Route53's endpoint checks, so only the switch datapoint can turn its record unhealthy.
(In a whole-region outage Route53's endpoint checks move the answer by themselves after RequestInterval x
FailureThreshold, long before the promotion ends; the database is then the critical path, and drctl's first DNS
observation only says when it looked.)

Measured: "DNS answers target" — the run's milestone (drctl/failover/verify.py), read from its journal: the first
authoritative answer naming the target, from the RTO clock's start (drctl's process start, the journal header's
`clock_start`).

Bound (the critical path of the modelled waits, nothing of drctl's own): the run's clock start + max(promotion,
minimum capacity) — the earliest the drain datapoint can be put — then the switch alarm's next period boundary
(60 s x scale: the alarm evaluates the period holding the datapoint when it ends), then the CLOUDWATCH_METRIC
health check's modelled turn (30 s x scale, drctl/lab/health.py ALARM_CHECK_DELAY_S), after which the lab's DNS
answers the target at once. The seeded target runs its wanted capacity, so minimum capacity adds nothing here.

Efficiency = bound / measured. A run whose datapoint lands one period boundary later than the ideal one pays a
whole alarm period for a few hundred milliseconds of drctl's time: the table shows which runs did.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import BenchTwin, Series, md_table, private_twin, ratio

AWS_PERIOD_S = 60.0  # the Terraform's switch alarm period (Route53 follows standard-resolution alarms only)
GOAL = 0.95


@dataclass
class RecoveryRun:
    scale: float
    rc: int
    measured_s: float  # RTO clock start -> "DNS answers target" (journal milestone)
    bound_s: float  # RTO clock start -> critical-path bound
    promotion_s: float  # modelled (lab) promotion duration
    period_s: float  # the alarm period on the lab clock
    follow_s: float  # the health check's modelled turn after the alarm, lab clock
    ideal_boundary_s: float  # from the clock start
    actual_boundary_s: float | None  # the boundary the lab evaluated the drain at (lab clock view)
    milestones: dict[str, float]  # name -> seconds from the clock start (journal)

    @property
    def efficiency(self) -> float:
        return ratio(self.bound_s, self.measured_s)

    @property
    def missed_boundary(self) -> bool:
        return self.actual_boundary_s is not None and self.actual_boundary_s > self.ideal_boundary_s + 1e-6


@dataclass
class RecoveryResult:
    scale: float
    runs: list[RecoveryRun]

    def series(self) -> tuple[Series, Series, Series]:
        ok = [r for r in self.runs if r.rc == 0]
        return (
            Series("measured", [r.measured_s for r in ok]),
            Series("bound", [r.bound_s for r in ok]),
            Series("efficiency", [r.efficiency for r in ok], unit=""),
        )


def scaled_durations(scale: float) -> dict[str, float]:
    """The lab's AWS-magnitude durations (drctl/lab/models.py Durations) on the lab clock."""
    from drctl.lab.models import Durations

    d = Durations()
    return {
        "switchover_s": d.switchover_s * scale,
        "failover_s": d.failover_s * scale,
        "promote_s": d.promote_s * scale,
        "warmup_s": d.warmup_s * scale,
        "resync_s": d.resync_s * scale,
    }


def one_run(twin: BenchTwin, scale: float) -> RecoveryRun:
    from drctl.journal.events import Milestone
    from drctl.journal.log import RunLog
    from drctl.journal.phases import clock_start
    from drctl.lab.health import ALARM_CHECK_DELAY_S
    from drctl.stack import load_stack

    twin.reseed()
    durations = scaled_durations(scale)
    twin.control.set_durations(**durations)
    twin.control.set_lag(100)
    twin.wait_for_lag()
    stack = load_stack(twin.stack)
    p = twin.drctl(
        "failover", "--to", "secondary", "--mode", "unplanned", "--allow-data-loss", "--yes", "--json",
        "--stack", str(twin.stack), timeout=max(180.0, 600 * scale),
    )  # fmt: skip
    rep: dict[str, Any] = json.loads(p.stdout) if p.stdout.strip() else {}
    if p.returncode != 0 or "journal" not in rep:
        raise RuntimeError(f"unplanned failover: exit {p.returncode}: {p.stderr[-800:]}")
    log = RunLog.read(Path(rep["journal"]))
    t0 = clock_start(log)
    firsts: dict[str, float] = {}
    for m in log.of(Milestone):
        firsts.setdefault(m.name, m.at_epoch - t0)
    if "DNS answers target" not in firsts:
        raise RuntimeError(f"no 'DNS answers target' milestone: {rep.get('verification', {}).get('dns')}")
    promotion = durations["failover_s"]
    period = AWS_PERIOD_S * scale
    follow = ALARM_CHECK_DELAY_S * scale
    ideal_flip = t0 + promotion
    ideal_boundary = (math.floor(ideal_flip / period) + 1) * period
    put_at = t0 + firsts.get("switch datapoint put", float("nan"))
    evaluations = [
        float(e["boundary"])
        for e in twin.control.clock()["evaluations"]
        if e["alarm"] == stack.primary.switch_alarm_name and e["to"] == "ALARM" and e["boundary"] >= put_at
    ]
    return RecoveryRun(
        scale=scale,
        rc=p.returncode,
        measured_s=firsts["DNS answers target"],
        bound_s=ideal_boundary + follow - t0,
        promotion_s=promotion,
        period_s=period,
        follow_s=follow,
        ideal_boundary_s=ideal_boundary - t0,
        actual_boundary_s=(evaluations[0] - t0) if evaluations else None,
        milestones=firsts,
    )


def measure(scales: list[float], runs: int, say: Callable[[str], None] = print) -> list[RecoveryResult]:
    results = []
    for scale in scales:
        res = RecoveryResult(scale, [])
        with private_twin(progress=say, time_scale=scale) as twin:
            for _ in range(runs):
                r = one_run(twin, scale)
                res.runs.append(r)
                say(
                    f"  scale {scale:g}: DNS answers target {r.measured_s:.2f}s, bound {r.bound_s:.2f}s "
                    f"({r.efficiency * 100:.0f}%), boundary ideal {r.ideal_boundary_s:.2f}s actual "
                    f"{r.actual_boundary_s if r.actual_boundary_s is None else round(r.actual_boundary_s, 2)}s; "
                    + ", ".join(f"{k} {v:.2f}" for k, v in r.milestones.items())
                )
        results.append(res)
    return results


def markdown(results: list[RecoveryResult]) -> str:
    rows = []
    for res in results:
        measured, bound, eff = res.series()
        if not measured.samples:
            continue
        r0 = res.runs[0]
        missed = sum(r.missed_boundary for r in res.runs)
        rows.append(
            [
                f"{res.scale:g} (AWS 60 s period = {r0.period_s:g} s; promotion {r0.promotion_s:g} s; "
                f"check turn {r0.follow_s:g} s)",
                " / ".join(measured.cells(1, 2)),
                " / ".join(bound.cells(1, 2)),
                " / ".join(f"{v * 100:.0f}%" for v in (eff.min, eff.median, eff.max)),
                f"{missed}/{len(res.runs)}",
                f"{measured.median / res.scale:.0f} s",
            ]
        )
    return md_table(
        [
            "time scale (lab clock)",
            "DNS answers target (s) min / med / max",
            "critical-path bound (s)",
            f"efficiency (goal ≥ {GOAL * 100:.0f}%)",
            "runs that missed the ideal alarm boundary",
            "median at AWS scale (measured / scale)",
        ],
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="0.1,0.25", help="comma-separated lab time scales (default 0.1,0.25)")
    ap.add_argument("--runs", type=int, default=3, help="runs per scale (default 3)")
    ap.add_argument("--json", type=Path, help="also write the raw runs here")
    args = ap.parse_args(argv)
    scales = [float(s) for s in args.scales.split(",") if s.strip()]

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.monotonic()
    results = measure(scales, max(args.runs, 1), say)
    print(markdown(results))
    print(f"\n{sum(len(r.runs) for r in results)} runs in {time.monotonic() - started:.0f} s (wall clock).")
    if args.json:
        raw = [{"scale": r.scale, "runs": [asdict(x) for x in r.runs]} for r in results]
        args.json.write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
