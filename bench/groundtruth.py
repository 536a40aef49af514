"""drctl's RPO estimate against the ground truth, on the lab's real databases (drctl/lab/databases.py).

    uv run python -m bench.groundtruth                          # lags 0, 500, 2500 ms; 5 runs each (~8 min)
    uv run python -m bench.groundtruth --lags 500 --runs 2      # to try it

A private twin with databases (time scale 0.02, short modelled durations). Each run starts from a freshly seeded
topology (us-east-1 writes, us-west-2 streams from it), with the WAL stream delayed by the lag setting
(`drctl lab set-lag`), and waits until the lab has published the measured lag. Then, as an application would, a
canary writes before, through and after the incident: `drctl canary run --duration ...` (a subprocess, 20
transactions/s) starts first; once it has written for longer than the delay, `drctl failover --to secondary
--mode unplanned --allow-data-loss` runs (a subprocess, on a copy of the stack file with the failover's own canary
off). The canary's read-back at its end gives the truth; the failover's report the estimate.

- Estimate: the report's `rpo_s` (AuroraGlobalDBRPOLag nearest the promotion, measured by the lab from
  pg_stat_replication's flush_lag).
- Truth: acknowledged commits missing on the new writer (count) and the window between the first and the last
  of them (acknowledgement times; local wall clock). "Bounds" = estimate >= window; "miss" = window - estimate
  when it does not.
- Planned switchovers (`drctl failover --to secondary`), lag 0: acknowledged transactions lost in every run (must
  be 0).
- The lab's memory (RSS: emulator, gateway and the PostgreSQL processes, from /proc) and CPU (utime + stime over
  10 s, databases idle but for the lab's heartbeat) with the databases running.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tomllib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import REPO, BenchTwin, drctl_argv, git_revision, machine, md_table, private_twin

CANARY_AFTER_S = 1.5  # the canary's start-up (a Python process) before it writes
FAILOVER_WINDOW_S = 15.0  # the canary writes this long after the delay: the failover and the reconnect fit in


@dataclass
class TruthRun:
    kind: str  # "unplanned" | "planned"
    lag_ms: float  # the WAL delay set
    rc: int
    canary_rc: int
    measured_lag_ms: float | None  # the last lag the lab published before the failover
    estimate_s: float | None  # the report's rpo_s
    lost: int | None  # acknowledged transactions missing
    acked: int | None
    window_s: float | None  # first -> last missing acknowledgement
    outage_s: float | None  # the canary's longest write outage
    error: str = ""

    @property
    def bounds(self) -> bool | None:
        if self.estimate_s is None or self.window_s is None:
            return None if self.lost else True
        return self.estimate_s >= self.window_s

    @property
    def miss_s(self) -> float:
        if self.estimate_s is None or self.window_s is None:
            return 0.0
        return max(self.window_s - self.estimate_s, 0.0)


def _published_lag(twin: BenchTwin) -> float | None:
    rds = (twin.control.signals().get("last_published") or {}).get("rds", [])
    values = [float(r["lag_ms"]) for r in rds if str(r.get("source", "")).startswith("measured")]
    return max(values) if values else None


def _settle(twin: BenchTwin, lag_ms: float, timeout_s: float = 60.0) -> float | None:
    """Reseed, delay the WAL stream, wait for the databases to stream and the measured lag to show it."""
    twin.reseed()
    twin.control.set_lag(lag_ms)
    end = time.monotonic() + timeout_s
    seen: float | None = None
    while time.monotonic() < end:
        view = twin.control.databases()
        roles = sorted(d["role"] for d in view.get("regions", {}).values())
        seen = _published_lag(twin)
        if (
            view.get("writer") == "us-east-1"
            and roles == ["standby", "writer"]
            and view.get("wal_stream") == "flowing"
            and seen is not None
            and seen >= lag_ms * 0.9
        ):
            return seen
        time.sleep(0.2)
    raise RuntimeError(f"the lab's databases did not settle at {lag_ms:g} ms (last measured lag {seen})")


def _without_failover_canary(stack: Path) -> Path:
    from drctl.stack import write_stack_file

    data = tomllib.loads(stack.read_text())
    data["canary"] = {**data["canary"], "on_failover": False}
    return write_stack_file(data, stack.with_name("stack-failover.toml"))


def one_run(twin: BenchTwin, kind: str, lag_ms: float) -> TruthRun:
    measured = _settle(twin, lag_ms)
    failover_stack = _without_failover_canary(twin.stack)
    duration = CANARY_AFTER_S + lag_ms / 1000 + 1.0 + FAILOVER_WINDOW_S
    canary = subprocess.Popen(
        drctl_argv("canary", "run", "--stack", str(twin.stack), "--duration", f"{duration:g}", "--json"),
        env=twin.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    time.sleep(CANARY_AFTER_S + lag_ms / 1000 + 1.0)
    args = ["--to", "secondary", "--yes", "--json", "--stack", str(failover_stack)]
    if kind == "unplanned":
        args += ["--mode", "unplanned", "--allow-data-loss"]
    failover = twin.drctl("failover", *args, timeout=120)
    out, err = canary.communicate(timeout=duration + 60)
    report: dict[str, Any] = json.loads(failover.stdout) if failover.stdout.strip() else {}
    truth: dict[str, Any] = json.loads(out) if out.strip() else {}
    error = "" if failover.returncode == 0 else (failover.stderr.strip().splitlines() or ["?"])[-1]
    if canary.returncode != 0:
        error += (" canary: " + (err.strip().splitlines() or ["?"])[-1]).strip()
    return TruthRun(
        kind=kind,
        lag_ms=lag_ms,
        rc=failover.returncode,
        canary_rc=canary.returncode or 0,
        measured_lag_ms=measured,
        estimate_s=report.get("rpo_s"),
        lost=truth.get("missing"),
        acked=truth.get("acked"),
        window_s=truth.get("missing_window_s"),
        outage_s=truth.get("longest_outage_s"),
        error=error,
    )


def _processes(twin: BenchTwin) -> list[int]:
    """The lab's processes: emulator, gateway and their descendants (the PostgreSQL servers and their backends,
    which PostgreSQL puts in sessions of their own)."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    lab = set(twin.info.pids.values())
    grew = True
    while grew:
        more = {pid for pid, ppid in parent.items() if ppid in lab} - lab
        lab |= more
        grew = bool(more)
    return sorted(lab)


def _rss_mib(pids: list[int]) -> dict[str, float]:
    by: dict[str, float] = {}
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        kib = next((int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmRSS:")), 0)
        key = "postgres" if name.startswith("postgres") else name
        by[key] = by.get(key, 0.0) + kib / 1024
    return {k: round(v, 1) for k, v in sorted(by.items())}


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def resources(twin: BenchTwin, seconds: float = 10.0) -> dict[str, Any]:
    pids = _processes(twin)
    before = _cpu_ticks(pids)
    time.sleep(seconds)
    ticks = _cpu_ticks(pids) - before
    rss = _rss_mib(pids)
    return {
        "processes": len(pids),
        "rss_mib": rss,
        "rss_total_mib": round(sum(rss.values()), 1),
        "cpu_percent_of_one_core": round(100 * ticks / os.sysconf("SC_CLK_TCK") / seconds, 1),
        "window_s": seconds,
    }


def measure(lags: list[float], runs: int, planned: int, say: Any) -> tuple[list[TruthRun], dict[str, Any]]:
    out: list[TruthRun] = []
    with private_twin(say, databases=True) as twin:
        twin.control.start_databases()
        for lag in lags:
            for i in range(runs):
                r = one_run(twin, "unplanned", lag)
                say(
                    f"unplanned lag {lag:g} ms #{i + 1}: rc {r.rc}, estimate {r.estimate_s} s, lost {r.lost} "
                    f"of {r.acked}, window {r.window_s} s {r.error}"
                )
                out.append(r)
        for i in range(planned):
            r = one_run(twin, "planned", 0.0)
            say(f"planned #{i + 1}: rc {r.rc}, lost {r.lost} of {r.acked}, outage {r.outage_s} s {r.error}")
            out.append(r)
        _settle(twin, 0.0)
        usage = resources(twin)
    return out, usage


def markdown(runs: list[TruthRun], usage: dict[str, Any]) -> str:
    rows = []
    for lag in sorted({r.lag_ms for r in runs if r.kind == "unplanned"}):
        group = [r for r in runs if r.kind == "unplanned" and r.lag_ms == lag]
        ok = [r for r in group if r.rc == 0 and r.lost is not None]
        bounded = [r for r in ok if r.bounds]
        misses = [r.miss_s for r in ok if r.bounds is False]
        rows.append(
            [
                f"{lag:g}",
                f"{len(ok)}/{len(group)}",
                ", ".join(f"{r.estimate_s:g}" if r.estimate_s is not None else "-" for r in ok),
                ", ".join(f"{r.window_s:.3f}" if r.window_s is not None else "0" for r in ok),
                ", ".join(str(r.lost) for r in ok),
                f"{len(bounded)}/{len(ok)}",
                f"{max(misses):.3f}" if misses else "-",
            ]
        )
    table = md_table(
        [
            "WAL delay (ms)",
            "runs ok",
            "estimate rpo_s (s)",
            "truth: loss window (s)",
            "truth: acked lost",
            "estimate ≥ window",
            "worst miss (s)",
        ],
        rows,
    )
    planned = [r for r in runs if r.kind == "planned"]
    planned_table = md_table(
        ["planned switchovers", "runs ok", "acked lost per run", "write outage per run (s)"],
        [
            [
                "lag 0",
                f"{sum(1 for r in planned if r.rc == 0)}/{len(planned)}",
                ", ".join(str(r.lost) for r in planned),
                ", ".join(f"{r.outage_s:.2f}" if r.outage_s is not None else "-" for r in planned),
            ]
        ],
    )
    usage_rows = [[k, f"{v} MiB"] for k, v in usage["rss_mib"].items()]
    usage_rows += [
        ["total RSS", f"{usage['rss_total_mib']} MiB ({usage['processes']} processes)"],
        ["CPU", f"{usage['cpu_percent_of_one_core']} % of one core over {usage['window_s']:g} s"],
    ]
    return "\n\n".join(
        [
            "## Unplanned failovers: estimate vs ground truth",
            table,
            "## Planned switchovers",
            planned_table,
            "## The lab with its databases running (idle but for the heartbeat)",
            md_table(["", ""], usage_rows),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lags", default="0,500,2500", help="WAL delays in ms (default 0,500,2500)")
    ap.add_argument("--runs", type=int, default=5, help="unplanned failovers per lag (default 5)")
    ap.add_argument("--planned", type=int, default=5, help="planned switchovers (default 5)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "GROUNDTRUTH.md")
    ap.add_argument("--json", type=Path, default=REPO / "bench" / "groundtruth.json")
    args = ap.parse_args(argv)
    lags = [float(x) for x in args.lags.split(",") if x.strip()]

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started, when, host = time.monotonic(), datetime.now(UTC), machine()
    runs, usage = measure(lags, max(args.runs, 1), max(args.planned, 0), say)
    body = markdown(runs, usage)
    took = time.monotonic() - started
    command = f"uv run python -m bench.groundtruth --lags {args.lags} --runs {args.runs} --planned {args.planned}"
    doc = [
        "# Ground truth: drctl's RPO estimate against the canary, on the lab's real databases",
        "",
        "Generated by the command below; do not edit by hand (what it measures: the docstring of "
        "bench/groundtruth.py).",
        "",
        f"    {command}",
        "",
        f"{when:%Y-%m-%d %H:%M} UTC, drctl tree {git_revision()}, {len(runs)} runs in {took:.0f} s. Loopback only:"
        " real PostgreSQL replication through the lab's WAL proxy; the estimate is drctl's (measured lag), the"
        " truth the canary's (measured).",
        "",
        body,
        "",
        "## Machine",
        "",
        md_table(["", ""], [[k, v] for k, v in host.items()]),
        "",
    ]
    args.out.write_text("\n".join(doc), encoding="utf-8")
    args.json.write_text(
        json.dumps({"runs": [asdict(r) for r in runs], "usage": usage}, indent=1) + "\n", encoding="utf-8"
    )
    print(body)
    say(f"wrote {args.out} and {args.json} ({len(runs)} runs in {took:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
