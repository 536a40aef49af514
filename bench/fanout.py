"""Status fan-out: `drctl status --json` vs the same reads as sequential `aws` commands vs drctl with its
concurrency disabled (DRCTL_MAX_WORKERS=1), at several injected latencies; plus status under a 10 TPS per-API
token bucket.
"""

from __future__ import annotations

import json
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench import trace
from bench.awscli import AWSCLI_VERSION, aws_env, ensure_awscli, run_sequence, status_commands
from bench.common import BENCH_SECRET, BenchTwin, Series, md_table, ratio

STATUS_TIMEOUT_S = "60"  # generous: the sequential variant must not hit drctl's own deadline


@dataclass
class LatencyRow:
    latency_ms: float
    drctl: Series
    sequential: Series
    aws: Series
    log_depth: int = 0  # observed depth of one concurrent status, from the gateway's request log


@dataclass
class FanoutResult:
    rows: list[LatencyRow] = field(default_factory=list)
    drctl_calls: int = 0
    aws_calls: int = 0
    call_diff: dict[str, int] = field(default_factory=dict)
    chain: int = 0
    chain_ops: list[str] = field(default_factory=list)
    per_read: dict[str, int] = field(default_factory=dict)
    status_rc: int = -1
    status_reasons: list[str] = field(default_factory=list)
    aws_codes_ok: bool = True
    notes: list[str] = field(default_factory=list)

    def base_s(self) -> float:
        zero = [r for r in self.rows if r.latency_ms == 0]
        return zero[0].drctl.median if zero else float("nan")

    def floor_s(self, row: LatencyRow) -> float:
        """The longest dependent chain at this latency, plus drctl's own time at 0 ms (start-up, CPU)."""
        return self.chain * row.latency_ms / 1000.0 + self.base_s()


def _status(twin: BenchTwin, **env: str) -> Callable[[], Any]:
    def go() -> Any:
        p = twin.drctl("status", "--json", "--timeout", STATUS_TIMEOUT_S, "--stack", str(twin.stack), **env)
        if p.returncode not in (0, 3):
            raise RuntimeError(f"drctl status exited {p.returncode}: {p.stderr.strip()[-400:]}")
        return p

    return go


def measure(
    twin: BenchTwin,
    *,
    runs: int,
    latencies_ms: Sequence[float] = (0, 50, 100),
    aws_runs: int | None = None,
    say: Callable[[str], None] = print,
) -> FanoutResult:
    res = FanoutResult()
    aws = ensure_awscli()
    env = aws_env(twin.home, BENCH_SECRET)
    ctl = twin.control
    ctl.set_latency(0)

    # Same reads? Compare the gateway's log of one drctl status with one aws sequence.
    ctl.clear_requests()
    p = _status(twin)()
    res.status_rc = p.returncode
    res.status_reasons = list(json.loads(p.stdout or "{}").get("reasons", []))
    got_drctl = trace.calls_by_api(ctl.requests())
    cmds = status_commands(twin.stack)
    ctl.clear_requests()
    codes = run_sequence(aws, cmds, env)
    res.aws_codes_ok = all(c == 0 for c in codes)
    got_aws = trace.calls_by_api(ctl.requests())
    res.drctl_calls, res.aws_calls = sum(got_drctl.values()), sum(got_aws.values())
    diff = Counter(got_drctl)
    diff.subtract(got_aws)
    res.call_diff = {f"{s}:{o}": n for (s, o), n in diff.items() if n}
    say(
        f"status: drctl {res.drctl_calls} calls, aws CLI {res.aws_calls} calls, "
        f"difference {res.call_diff or 'none'}"
    )

    for lat in latencies_ms:
        ctl.set_latency(lat)
        row = LatencyRow(
            lat,
            Series(f"drctl status @{lat:g}ms"),
            Series(f"drctl sequential @{lat:g}ms"),
            Series(f"aws CLI @{lat:g}ms"),
        )
        seq = status_commands(twin.stack)
        # Interleaved, so that a noisy moment of the machine hits every variant alike.
        for i in range(runs):
            row.drctl.samples += _timed_once(_status(twin))
            row.sequential.samples += _timed_once(_status(twin, DRCTL_MAX_WORKERS="1"))
            if i < (aws_runs if aws_runs is not None else runs):
                row.aws.samples += _timed_once(partial(run_sequence, aws, seq, env))
        ctl.clear_requests()
        _status(twin)()
        row.log_depth = trace.log_depth(ctl.requests(), lat / 1000.0) if lat else 0
        say(
            f"  @{lat:g} ms: drctl {row.drctl.median:.2f}s, sequential {row.sequential.median:.2f}s, "
            f"aws {row.aws.median:.2f}s, log depth {row.log_depth}"
        )
        res.rows.append(row)

    # The dependent chain, from an in-process trace (at the highest latency, so waits dominate).
    from drctl.stack import load_stack
    from drctl.status import collect_status

    ctl.set_latency(max(latencies_ms))
    with trace.traced() as t:
        collect_status(load_stack(twin.stack), timeout_s=float(STATUS_TIMEOUT_S))
    res.chain, res.chain_ops = t.chain()
    res.per_read = dict(t.per_read())
    ctl.set_latency(0)
    return res


def _timed_once(fn: Callable[[], object]) -> list[float]:
    t = time.perf_counter()
    fn()
    return [time.perf_counter() - t]


def markdown(res: FanoutResult, runs: int) -> str:
    rows = []
    for r in res.rows:
        floor = res.floor_s(r)
        rows.append(
            [
                f"{r.latency_ms:g}",
                " / ".join(r.drctl.cells(1000)),
                " / ".join(r.sequential.cells(1000)),
                " / ".join(r.aws.cells(1000)),
                f"{floor * 1000:.0f}",
                f"{ratio(r.drctl.median, floor):.2f}",
                f"{ratio(r.drctl.median, r.aws.median):.3f}",
                f"{ratio(r.sequential.median, r.drctl.median):.1f}x",
                str(r.log_depth or "-"),
            ]
        )
    table = md_table(
        [
            "latency per call (ms)",
            "drctl status (ms) min / med / max",
            "drctl, concurrency off (ms)",
            f"aws CLI {AWSCLI_VERSION} sequence (ms)",
            "floor: chain x latency + base (ms)",
            "drctl / floor (goal ≤ 1.5)",
            "drctl / aws CLI (goal ≤ 0.1)",
            "concurrency gain",
            "observed depth (request log)",
        ],
        rows,
    )
    lines = [
        table,
        "",
        f"- Calls per status: drctl {res.drctl_calls}, the aws CLI sequence {res.aws_calls} "
        f"(same APIs in the gateway's request log: {'yes' if not res.call_diff else res.call_diff}); "
        f"`drctl status` exit code {res.status_rc}"
        f"{' (' + '; '.join(res.status_reasons) + ')' if res.status_reasons else ''}; "
        f"every aws command exited 0: {res.aws_codes_ok}.",
        f"- Longest dependent chain: {res.chain} calls ({' → '.join(res.chain_ops)}), from an in-process trace "
        "(calls per read thread, summed over rounds of reads). base = drctl's median at 0 ms (Python start-up, "
        "imports, client creation, rendering).",
        "- Observed depth: the longest run of non-overlapping calls in the gateway's request log of one "
        "concurrent status (start = end - injected latency); above the chain means reads started staggered.",
        f"- {runs} runs per cell, variants interleaved run by run.",
    ]
    zero = [r for r in res.rows if r.latency_ms == 0 and r.aws.samples]
    if zero and res.aws_calls:
        per = zero[0].aws.median / res.aws_calls
        lines.append(
            f"- The aws CLI sequence costs {per * 1000:.0f} ms per command at 0 ms injected: each command is a "
            "fresh Python process loading botocore's models; drctl pays that start-up once and then overlaps "
            "the calls."
        )
    lines += [f"- {n}" for n in res.notes]
    return "\n".join(lines)


# --- status under a 10 TPS per-API token bucket ------------------------------------------------------------


@dataclass
class ThrottleResult:
    rate: float
    burst: float
    times: Series
    codes: list[int]
    throttled: list[int]
    passed: list[int]
    complete: list[bool]
    most_throttled: list[tuple[str, int]]
    lost: list[int] = field(default_factory=list)  # reads still throttled after botocore's attempts
    reasons: set[str] = field(default_factory=set)  # why status said "not ready", over all runs


def stack_with_endpoints(stack_path: Path, endpoints: dict[str, str], dest: Path) -> Path:
    from drctl.stack import write_stack_file

    data = tomllib.loads(stack_path.read_text(encoding="utf-8"))
    data.setdefault("aws", {})["endpoints"] = dict(endpoints)
    return write_stack_file(data, dest)


def measure_throttled(
    twin: BenchTwin, *, runs: int, rate: float = 10.0, burst: float = 1.0, say: Callable[[str], None] = print
) -> ThrottleResult:
    from bench.throttle import throttling_proxy

    res = ThrottleResult(rate, burst, Series(f"status @ {rate:g} TPS/API"), [], [], [], [], [])
    worst: Counter[str] = Counter()
    with throttling_proxy(dict(twin.info.endpoints), rate=rate, burst=burst) as (urls, buckets):
        stack = stack_with_endpoints(twin.stack, urls, twin.home / "stack-throttled.toml")
        for _ in range(runs):
            buckets.reset_counts()
            t0 = time.perf_counter()
            p = twin.drctl("status", "--json", "--timeout", STATUS_TIMEOUT_S, "--stack", str(stack))
            res.times.samples.append(time.perf_counter() - t0)
            res.codes.append(p.returncode)
            res.throttled.append(sum(buckets.throttled.values()))
            res.passed.append(sum(buckets.passed.values()))
            worst.update({f"{s}:{o}": n for (s, o), n in buckets.throttled.items()})
            res.complete.append(_complete(p.stdout))
            res.lost.append(_lost_reads(p.stdout))
            res.reasons |= set(_json_or_empty(p.stdout).get("reasons", []))
    res.most_throttled = worst.most_common(4)
    say(f"throttled status: {res.times.median:.2f}s, throttled calls {res.throttled}, exit codes {res.codes}")
    return res


def _json_or_empty(stdout: str) -> dict[str, Any]:
    try:
        doc = json.loads(stdout)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _lost_reads(stdout: str) -> int:
    """Reads the report lists as failed with throttling (botocore gave up after its attempts)."""
    try:
        doc = json.loads(stdout)
    except ValueError:
        return -1
    return sum(1 for w in doc.get("warnings", []) if "Throttl" in str(w) or "SlowDown" in str(w))


def _complete(stdout: str) -> bool:
    """Every region reachable and no read error in the JSON report."""
    try:
        doc = json.loads(stdout)
    except ValueError:
        return False
    regions = doc.get("regions", {})
    return (
        bool(regions) and all(r.get("reachable") for r in regions.values()) and doc.get("route53_reachable", False)
    )


def throttle_markdown(res: ThrottleResult) -> str:
    n = len(res.codes)
    rows = [
        [
            f"{res.rate:g} per second, burst {res.burst:g}",
            " / ".join(res.times.cells(1000)),
            f"{sum(res.complete)}/{n}",
            ", ".join(str(c) for c in res.codes),
            f"{min(res.throttled)} / {sorted(res.throttled)[n // 2]} / {max(res.throttled)}",
            f"{sorted(res.passed)[n // 2]}",
            f"{sum(res.lost)}",
        ]
    ]
    table = md_table(
        [
            "token bucket per API",
            "drctl status (ms) min / med / max",
            "complete (every read answered)",
            "exit codes",
            "throttled answers = retries needed (min / med / max)",
            "calls answered",
            "reads lost (still throttled after 3 attempts), all runs",
        ],
        rows,
    )
    worst = ", ".join(f"{k} {v}" for k, v in res.most_throttled) or "none"
    why = "; ".join(sorted(res.reasons))
    return (
        table
        + f"\n\n- Most throttled APIs over all runs: {worst}."
        + (f"\n- Exit 3 (not ready) because: {why}." if why else "")
    )
