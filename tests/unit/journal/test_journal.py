"""The run record: typed events on disk and back, the one reader, phases and the list of runs."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from drctl.errors import DrctlError, ExitCode
from drctl.journal.events import (
    PromotionSent,
    RunFinished,
    RunResumed,
    RunStarted,
    StepEnded,
    StepStarted,
    Unknown,
    parse,
)
from drctl.journal.log import Journal, RunLog, list_runs, new_run_id, run_dir
from drctl.journal.phases import compute_phases, critical_path_s, operator_seconds


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DRCTL_HOME", str(tmp_path))
    return tmp_path


def header(run_id: str = "20261129T121500Z-ab12") -> RunStarted:
    return RunStarted(
        run_id=run_id,
        request={"to_region": "us-west-2"},
        from_region="us-east-1",
        to_region="us-west-2",
        mode="planned",
    )


def test_a_torn_last_line_ends_the_journal_and_the_rest_stands(home: Path) -> None:
    run_id = new_run_id()
    j = Journal.create(header(run_id))
    j.append(StepStarted(step="preflight"))
    j.append(StepEnded(step="preflight", outcome="ok", elapsed_s=0.2, result={"facts": {}}))
    j.append(StepStarted(step="promote"))
    with j.path.open("a") as f:
        f.write('{"event": "end", "step": "prom')  # kill -9 in the middle of a write
    log = Journal.open(run_id).read()
    assert set(log.done) == {"preflight"} and log.started_only == ["promote"] and log.finished is None
    assert [(r.run_id, r.outcome) for r in list_runs()] == [(run_id, "unfinished")]


def test_every_event_kind_survives_disk_unchanged(home: Path) -> None:
    j = Journal.create(header(new_run_id()))
    written = [
        StepStarted(step="promote"),
        PromotionSent(
            step="promote", operation="SwitchoverGlobalCluster", details={"request_id": "r-1", "at": 1.5}
        ),
        StepEnded(step="promote", outcome="ok", elapsed_s=3.25, result={"sends": 1}, calls=[{"operation": "X"}]),
        RunFinished(outcome="completed", report={"rto_s": 4.0}),
    ]
    stamped = [j.append(e) for e in written]
    log = j.read()
    assert [type(e) for e in log.events[1:]] == [type(e) for e in written]
    assert [e.to_record() for e in log.events[1:]] == [e.to_record() for e in stamped]
    assert log.sent[0].request_id == "r-1" and log.sent[0].details["at"] == 1.5
    assert json.loads(j.path.read_text().splitlines()[2])["request_id"] == "r-1"  # flat on disk


def test_an_unknown_or_damaged_line_is_kept_not_misread() -> None:
    assert isinstance(parse({"event": "from-the-future", "ts": "2026-01-01T00:00:00+00:00"}), Unknown)
    assert isinstance(parse({"event": "end", "ts": "2026-01-01T00:00:00+00:00"}), Unknown)  # no step/outcome


def test_a_run_resumed_after_its_finish_is_unfinished_again() -> None:
    log = _log([RunFinished(outcome="failed"), RunResumed(pid=2)])
    assert log.finished is None and log.outcome == "unfinished" and log.attempts == 2


def test_unknown_run_id_is_a_config_error(home: Path) -> None:
    for bad in ("20261129T121500Z-ab12", "../../etc", ""):
        with pytest.raises(DrctlError) as e:
            run_dir(bad)
        assert e.value.code == ExitCode.CONFIG and "drctl runs" in (e.value.hint or "")


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "journal.jsonl"
    bad.write_text('{"event": "start", "step": "x", "ts": "2026-01-01T00:00:00+00:00"}\n')
    with pytest.raises(DrctlError) as e:
        RunLog.read(bad)
    assert e.value.code == ExitCode.CONFIG


# ---------------------------------------------------------------------------------------------- phases


def _log(events: list[Any], *, at: list[float] | None = None) -> RunLog:
    """A journal in memory whose events are written at `at` seconds after the header (default 1 s apart)."""
    t0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    times = at or [float(i + 1) for i in range(len(events))]
    records = [{**header().to_record(), "ts": t0.isoformat()}]
    for e, t in zip(events, times, strict=True):
        records.append({**e.to_record(), "ts": (t0 + timedelta(seconds=t)).isoformat()})
    return RunLog.from_records(records)


def _step(name: str, start: float, end: float, outcome: str = "ok") -> tuple[list[Any], list[float]]:
    return [StepStarted(step=name), StepEnded(step=name, outcome=outcome, elapsed_s=end - start)], [start, end]


def _run(*steps: tuple[list[Any], list[float]]) -> RunLog:
    events, times = [], []
    for ev, ts in sorted(steps, key=lambda s: s[1][0]):
        events += ev
        times += ts
    order = sorted(range(len(times)), key=lambda i: times[i])
    return _log([events[i] for i in order], at=[times[i] for i in order])


def test_a_prompt_between_preflight_steps_is_not_preflight_time() -> None:
    log = _run(
        _step("lock", 0.0, 0.1),
        _step("preflight", 0.1, 0.5),
        _step("confirm", 0.5, 30.5),  # the operator read the plan for 30 s
        _step("sample_rpo", 30.5, 30.7),
        _step("promote", 30.7, 40.7),
        _step("capacity", 30.7, 35.0),
        _step("flip", 40.7, 41.0),
        _step("verify", 41.0, 42.0),
    )
    ph = {p.name: p for p in compute_phases(log)}
    assert ph["preflight"].seconds == pytest.approx(0.7)
    assert (ph["preflight"].start_s, ph["preflight"].end_s) == (0.0, 30.7)  # its span still shows where it was
    assert operator_seconds(list(ph.values())) == pytest.approx(30.0)
    assert critical_path_s(list(ph.values())) == pytest.approx(0.7 + 10.0 + 0.3 + 1.0)
    assert [p.name for p in compute_phases(log)] == [
        "preflight",
        "confirmation",
        "capacity",
        "promotion",
        "traffic flip",
        "verification",
    ]


def test_overlapping_attempts_of_a_step_count_once_and_the_worst_outcome_wins() -> None:
    log = _run(_step("promote", 1.0, 4.0, "failed"), _step("flip", 5.0, 6.0))
    log = RunLog.from_records(
        [e.to_record() for e in log.events]
        + [
            {**StepStarted(step="promote").to_record(), "ts": log.events[-1].ts},
            {**StepEnded(step="promote", outcome="ok", elapsed_s=4.0).to_record(), "ts": log.events[-1].ts},
        ]
    )
    promotion = next(p for p in compute_phases(log) if p.name == "promotion")
    assert promotion.outcome == "failed" and promotion.seconds == pytest.approx(5.0)  # [1,4] union [2,6]


def test_a_step_that_never_ended_runs_to_the_last_line() -> None:
    log = _log([StepStarted(step="promote"), RunResumed(pid=3)], at=[2.0, 9.0])
    (promotion,) = compute_phases(log)
    assert (promotion.seconds, promotion.outcome) == (7.0, "unfinished")


# --------------------------------------------------------------------------------------------- recovery


def test_recovery_points_come_from_milestones_and_the_headline_is_dns_not_the_run() -> None:
    from drctl.journal.events import Milestone
    from drctl.journal.phases import headline, recovery_points

    t0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC).timestamp()
    start = replace(header(), clock_start=t0 - 1.0)  # drctl started 1 s before it wrote the header

    def m(name: str, at: float, **detail: Any) -> Milestone:
        return Milestone(name=name, at_epoch=t0 + at, source=f"{name} read", detail=detail)

    events = [
        m("promotion sent", 2.0),
        m("database writable", 9.0),
        m("switch datapoint put", 9.5),
        m("DNS answers target", 75.0, ttl_s=60),
        m("database writable", 30.0),  # a later re-read: the first observation counts
        m("target serving", 77.0),
    ]
    records = [{**start.to_record(), "ts": datetime.fromtimestamp(t0, UTC).isoformat()}]
    records += [{**e.to_record(), "ts": datetime.fromtimestamp(t0 + 1, UTC).isoformat()} for e in events]
    points = recovery_points(RunLog.from_records(records))
    assert [(p.name, p.at_s) for p in points] == [
        ("promotion sent", 3.0),
        ("database writable", 10.0),
        ("switch datapoint put", 10.5),
        ("DNS answers target", 76.0),
        ("target serving", 78.0),
        ("clients converge", 136.0),  # a bound, listed at its time (a timeline)
    ]
    assert points[-1].bound and "TTL" in points[-1].source
    top = headline(points)
    assert top is not None and (top.name, top.at_s) == ("target serving", 78.0)  # probed: serving is the headline


def test_without_a_dns_answer_there_is_no_headline() -> None:
    from drctl.journal.phases import headline

    assert headline([]) is None
