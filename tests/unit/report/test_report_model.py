"""The run model rebuilt from a journal alone (recorded journals of a real twin run, and crafted ones)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drctl.report.model import PHASES, build_model, load_model, load_records

FIXTURES = Path(__file__).parents[2] / "fixtures" / "runs"


def records(name: str) -> list[dict[str, Any]]:
    return load_records(FIXTURES / f"{name}.jsonl")


def finish_report(recs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in recs if r.get("event") == "finish")["report"]


def test_unplanned_run_phases_rto_rpo_and_topology() -> None:
    recs = records("unplanned")
    m = build_model(recs)
    rep = finish_report(recs)
    assert [p.name for p in m.phases] == [
        p for p in PHASES if p not in ("confirmation", "capacity after flip", "after recovery")
    ]
    assert all(p.end_s >= p.start_s >= 0 for p in m.phases)
    # capacity and promotion ran side by side
    cap, prom = m.phases[1], m.phases[2]
    assert cap.start_s < prom.end_s and prom.start_s < cap.end_s
    assert (m.rto_s, m.rpo_s) == (rep["rto_s"], rep["rpo_s"]) == (2.695, 2.5)
    assert m.rpo_sample is not None and m.rpo_sample.value_ms == 2500.0
    assert m.rpo_sample.metric == "AuroraGlobalDBRPOLag" and m.rpo_sample.region == "us-west-2"
    assert m.before.writer == "us-east-1" and m.after.writer == "us-west-2"
    assert m.after.serving == "us-west-2" and "switch thrown" in m.after.serving_source
    assert m.outcome == "completed" and m.attempts == 1


def test_every_mutating_call_with_its_request_id_and_no_reads() -> None:
    m = build_model(records("unplanned"))
    ops = [(c.operation, c.region) for c in m.calls]
    assert ops == [
        ("PutItem", "us-west-2"),
        ("FailoverGlobalCluster", "us-west-2"),
        ("UpdateAutoScalingGroup", "us-west-2"),
        ("PutMetricData", "us-west-2"),
        ("SetAlarmState", "us-west-2"),
    ]
    promotion = m.calls[1]
    assert promotion.request_id == "3793d029-2b0d-4624-96d6-a4eccb98fb7a"
    assert all(c.request_id for c in m.calls)


def test_planned_run_is_lossless_and_verified() -> None:
    m = build_model(records("planned"))
    assert m.rpo_s == 0.0 and "lossless" in m.rpo_source and "lag was 200 ms" in m.rpo_evidence
    assert m.after.serving == "us-east-1" and m.after.serving_source.startswith("verified")
    assert m.verification["fencing"]["verdict"] == "verified"
    assert "SwitchoverGlobalCluster" in [c.operation for c in m.calls]


def test_objectives_met_and_missed_from_the_header() -> None:
    recs = records("unplanned")
    recs[0] = {**recs[0], "objectives": {"rpo_s": 1.0, "rto_s": 600.0, "max_switchover_lag_ms": 1000.0}}
    verdicts = {o.name: o.verdict for o in build_model(recs).objectives}
    assert verdicts == {"RTO": "met", "RPO": "missed"}
    recs[0]["objectives"] = {"rpo_s": 5.0, "rto_s": 2.0}
    verdicts = {o.name: o.verdict for o in build_model(recs).objectives}
    assert verdicts == {"RTO": "missed", "RPO": "met"}


def test_objectives_unknown_when_the_journal_does_not_record_them() -> None:
    recs = records("unplanned")
    recs[0] = {k: v for k, v in recs[0].items() if k != "objectives"}
    assert {o.verdict for o in build_model(recs).objectives} == {"unknown"}


def test_a_run_killed_after_sending_the_promotion(tmp_path: Path) -> None:
    """The journal ends inside the promote step (plus a torn line): still a report, honestly labelled."""
    lines = (FIXTURES / "unplanned.jsonl").read_text().splitlines()
    cut = next(i for i, line in enumerate(lines) if '"event": "sent"' in line)
    journal = tmp_path / "journal.jsonl"
    journal.write_text("\n".join(lines[: cut + 1]) + '\n{"ts": "2026-11-29T12:3')
    m = load_model(journal)
    assert m.outcome == "unfinished" and m.finished is None
    promotion = next(p for p in m.phases if p.name == "promotion")
    assert promotion.outcome == "unfinished"
    assert "FailoverGlobalCluster" in [c.operation for c in m.calls]
    assert m.rpo_s is None and m.rto_s is not None and m.rto_source.startswith("estimate")
    assert "--resume" in m.message


def test_a_file_that_is_not_a_journal_is_a_config_error(tmp_path: Path) -> None:
    from drctl.errors import ConfigError

    bad = tmp_path / "journal.jsonl"
    bad.write_text(json.dumps({"ts": "2026-11-29T12:00:00+00:00", "event": "start"}) + "\n")
    with pytest.raises(ConfigError):
        load_model(bad)


def test_a_refused_run_changed_nothing() -> None:
    from drctl.report.markdown import render_markdown

    m = build_model(records("refused"))
    assert m.outcome == "refused" and not m.moved
    assert [p.name for p in m.phases] == ["preflight"] and m.phases[0].outcome == "refused"
    assert m.refusals and "replication lag above the bound" in m.refusals[0]
    assert any(c["ok"] is False for c in m.checks)
    assert m.before.writer == m.after.writer == "us-west-2" and "unchanged" in m.after.writer_source
    assert {o.verdict for o in m.objectives} == {"not applicable"}
    assert [c.operation for c in m.calls] == ["PutItem"]  # only the run lock
    md = render_markdown(m)
    assert "| RTO | **not applicable**" in md and "**refused**: replication lag above the bound" in md


def test_a_resumed_run_counts_its_attempts_and_reports_the_last_finish() -> None:
    recs = records("unplanned")
    cut = next(i for i, r in enumerate(recs) if r.get("event") == "end" and r.get("step") == "sample_rpo") + 1
    ts = recs[cut]["ts"]
    stopped = {"ts": ts, "event": "finish", "outcome": "interrupted", "report": {"rto_s": 0.3, "rpo": {}}}
    resumed = {"ts": ts, "event": "resume", "pid": 1, "done": ["lock", "preflight", "sample_rpo"]}
    m = build_model([*recs[:cut], stopped, resumed, *recs[cut:]])
    assert m.attempts == 2 and m.outcome == "completed"
    assert [p.name for p in m.phases] == [
        p for p in PHASES if p not in ("confirmation", "capacity after flip", "after recovery")
    ]
    assert m.rto_s == 2.695

    half = build_model([*recs[:cut], stopped, resumed])  # resumed, not finished yet
    assert half.outcome == "unfinished" and half.attempts == 2


def _with_clock_start(recs: list[dict[str, Any]], before_s: float) -> list[dict[str, Any]]:
    from datetime import datetime

    header_epoch = datetime.fromisoformat(recs[0]["ts"]).timestamp()
    return [{**recs[0], "clock_start": round(header_epoch - before_s, 3)}, *recs[1:]]


def test_the_rto_clock_starts_at_drctls_process_start_before_the_header() -> None:
    from drctl.report.html import render_html
    from drctl.report.markdown import render_markdown

    recs = _with_clock_start(records("unplanned"), 0.4)
    m = build_model(recs)
    assert m.rto_start_s == pytest.approx(-0.4, abs=1e-3)
    assert m.rto_end_s == pytest.approx(-0.4 + 2.695, abs=1e-3)  # no confirmation prompt in this run
    assert m.rto_clock == "RTO clock started 0.4 s before the run header (drctl process start)"
    md = render_markdown(m)
    assert "| RTO clock | RTO clock started 0.4 s before the run header (drctl process start) |" in md
    assert "clock from -0.4" in md
    assert "RTO clock started 0.4 s before the run header" in render_html(m)


def test_the_confirmation_prompt_moves_the_rto_clocks_end() -> None:
    """The runner leaves the prompt out of the RTO: on the header's timeline the clock stops at
    start + prompt + RTO."""
    base = "2026-11-29T12:00:0"
    recs: list[dict[str, Any]] = [
        {
            "ts": f"{base}0.000+00:00",
            "event": "run",
            "run_id": "r",
            "request": {},
            "mode": "planned",
            "from_region": "us-east-1",
            "to_region": "us-west-2",
        },
        {"ts": f"{base}0.100+00:00", "event": "start", "step": "confirm"},
        {"ts": f"{base}5.100+00:00", "event": "end", "step": "confirm", "outcome": "ok", "elapsed_s": 5.0},
        {"ts": f"{base}8.000+00:00", "event": "finish", "outcome": "completed", "report": {"rto_s": 2.0}},
    ]
    m = build_model(_with_clock_start(recs, 0.5))
    assert (m.rto_start_s, m.rto_end_s) == (pytest.approx(-0.5), pytest.approx(-0.5 + 5.0 + 2.0))
    assert "the confirmation prompt's 5 s left out" in m.rto_clock


def test_an_unfinished_run_counts_from_the_process_start_too(tmp_path: Path) -> None:
    recs = _with_clock_start(records("unplanned"), 0.25)
    cut = next(i for i, r in enumerate(recs) if r.get("event") == "finish")
    m = build_model(recs[:cut])
    assert m.finished is None and m.rto_start_s == pytest.approx(-0.25, abs=1e-3)
    assert m.rto_s == pytest.approx(m.rto_end_s - m.rto_start_s, abs=1e-3)
    assert "from drctl's start" in m.rto_source


def test_older_journals_say_the_clock_start_is_inferred() -> None:
    m = build_model(records("unplanned"))
    assert m.rto_clock.startswith("RTO clock start inferred as the finish line minus the RTO")
    assert m.rto_end_s is not None and m.rto_start_s == pytest.approx(m.rto_end_s - m.rto_s, abs=1e-3)
