"""`--watch` refresh loop: a refresh where nothing answers keeps watching; other errors end it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import drctl.cli.status as cli_status
from drctl.errors import AuthError, DrctlError, ExitCode, Unreachable
from drctl.models import StatusReport


def report(ready: bool) -> StatusReport:
    return StatusReport(
        stack_name="s",
        generated_at=datetime.now(UTC),
        global_cluster=None,
        writer_region="us-east-1",
        regions={},
        serving_region="us-east-1",
        serving_reason="PRIMARY record's health check is healthy",
        rpo_exposure_s=0.1,
        rpo_terms=(),
        estimated_rto_s=210.0,
        rto_terms=(),
        rpo_objective_s=5.0,
        rto_objective_s=600.0,
        max_switchover_lag_ms=1000.0,
        ready=ready,
        reasons=() if ready else ("replication lag 2500 ms > max 1000 ms",),
    )


def test_unreachable_refresh_keeps_watching(monkeypatch, capsys) -> None:
    monkeypatch.setattr(cli_status, "MAX_WATCH_ITERATIONS", 2)  # the first screen, then two refreshes
    blink = Unreachable("no AWS endpoint answered")
    answers = iter([report(False), report(True), blink])

    def get() -> StatusReport:
        item = next(answers)
        if isinstance(item, Exception):
            raise item
        return item

    assert cli_status._watch(get, 0.0) == ExitCode.OK  # the last verdict that could be read
    out = capsys.readouterr().out  # off a terminal, Live prints only the final screen: it has the note
    assert "refresh failed" in out and "no AWS endpoint answered" in out


def test_other_errors_end_the_watch(monkeypatch) -> None:
    monkeypatch.setattr(cli_status, "MAX_WATCH_ITERATIONS", 3)
    answers = iter([report(True), AuthError("access denied")])

    def get() -> StatusReport:
        item = next(answers)
        if isinstance(item, Exception):
            raise item
        return item

    with pytest.raises(DrctlError) as e:
        cli_status._watch(get, 0.0)
    assert e.value.code == ExitCode.AWS_AUTH


def test_watch_exit_code_is_the_last_verdict(monkeypatch) -> None:
    monkeypatch.setattr(cli_status, "MAX_WATCH_ITERATIONS", 1)
    answers = iter([report(True), report(False)])
    assert cli_status._watch(lambda: next(answers), 0.0) == ExitCode.NOT_READY
