"""Failover overhead: end-to-end planned failover and failback vs the critical path of the lab's modelled waits.

Before each run the target region's Auto Scaling group is set to 1 instance (a pilot-light standby), so the
run has two modelled waits: capacity warm-up (`warmup_s` after scaling) and the switchover (`switchover_s`),
which drctl runs side by side. Critical path = the longer of the two (flip and verification have no modelled
wait in the lab). Efficiency = critical path / end-to-end, where end-to-end is the wall time of the
`drctl failover` process (Python start-up included).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import BenchTwin, Series, md_table, ratio
from drctl.journal.events import StepEnded, StepStarted
from drctl.journal.log import RunLog

_ALARM_WAIT = re.compile(r"waiting ([0-9.]+)s: the drain of")


@dataclass
class FailoverRun:
    direction: str  # "failover" | "failback"
    wall_s: float
    rc: int
    outcome: str
    rto_s: float
    critical_s: float  # modelled waits on the critical path
    overlap_s: float  # capacity ∩ promote, from the journal's step timestamps
    steps: dict[str, float]  # step -> seconds (journal)
    api_calls: int
    retries: int
    scaled: bool
    promoted: bool
    alarm_wait_s: float
    before_steps_s: float  # the run's clock started (command start) -> first step (imports, stack, journal)


@dataclass
class FailoverResult:
    switchover_s: float
    warmup_s: float
    runs: list[FailoverRun] = field(default_factory=list)

    def series(self, direction: str) -> tuple[Series, Series, Series]:
        rs = [r for r in self.runs if r.direction == direction]
        wall = Series(f"{direction} wall", [r.wall_s for r in rs])
        eff = Series(f"{direction} efficiency", [ratio(r.critical_s, r.wall_s) for r in rs], unit="")
        over = Series(f"{direction} overhead", [r.wall_s - r.critical_s for r in rs])
        return wall, eff, over


def pilot_light(twin: BenchTwin, target: Any, source: Any) -> None:
    """Source ASG at 2 instances, target at 1: the failover has one instance of capacity to warm up."""
    import boto3

    for region, size in ((source, 2), (target, 1)):
        asg = boto3.client(
            "autoscaling",
            region_name=region.name,
            endpoint_url=twin.info.endpoints[region.name],
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        asg.update_auto_scaling_group(AutoScalingGroupName=region.asg_name, MinSize=size, DesiredCapacity=size)


def step_windows(log: RunLog) -> dict[str, tuple[datetime, datetime]]:
    """Each step's [start, end] from the journal (the last attempt of a step wins)."""
    starts: dict[str, datetime] = {}
    out: dict[str, tuple[datetime, datetime]] = {}
    for e in log.events:
        if isinstance(e, StepStarted):
            starts[e.step] = e.at
        elif isinstance(e, StepEnded) and e.step in starts:
            out[e.step] = (starts[e.step], e.at)
    return out


def overlap_s(a: tuple[datetime, datetime] | None, b: tuple[datetime, datetime] | None) -> float:
    if not a or not b:
        return 0.0
    return max(0.0, (min(a[1], b[1]) - max(a[0], b[0])).total_seconds())


def _before_steps(log: RunLog, windows: dict[str, tuple[datetime, datetime]], rto_s: float) -> float:
    finish = log.finished
    if finish is None or not windows:
        return float("nan")
    first = min(w[0] for w in windows.values())
    return (first - finish.at).total_seconds() + rto_s


def one_run(twin: BenchTwin, to: str, direction: str, switchover_s: float, warmup_s: float) -> FailoverRun:
    from drctl.stack import load_stack

    stack = load_stack(twin.stack)
    target = stack.resolve_region(to)
    pilot_light(twin, target, stack.other(target.name))
    time.sleep(0.3)
    t = time.perf_counter()
    p = twin.drctl("failover", "--to", to, "--yes", "--json", "--stack", str(twin.stack))
    wall = time.perf_counter() - t
    rep: dict[str, Any] = json.loads(p.stdout) if p.stdout.strip() else {}
    if p.returncode != 0 or rep.get("outcome") != "completed":
        raise RuntimeError(f"{direction} to {to}: exit {p.returncode}, {rep.get('outcome')}: {p.stderr[-600:]}")
    log = RunLog.read(Path(rep["journal"]))
    windows = step_windows(log)
    results = log.results
    scaled = bool(results.get("capacity", {}).get("scaled"))
    promoted = bool(results.get("promote", {}).get("sends"))
    # A failback soon after a failover waits for the drain datapoint to leave the switch alarm's period
    # (drctl says how long on stderr): a modelled wait too, after the promotion.
    alarm_wait = sum(float(m) for m in _ALARM_WAIT.findall(p.stderr))
    critical = max(switchover_s if promoted else 0.0, warmup_s if scaled else 0.0) + alarm_wait
    return FailoverRun(
        direction=direction,
        wall_s=wall,
        rc=p.returncode,
        outcome=str(rep.get("outcome")),
        rto_s=float(rep.get("rto_s") or 0.0),
        critical_s=critical,
        overlap_s=overlap_s(windows.get("capacity"), windows.get("promote")),
        steps={k: (v[1] - v[0]).total_seconds() for k, v in windows.items()},
        api_calls=int(rep.get("api_calls", 0)),
        retries=int(rep.get("retries", 0)),
        scaled=scaled,
        promoted=promoted,
        alarm_wait_s=alarm_wait,
        before_steps_s=_before_steps(log, windows, float(rep.get("rto_s") or 0.0)),
    )


def measure(
    twin: BenchTwin,
    *,
    runs: int,
    switchover_s: float,
    warmup_s: float,
    say: Callable[[str], None] = print,
) -> FailoverResult:
    twin.control.set_latency(0)
    twin.control.set_durations(switchover_s=switchover_s, warmup_s=warmup_s)
    res = FailoverResult(switchover_s, warmup_s)
    for _ in range(runs):
        for to, direction in (("secondary", "failover"), ("primary", "failback")):
            run = one_run(twin, to, direction, switchover_s, warmup_s)
            res.runs.append(run)
            say(
                f"  {direction}: {run.wall_s:.2f}s wall, critical {run.critical_s:g}s, "
                f"overlap {run.overlap_s:.2f}s, steps {', '.join(f'{k} {v:.2f}' for k, v in run.steps.items())}"
            )
    return res


def markdown(results: list[FailoverResult]) -> str:
    rows = []
    for res in results:
        for direction in ("failover", "failback"):
            wall, eff, over = res.series(direction)
            rs = [r for r in res.runs if r.direction == direction]
            if not rs:
                continue
            rows.append(
                [
                    f"{direction} (switchover {res.switchover_s:g}s, warm-up {res.warmup_s:g}s)",
                    " / ".join(wall.cells(1, 2)),
                    f"{rs[0].critical_s:g}",
                    " / ".join(over.cells(1, 2)),
                    " / ".join(f"{v * 100:.0f}%" for v in (eff.min, eff.median, eff.max)),
                    " / ".join(f"{v:.2f}" for v in _minmedmax([r.overlap_s for r in rs])),
                    f"{sorted(r.api_calls for r in rs)[len(rs) // 2]}",
                ]
            )
    return md_table(
        [
            "run (lab durations)",
            "end-to-end (s) min / med / max",
            "critical path of modelled waits (s)",
            "overhead (s)",
            "efficiency (goal ≥ 95%)",
            "warm-up ∩ promotion (s)",
            "API calls",
        ],
        rows,
    )


def step_breakdown(res: FailoverResult) -> str:
    """Median seconds per journal step, and where the rest of the wall time went."""
    names: list[str] = []
    for r in res.runs:
        names += [n for n in r.steps if n not in names]
    rows = []
    for direction in ("failover", "failback"):
        rs = [r for r in res.runs if r.direction == direction]
        if not rs:
            continue
        med = {n: _median([r.steps.get(n, 0.0) for r in rs]) for n in names}
        outside = _median([r.wall_s - r.rto_s for r in rs])
        before = _median([r.before_steps_s for r in rs])
        rows.append(
            [
                direction,
                f"{outside:.2f}",
                f"{before:.2f}",
                *(f"{med[n]:.2f}" for n in names),
                f"{_median([r.wall_s for r in rs]):.2f}",
            ]
        )
    return md_table(
        ["run", "outside the RTO clock (wall - RTO)", "RTO clock start -> first step", *names, "wall"],
        rows,
    )


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return (s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2) if s else float("nan")


def _minmedmax(xs: list[float]) -> tuple[float, float, float]:
    return (min(xs), _median(xs), max(xs)) if xs else (float("nan"),) * 3
