"""`drctl failover` end to end on the offline twin (seeded two-region topology), through the CLI."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest
from failover_helpers import GLOBAL_ID, PROMOTIONS, failover, lab_healthy, mutations, promotions, writer_region

from drctl.aws.rds import keep_snapshot_id
from drctl.cli.app import run
from drctl.errors import ExitCode
from drctl.stack import load_stack

pytestmark = [pytest.mark.twin]


def test_planned_failover_and_failback(fast, home, capsys) -> None:
    twin, stack = fast
    run(["failover", "--help"])  # one-time imports are not part of a run
    capsys.readouterr()
    started = time.time()
    rc, report = failover(capsys, stack, "--to", "secondary")
    assert rc == ExitCode.OK, report
    assert report["outcome"] == "completed"
    assert (report["from_region"], report["to_region"], report["mode"]) == ("us-east-1", "us-west-2", "planned")
    assert writer_region(twin) == "us-west-2"
    assert report["verification"]["traffic"]["verdict"] == "verified"
    assert report["verification"]["traffic"]["serving"] == "us-west-2"
    assert report["verification"]["fencing"]["verdict"] == "verified"
    assert report["rpo_s"] == 0.0 and "lag was 200 ms" in report["rpo"]["evidence"]
    # The run's wall clock: from the command's start to its journal's finish record.
    finish = json.loads(Path(report["journal"]).read_text().splitlines()[-1])
    wall = datetime.fromisoformat(finish["ts"]).timestamp() - started
    assert finish["event"] == "finish" and abs(report["rto_s"] - wall) <= 0.5, (report["rto_s"], wall)
    assert {p["name"] for p in report["phases"]} >= {"preflight", "capacity", "promotion", "traffic flip"}
    assert len(promotions(twin)) == 1
    # Route53 answers PRIMARY while healthy: the primary record stopped serving, the secondary serves.
    assert lab_healthy(twin, stack) == {"us-east-1": False, "us-west-2": True}

    # Straight back: the drain datapoint is still inside the switch alarm's 60 s period (the Terraform's, which the
    # seed mirrors), so resetting the switch now would leave the Maximum at 1. The failback waits it out.
    rc, back = failover(capsys, stack, "--to", "primary")
    assert rc == ExitCode.OK, back
    assert back["outcome"] == "completed" and back["to_region"] == "us-east-1"
    assert "still inside its alarm's 60s period" in back["_stderr"]
    switch = [
        r for r in twin.control.requests() if r.get("operation") == "PutMetricData" and r["region"] == "us-west-2"
    ]
    assert len(switch) == 2, switch  # the drain (failover), the reset (failback)
    assert switch[1]["ts"] - switch[0]["ts"] >= 60.0, switch
    assert writer_region(twin) == "us-east-1"
    assert back["verification"]["traffic"]["serving"] == "us-east-1"
    assert lab_healthy(twin, stack) == {"us-east-1": True, "us-west-2": True}


def test_unplanned_failover_never_calls_the_failed_region(fast, home, capsys) -> None:
    twin, stack = fast
    twin.control.set_lag(2500)
    time.sleep(2.2)  # the lab publishes the new lag within a second
    twin.control.outage("us-east-1", route53=True)
    twin.control.clear_requests()
    rc, report = failover(capsys, stack, "--to", "us-west-2", "--mode", "unplanned", "--allow-data-loss")
    assert rc == ExitCode.OK, report
    assert report["outcome"] == "completed" and report["mode"] == "unplanned"
    log = twin.control.requests()
    assert log, "the gateway logged nothing"
    assert not [r for r in log if r.get("port_role") in ("us-east-1", "global") or r.get("region") == "us-east-1"]
    assert [r["operation"] for r in log if r.get("operation") in PROMOTIONS] == ["FailoverGlobalCluster"]
    assert abs(report["rpo_s"] - 2.5) <= 0.1, report["rpo"]
    assert "AuroraGlobalDBRPOLag" in report["rpo"]["source"]
    assert report["verification"]["fencing"]["verdict"] == "unverifiable"
    assert report["verification"]["traffic"]["verdict"] == "switch-thrown"
    assert lab_healthy(twin, stack) == {"us-east-1": False, "us-west-2": True}
    twin.control.restore()
    assert writer_region(twin) == "us-west-2"


def test_lag_above_bound_is_refused_and_nothing_changes(fast, home, capsys) -> None:
    twin, stack = fast
    twin.control.set_lag(5000)
    time.sleep(2.2)
    twin.control.clear_requests()
    rc, report = failover(capsys, stack, "--to", "secondary")
    assert rc == ExitCode.REFUSED and report["outcome"] == "refused" and report["run_id"], report["_stderr"]
    last = report["_stderr"].splitlines()[-1]
    assert last.startswith("drctl: error: preflight refused") and "replication lag above the bound" in last
    # Only the run lock's own conditional write and release; nothing of the stack.
    assert {(r["service"], r["operation"]) for r in mutations(twin)} <= {
        ("dynamodb", "PutItem"),
        ("dynamodb", "DeleteItem"),
    }
    assert writer_region(twin) == "us-east-1"
    # --force overrides that bound (and only that), loudly.
    rc, forced = failover(capsys, stack, "--to", "secondary", "--force")
    assert rc == ExitCode.OK and forced["outcome"] == "completed"
    assert any("--force" in w for w in forced["warnings"]) and "WARNING: --force" in forced["_stderr"]
    assert writer_region(twin) == "us-west-2"


def test_to_the_current_writer_is_a_no_op(fast, home, capsys) -> None:
    twin, stack = fast
    rc, report = failover(capsys, stack, "--to", "primary")
    assert rc == ExitCode.OK and report["outcome"] == "no-op"
    assert "already writes" in report["message"]
    assert promotions(twin) == []  # the run read the global cluster and could have promoted
    assert writer_region(twin) == "us-east-1"
    assert lab_healthy(twin, stack) == {"us-east-1": True, "us-west-2": True}


def test_dry_run_prints_the_calls_and_makes_none(fast, home, capsys) -> None:
    twin, stack = fast
    rc = run(["failover", "--stack", str(stack), "--to", "secondary", "--dry-run", "--json"])
    plan = json.loads(capsys.readouterr().out)
    assert rc == ExitCode.OK
    ops = [(c["service"], c["operation"], c["region"]) for c in plan["calls"]]
    assert ("rds", "SwitchoverGlobalCluster", "us-west-2") in ops
    assert ("cloudwatch", "PutMetricData", "us-west-2") in ops
    assert ("cloudwatch", "SetAlarmState", "us-west-2") in ops
    assert [r["operation"] for r in twin.control.requests()], "the dry run read nothing from AWS"
    assert mutations(twin) == []  # it read the live state, and sent none of the calls it printed
    assert not (home / "runs").exists()
    assert writer_region(twin) == "us-east-1"
    assert lab_healthy(twin, stack) == {"us-east-1": True, "us-west-2": True}


def test_throttling_and_server_errors_are_retried_and_journaled(fast, home, capsys) -> None:
    twin, stack = fast
    twin.control.set_faults(throttle_rate=0.3, error_rate=0.05)
    rc, report = failover(capsys, stack, "--to", "secondary")
    twin.control.set_faults()
    assert rc == ExitCode.OK, report
    assert report["outcome"] == "completed"
    assert writer_region(twin) == "us-west-2"
    journal = [json.loads(line) for line in Path(report["journal"]).read_text().splitlines()]
    retried = [c for r in journal if r.get("event") == "end" for c in r["calls"] if c["retries"] > 0]
    assert retried and report["retries"] == sum(r.get("retries", 0) for r in journal if r.get("event") == "end")
    assert len([p for p in promotions(twin) if p.get("status") == 200]) == 1


def test_failback_into_a_detached_cluster_is_refused_as_a_split(fast, home, capsys) -> None:
    twin, stack = fast
    rc, report = failover(capsys, stack, "--to", "secondary")
    assert rc == ExitCode.OK, report
    # Detach the old primary (now a secondary): AWS makes it a standalone, writable cluster (RDS API
    # reference, RemoveFromGlobalCluster) while us-west-2 stays the global writer — two writers.
    east = load_stack(stack).regions["us-east-1"]
    twin.client("rds", "us-east-1").remove_from_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, DbClusterIdentifier=east.cluster_arn
    )
    time.sleep(1.2)  # the modelled promotion of the detached cluster
    twin.control.clear_requests()
    rc, back = failover(capsys, stack, "--to", "primary")
    assert rc == ExitCode.REFUSED and back["outcome"] == "refused"
    refusal = back["_stderr"].splitlines()[-1]
    assert "split:" in refusal and "drctl rejoin --writer us-east-1" in refusal
    # The preflight read the cluster (it could have gone on to promote): only the run lock was written.
    assert {(m["service"], m["operation"]) for m in mutations(twin)} <= {
        ("dynamodb", "PutItem"),
        ("dynamodb", "DeleteItem"),
    }
    assert writer_region(twin) == "us-west-2"


def test_invert_flip_method_moves_traffic_through_the_route53_control_plane(fast, home, capsys) -> None:
    twin, stack = fast
    rc, report = failover(capsys, stack, "--to", "secondary", "--flip-method", "invert")
    assert rc == ExitCode.OK, report
    flips = [m for m in mutations(twin) if m["service"] == "route53"]
    assert [m["operation"] for m in flips] == ["UpdateHealthCheck"]
    assert report["verification"]["traffic"]["serving"] == "us-west-2"
    assert lab_healthy(twin, stack) == {"us-east-1": False, "us-west-2": True}
    # The source then dies completely: its record stays out (an inverted check would turn healthy here).
    twin.control.outage("us-east-1")
    assert lab_healthy(twin, stack) == {"us-east-1": False, "us-west-2": True}
    twin.control.restore()
    rc, back = failover(capsys, stack, "--to", "primary", "--flip-method", "invert")
    assert rc == ExitCode.OK, back
    assert back["verification"]["traffic"]["serving"] == "us-east-1"
    assert lab_healthy(twin, stack) == {"us-east-1": True, "us-west-2": True}
    # Resuming a finished run changes nothing and says so.
    twin.control.clear_requests()
    rc, again = failover(capsys, stack, "--resume", report["run_id"])
    assert rc == ExitCode.OK and again["outcome"] == "no-op" and "already completed" in again["message"]
    assert twin.control.requests() == []  # decided from the journal alone: not one call to AWS
    assert writer_region(twin) == "us-east-1"
    assert lab_healthy(twin, stack) == {"us-east-1": True, "us-west-2": True}


def test_failback_keeps_the_unplanned_failover_snapshot_first_and_stops_if_it_cannot(fast, home, capsys) -> None:
    twin, stack = fast
    rc, report = failover(capsys, stack, "--to", "secondary")
    assert rc == ExitCode.OK, report
    east = load_stack(stack).regions["us-east-1"]
    rds = twin.client("rds", "us-east-1")
    # What AWS leaves behind when an old primary rejoins after an unplanned failover.
    snap = f"unplanned-global-failover-{east.cluster_id}-2026-11-29-12-00"
    rds.create_db_cluster_snapshot(DBClusterSnapshotIdentifier=snap, DBClusterIdentifier=east.cluster_id)
    twin.control.set_faults(fail=["CopyDBClusterSnapshot"])
    twin.control.clear_requests()
    rc, back = failover(capsys, stack, "--to", "primary")
    twin.control.set_faults()
    # The copy failed: the failback stops before changing anything, and says what to do.
    calls = [m["operation"] for m in mutations(twin) if m["service"] == "rds"]
    assert set(calls) == {"CopyDBClusterSnapshot"}, calls  # botocore retries the 500s; nothing else is sent
    assert rc == ExitCode.FAILED and back["outcome"] == "failed"
    last = back["_stderr"].splitlines()[-1]
    assert snap in last and keep_snapshot_id(snap) in last and "--resume" in last
    assert writer_region(twin) == "us-west-2" and promotions(twin) == []

    twin.control.clear_requests()
    rc, again = failover(capsys, stack, "--resume", back["run_id"])
    assert rc == ExitCode.OK, again["_stderr"]
    calls = [m["operation"] for m in mutations(twin) if m["service"] == "rds"]
    assert calls == ["CopyDBClusterSnapshot", "SwitchoverGlobalCluster"], calls  # kept first, then promoted
    kept = {s["DBClusterSnapshotIdentifier"] for s in rds.describe_db_cluster_snapshots()["DBClusterSnapshots"]}
    assert keep_snapshot_id(snap) in kept
    assert writer_region(twin) == "us-east-1"


def test_planned_failover_with_the_source_down_points_to_unplanned_mode(fast, home, capsys) -> None:
    twin, stack = fast
    twin.control.outage("us-east-1")
    rc, report = failover(capsys, stack, "--to", "secondary")
    twin.control.restore()
    assert rc == ExitCode.UNREACHABLE, report["_stderr"]
    assert "--mode unplanned --allow-data-loss" in report["_stderr"].splitlines()[-1]
    assert writer_region(twin) == "us-east-1"
