"""bench/ imports and its pure helpers work (the measurements themselves are not part of the test run)."""

from __future__ import annotations

import math
import threading
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench import awscli, badinputs, failover, faults, run, throttle, trace
from bench.common import Series, md_table, ratio

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "stack.example.toml"


def test_series_summarises_min_median_max() -> None:
    s = Series("x", [0.3, 0.1, 0.2])
    assert (s.min, s.median, s.max) == (0.1, 0.2, 0.3)
    assert s.cells(1000) == ["100", "200", "300"]
    assert math.isnan(ratio(1.0, 0.0))  # not a ZeroDivisionError


def test_md_table_shape() -> None:
    assert md_table(["a", "b"], [[1, 2]]).splitlines() == ["| a | b |", "|---|---|", "| 1 | 2 |"]


def test_log_depth_counts_dependent_calls_not_concurrent_ones() -> None:
    lat = 0.1
    concurrent = [{"ts": 1.0 + i * 0.002} for i in range(10)]  # ten calls started together
    second = [{"ts": 1.0 + lat + 0.01}]  # one call made after the first wave ended
    assert trace.log_depth(concurrent, lat) == 1
    assert trace.log_depth(concurrent + second, lat) == 2


def test_trace_chain_sums_the_longest_read_of_each_round() -> None:
    t = trace.Trace()
    t.rounds = [["a", "b"], ["c"]]
    for thread, op, start in (("a", "X", 0.0), ("a", "Y", 1.0), ("b", "Z", 0.0), ("c", "W", 2.0)):
        t.calls.append(trace.Call(trace.READ_THREAD_PREFIX + thread, op, start, start + 0.5))
    assert t.chain() == (3, ["X", "Y", "W"])


def test_max_workers_1_runs_status_reads_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from drctl.status.runner import MAX_WORKERS_ENV, Read, run_reads

    active, peak, lock = [0], [0], threading.Lock()

    def read() -> int:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.01)
        with lock:
            active[0] -= 1
        return 1

    reads = [Read(str(i), "r", "a", read) for i in range(6)]
    monkeypatch.setenv(MAX_WORKERS_ENV, "1")
    assert all(o.ok for o in run_reads(reads, 5.0).values()) and peak[0] == 1
    monkeypatch.delenv(MAX_WORKERS_ENV)
    peak[0] = 0
    run_reads(reads, 5.0)
    assert peak[0] > 1


def test_token_bucket_admits_rate_per_second() -> None:
    b = throttle.Bucket(rate=10.0, burst=1.0, tokens=1.0, stamp=0.0)
    assert b.take(0.0) and not b.take(0.05) and b.take(0.15)


def test_aws_commands_mirror_status_reads() -> None:
    cmds = awscli.status_commands(EXAMPLE)
    assert len(cmds) == 32
    ops = {c.operation for c in cmds}
    assert {"DescribeGlobalClusters", "GetMetricData", "GetHealthCheckStatus", "ListCopyJobs"} <= ops
    # The lag of the non-writer only: one GetMetricData for RDS lag, one per region for S3.
    assert sum(c.operation == "GetMetricData" for c in cmds) == 3


def test_bad_stack_files_and_cases(tmp_path: Path) -> None:
    files = badinputs.make_stack_files(EXAMPLE, tmp_path, closed_port=9)
    for name, path in files.items():
        if path.suffix == ".toml" and path.is_file() and name not in ("TOML syntax error", "binary garbage"):
            tomllib.loads(path.read_text(encoding="utf-8"))  # broken on purpose, but still TOML
    cases = badinputs.cases(files, EXAMPLE, {"status", "failover", "lab"})
    assert len(cases) >= 40 and len({c.name for c in cases}) == len(cases)


@pytest.mark.parametrize(
    ("rc", "stderr", "ok"),
    [
        (4, "drctl: error: stack file x not found — pass --stack\n", True),
        (0, "", False),
        (1, "drctl: error: internal error: ValueError: x\n", False),
        (4, "Traceback (most recent call last):\n  File ...\nValueError\n", False),
        (4, "drctl: error: one\ndrctl: error: two\n", False),
        (42, "drctl: error: x\n", False),
    ],
)
def test_judge_bad_input_answers(rc: int, stderr: str, ok: bool) -> None:
    assert (badinputs.judge(rc, stderr, "") == []) is ok


def test_secret_patterns() -> None:
    assert faults._hits('{"MasterUserPassword": "hunter22"}')
    assert faults._hits(f"x {faults.KNOWN_SECRETS[0]} y")
    assert not faults._hits('{"password": null, "note": "no secrets here"}')


def test_overlap_of_step_windows() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    cap = (t0, t0 + timedelta(seconds=4))
    pro = (t0 + timedelta(seconds=1), t0 + timedelta(seconds=9))
    assert failover.overlap_s(cap, pro) == 3.0
    assert failover.overlap_s(cap, None) == 0.0


def test_run_refuses_an_unknown_part_and_names_the_parts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run.main(["--only", "status,bogus", "--out", "/nonexistent/RESULTS.md"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.endswith("unknown part(s): bogus; choose from startup, status, throttle, failover, faults"), err
