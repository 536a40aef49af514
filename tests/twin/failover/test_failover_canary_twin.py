"""`drctl failover --canary` on the twin, the canary writing to a real PostgreSQL (tests/pg.py; the lab's own
databases behind its clusters are another piece of work): ground truth journaled and reported beside the
estimate; a stack without a canary endpoint is refused in one line before anything happens."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pg
import pytest
from failover_helpers import failover

from drctl.report import write_reports
from drctl.stack import write_stack_file

pytestmark = [pytest.mark.twin]


@pytest.fixture
def server() -> Iterator[pg.PgServer]:
    s = pg.start_server()
    try:
        yield s
    finally:
        pg.remove(s)


def with_canary(stack: Path, server: pg.PgServer) -> Path:
    data = tomllib.loads(stack.read_text())
    data["canary"] = {
        "endpoints": [server.endpoint],
        "database": "postgres",
        "rate": 20,
        "static_credentials": {"user": pg.SUPERUSER, "password": pg.PASSWORD},
    }
    return write_stack_file(data, stack)


def test_failover_with_the_canary_reports_ground_truth_beside_the_estimate(
    fast, server: pg.PgServer, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, stack = fast
    rc, report = failover(capsys, with_canary(stack, server), "--to", "secondary", "--canary")
    assert rc == 0, report["_stderr"]
    truth = report["canary"]
    assert truth["acked"] > 0 and truth["missing"] == 0, truth
    rows = server.sql(f"SELECT count(*) FROM drctl_canary WHERE run_id = '{report['run_id']}'")
    assert rows[0][0] == truth["acked"] + truth["unacked_present"]
    assert report["rpo"]  # the estimate is still there, beside the truth
    run_dir = Path(report["journal"]).parent
    events = [json.loads(line) for line in Path(report["journal"]).read_text().splitlines()]
    assert events[-1]["event"] == "canary" and events[-1]["result"]["acked"] == truth["acked"]
    assert (run_dir / "canary" / "acks.jsonl").is_file()
    written = write_reports(run_dir)
    md, html = written["md"].read_text(), written["html"].read_text()
    assert "| RPO (canary, measured) | 0 of" in md and "| Write outage (canary, measured) |" in md
    assert "RPO (canary, measured)" in html and "Write outage (canary, measured)" in html
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert pg.PASSWORD.encode() not in path.read_bytes(), path


def test_canary_without_an_endpoint_is_one_line_exit_4_before_anything_happens(
    fast, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    twin, stack = fast
    rc, report = failover(capsys, stack, "--to", "secondary", "--canary")
    assert rc == 4
    [line] = report["_stderr"].strip().splitlines()
    assert "has no database endpoint for the canary" in line
    assert not (home / "runs").exists() or not list((home / "runs").iterdir())
    assert twin.control.requests() == []
