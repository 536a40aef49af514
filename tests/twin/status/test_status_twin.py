"""`drctl status` end to end: the CLI against the offline twin seeded with a two-region topology."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from drctl.aws import ratelimit
from drctl.cli.app import run
from drctl.errors import ExitCode

pytestmark = [pytest.mark.twin]

DOCS = Path(__file__).resolve().parents[3] / "docs" / "status-json.md"
POLL_S = 30.0  # the lab evaluates alarms at their (scaled) period; a loaded machine needs slack


def status(capsys: pytest.CaptureFixture[str], stack: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    # Each `drctl status` is its own process with full client-side rate-limit buckets (drctl/aws/ratelimit.py);
    # in-process calls would share one.
    ratelimit.forget_shared()
    rc = run(["status", "--stack", str(stack), "--json", "--timeout", "4", *extra])
    out = capsys.readouterr().out
    return rc, json.loads(out)


def status_until(capsys, stack: Path, done) -> tuple[int, dict[str, Any]]:
    """Re-read until `done(report)` (signals take a second to appear); the last report either way."""
    end = time.monotonic() + POLL_S
    rc, report = status(capsys, stack)
    while not done(report) and time.monotonic() < end:
        time.sleep(0.5)
        rc, report = status(capsys, stack)
    return rc, report


def test_healthy_topology_is_ready(seeded, capsys) -> None:
    _, stack = seeded
    rc, report = status_until(capsys, stack, lambda r: r["ready"])
    assert report["reasons"] == [] and rc == ExitCode.OK
    assert report["writer_region"] == "us-east-1" and report["serving_region"] == "us-east-1"
    east, west = report["regions"]["us-east-1"], report["regions"]["us-west-2"]
    assert (east["role"], west["role"]) == ("writer", "secondary")
    assert east["serving"] and not west["serving"]
    assert east["health"] == west["health"] == "healthy"
    assert east["reachable"] and west["reachable"]
    assert west["replication_lag_ms"] is not None and east["replication_lag_ms"] is None
    assert report["estimated_rto_s"] <= report["rto_objective_s"]


def documented_keys(section: str) -> set[str]:
    """Keys in the first column of the table under `## <section>` in docs/status-json.md."""
    text = DOCS.read_text().split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return {line.split("`")[1] for line in text.splitlines() if line.startswith("| `")}


def test_json_keys_are_the_documented_ones(seeded, capsys) -> None:
    _, stack = seeded
    _, report = status(capsys, stack)
    assert set(report) == documented_keys("Top level")
    for region in report["regions"].values():
        assert set(region) == documented_keys("`regions.<name>`")
    for term in report["rpo_terms"] + report["rto_terms"]:
        assert set(term) == {"name", "seconds", "source", "estimate"}


def test_screen_renders_the_same_facts(seeded, capsys) -> None:
    _, stack = seeded
    status_until(capsys, stack, lambda r: r["ready"])
    rc = run(["status", "--stack", str(stack)])
    out = capsys.readouterr().out
    assert rc == ExitCode.OK
    for needle in (
        "READY",
        "writer: us-east-1",
        "serving: us-east-1",
        "Estimated RTO",
        "database writable (estimate)",
    ):
        assert needle in out, needle


def test_lag_above_objective_is_not_ready_and_exposes_the_lag(seeded, capsys) -> None:
    twin, stack = seeded
    twin.control.set_lag(2500)
    rc, report = status_until(capsys, stack, lambda r: r["rpo_exposure_s"] == 2.5)
    assert report["rpo_exposure_s"] == 2.5
    assert report["regions"]["us-west-2"]["replication_lag_ms"] == 2500
    assert rc == ExitCode.NOT_READY and report["ready"] is False
    assert any("replication lag 2500 ms > max 1000 ms" in r for r in report["reasons"])


def test_app_fault_in_primary_moves_serving_to_secondary(seeded, capsys) -> None:
    twin, stack = seeded
    twin.control.set_app_fault("us-east-1")
    _, report = status_until(capsys, stack, lambda r: r["serving_region"] == "us-west-2")
    assert report["serving_region"] == "us-west-2"
    assert report["regions"]["us-east-1"]["health"] == "unhealthy"
    assert report["regions"]["us-west-2"]["serving"] is True
    assert "SECONDARY is healthy" in report["serving_reason"]


def test_switch_alarm_on_primary_moves_serving_to_secondary(seeded, capsys) -> None:
    twin, stack = seeded
    # The switch for us-east-1 lives in us-west-2: drctl/Failover RegionDrained{Region=us-east-1} >= 1.
    twin.client("cloudwatch", "us-west-2").put_metric_data(
        Namespace="drctl/Failover",
        MetricData=[
            {"MetricName": "RegionDrained", "Dimensions": [{"Name": "Region", "Value": "us-east-1"}], "Value": 1}
        ],
    )
    _, report = status_until(capsys, stack, lambda r: r["serving_region"] == "us-west-2")
    assert report["serving_region"] == "us-west-2"
    east = report["regions"]["us-east-1"]
    assert east["health"] == "unhealthy"
    assert [c["health"] for c in east["health_checks"]].count("unhealthy") == 1


def test_us_east_1_outage_returns_within_twice_the_timeout(seeded, capsys) -> None:
    twin, stack = seeded
    status_until(capsys, stack, lambda r: r["ready"])  # warm: the lab has published its first samples
    twin.control.outage("us-east-1")
    timeout = 2.0
    started = time.monotonic()
    rc = run(["status", "--stack", str(stack), "--json", "--timeout", str(timeout)])
    elapsed = time.monotonic() - started
    report = json.loads(capsys.readouterr().out)
    assert elapsed < 2 * timeout, elapsed
    east, west = report["regions"]["us-east-1"], report["regions"]["us-west-2"]
    assert east["reachable"] is False and east["unreachable_reason"]
    assert west["reachable"] is True and west["cluster_status"] == "available"
    # Who writes is still known: the secondary region answers DescribeGlobalClusters.
    assert report["writer_region"] == "us-east-1"
    assert rc == ExitCode.NOT_READY and "us-east-1 is unreachable" in report["reasons"]


def test_stack_resource_missing_is_one_line_naming_it(seeded, capsys, tmp_path) -> None:
    import tomllib

    from drctl.stack import write_stack_file

    _, stack = seeded
    data = tomllib.loads(stack.read_text())
    data["regions"]["us-west-2"]["cluster_id"] = "drctl-lab-gone"
    wrong = write_stack_file(data, tmp_path / "wrong.toml")
    assert run(["status", "--stack", str(wrong), "--timeout", "4"]) == ExitCode.CONFIG
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert "DB cluster 'drctl-lab-gone' not found in us-west-2" in err[0] and "check the stack file" in err[0]


def test_watch_refreshes_and_exits_with_the_last_verdict(seeded, capsys, monkeypatch) -> None:
    import drctl.cli.status as cli_status

    _, stack = seeded
    status_until(capsys, stack, lambda r: r["ready"])
    monkeypatch.setattr(cli_status, "MAX_WATCH_ITERATIONS", 1)  # one refresh after the first screen
    rc = run(["status", "--stack", str(stack), "--watch", "--interval", "0.5"])
    out = capsys.readouterr().out
    assert rc == ExitCode.OK and "writer: us-east-1" in out


def test_writer_is_read_from_aws_after_a_switchover(seeded, capsys) -> None:
    twin, stack = seeded
    from drctl.stack import load_stack

    s = load_stack(stack)
    twin.control.set_durations(switchover_s=0)
    twin.client("rds", "us-west-2").switchover_global_cluster(
        GlobalClusterIdentifier=s.global_cluster_id, TargetDbClusterIdentifier=s.secondary.cluster_arn
    )
    _, report = status_until(capsys, stack, lambda r: r["writer_region"] == "us-west-2")
    assert report["writer_region"] == "us-west-2"
    east, west = report["regions"]["us-east-1"], report["regions"]["us-west-2"]
    assert (east["role"], east["deployment_role"]) == ("secondary", "primary")
    assert (west["role"], west["deployment_role"]) == ("writer", "secondary")
    # Traffic was not flipped: Route53 still answers the primary record, and status says so.
    assert report["serving_region"] == "us-east-1"
    assert "Route53 answers us-east-1 but the writer is us-west-2" in report["warnings"]


def test_s3_backlog_of_the_writer_bucket(seeded, capsys) -> None:
    twin, stack = seeded
    twin.control.set_backlog(7, 4096)
    _, report = status_until(capsys, stack, lambda r: r["regions"]["us-east-1"]["s3"]["operations_pending"] == 7)
    s3 = report["regions"]["us-east-1"]["s3"]
    assert (s3["operations_pending"], s3["bytes_pending"]) == (7, 4096)
    assert s3["rtc"] is True and s3["destination_bucket"] == report["regions"]["us-west-2"]["s3"]["bucket"]


def test_outage_screen_shows_the_region_unreachable_and_the_rest(seeded, capsys) -> None:
    twin, stack = seeded
    status_until(capsys, stack, lambda r: r["ready"])
    twin.control.outage("us-east-1")
    rc = run(["status", "--stack", str(stack), "--timeout", "2"])
    out = capsys.readouterr().out
    assert rc == ExitCode.NOT_READY
    assert "NOT READY" in out and "NO: " in out and "• us-east-1 is unreachable" in out
    assert "available, connected" in out  # the secondary's database row still renders


def test_lag_published_with_source_region_is_found(seeded, capsys) -> None:
    """AWS shows the lag metrics in the secondary's region under {DBClusterIdentifier, SourceRegion}; the lab
    publishes {DBClusterIdentifier} only, so the test publishes the other set itself (PutMetricData, us-west-2)."""
    from datetime import UTC, datetime, timedelta

    from drctl.stack import load_stack

    twin, stack = seeded
    cluster = load_stack(stack).regions["us-west-2"].cluster_id
    cw = twin.client("cloudwatch", "us-west-2")
    with_source = [
        {"Name": "DBClusterIdentifier", "Value": cluster},
        {"Name": "SourceRegion", "Value": "us-east-1"},
    ]

    def publish(ms: float) -> None:
        cw.put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {"MetricName": name, "Dimensions": with_source, "Value": ms, "Unit": "Milliseconds"}
                for name in ("AuroraGlobalDBReplicationLag", "AuroraGlobalDBRPOLag")
            ],
        )

    RPO_LAG = "AuroraGlobalDBRPOLag"

    def newest(dims: list[dict[str, str]]) -> float | None:
        now = datetime.now(UTC)
        resp = cw.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "q",
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/RDS", "MetricName": RPO_LAG, "Dimensions": dims},
                        "Period": 60,
                        "Stat": "Maximum",
                    },
                }
            ],
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=2),
            ScanBy="TimestampDescending",
        )
        values = resp["MetricDataResults"][0]["Values"]
        return max(values) if values else None

    # The twin matches dimension sets exactly, as CloudWatch does: the old single-dimension query misses it.
    publish(7777)
    assert newest(with_source) == 7777
    assert newest([{"Name": "DBClusterIdentifier", "Value": cluster}]) != 7777

    end = time.monotonic() + POLL_S
    while True:
        publish(7777)  # each read sees it in the current minute, whatever the lab publishes meanwhile
        rc, report = status(capsys, stack)
        if report["regions"]["us-west-2"]["rpo_lag_ms"] == 7777 or time.monotonic() > end:
            break
        time.sleep(0.5)
    west = report["regions"]["us-west-2"]
    assert west["rpo_lag_ms"] == 7777 and west["replication_lag_ms"] == 7777
    assert west["rpo_lag_age_s"] is not None and west["rpo_lag_age_s"] < 120
    database = next(t for t in report["rpo_terms"] if t["name"] == "database")
    assert "{DBClusterIdentifier,SourceRegion}" in database["source"]
    assert rc == ExitCode.NOT_READY
    assert any("replication lag 7777 ms > max 1000 ms" in r for r in report["reasons"])
