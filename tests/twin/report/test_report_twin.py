"""On the twin: a failover writes its reports at the end, and `drctl report` agrees with `failover --json`."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from drctl.cli.app import run
from drctl.errors import ExitCode

pytestmark = [pytest.mark.twin]


def wait_for_lag(twin: Any, ms: float, region: str = "us-west-2", timeout_s: float = 20.0) -> None:
    """Until the lab's published RPO lag for the secondary reads `ms` (published as AWS does: in the secondary's
    region, DBClusterIdentifier + SourceRegion, standard resolution)."""
    cw = twin.client("cloudwatch", region)
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        got = cw.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "lag",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/RDS",
                            "MetricName": "AuroraGlobalDBRPOLag",
                            "Dimensions": [
                                {"Name": "DBClusterIdentifier", "Value": "drctl-lab-usw2"},
                                {"Name": "SourceRegion", "Value": "us-east-1"},
                            ],
                        },
                        "Period": 60,
                        "Stat": "Maximum",
                    },
                }
            ],
            StartTime=time.time() - 120,
            EndTime=time.time() + 5,
            ScanBy="TimestampDescending",
        )["MetricDataResults"][0]["Values"]
        if got and abs(got[0] - ms) < 1:
            return
        time.sleep(0.5)
    raise AssertionError(f"the lab did not publish {ms} ms lag")


def figure(md: str, name: str) -> float:
    m = re.search(rf"^\| {name} \| \*\*([0-9.]+) s\*\*", md, re.MULTILINE)
    assert m, f"no {name} in the Markdown report"
    return float(m.group(1))


def test_unplanned_failover_report_matches_its_json(
    seeded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    twin, stack = seeded
    monkeypatch.setenv("DRCTL_HOME", str(tmp_path / "home"))
    twin.control.set_durations(switchover_s=1.0, failover_s=1.0, promote_s=1.0, warmup_s=0.5)
    twin.control.set_lag(1800)
    wait_for_lag(twin, 1800)
    twin.control.outage("us-east-1", route53=True)
    argv = ["failover", "--stack", str(stack), "--to", "secondary", "--mode", "unplanned", "--allow-data-loss"]
    try:
        rc = run([*argv, "--yes", "--json"])
    finally:
        twin.control.restore()
    out = capsys.readouterr()
    assert rc == ExitCode.OK, out.err
    result = json.loads(out.out)
    folder = Path(result["journal"]).parent
    # Written at the end of the failover, beside the journal.
    assert {p.name for p in folder.iterdir()} >= {"journal.jsonl", "report.md", "report.html", "report.json"}
    written = (folder / "report.md").read_text()
    assert figure(written, "RTO") == result["rto_s"] and figure(written, "RPO") == result["rpo_s"]
    assert abs(result["rpo_s"] - 1.8) <= 0.1

    assert run(["report", result["run_id"]]) == ExitCode.OK  # rebuilt on demand: the same figures
    md = capsys.readouterr().out
    assert figure(md, "RTO") == result["rto_s"] and figure(md, "RPO") == result["rpo_s"]
    assert "FailoverGlobalCluster" in md and "| RTO | 600 s |" in md and "**met**" in md

    assert run(["runs", "--json"]) == ExitCode.OK
    rows = json.loads(capsys.readouterr().out)
    assert [(r["run_id"], r["outcome"], r["rto_s"]) for r in rows] == [
        (result["run_id"], "completed", result["rto_s"])
    ]
