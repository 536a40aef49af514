"""`drctl rejoin` on the twin: a split made with plain boto3 (RemoveFromGlobalCluster of the secondary), then the
way back; every verdict read from AWS (the emulator) and the lab's request log, not from drctl's output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from failover_helpers import GLOBAL_ID, mutations

from drctl.cli.app import run
from drctl.errors import ExitCode
from drctl.stack import load_stack

EAST, WEST = "us-east-1", "us-west-2"
MUTATING_RDS = (
    "CreateDBClusterSnapshot",
    "RemoveFromGlobalCluster",
    "DeleteGlobalCluster",
    "CreateGlobalCluster",
    "DeleteDBInstance",
    "DeleteDBCluster",
    "CreateDBCluster",
    "CreateDBInstance",
)


def split(twin: Any, stack: Path) -> None:
    """Detach-and-promote as an operator (or a failover's fallback) leaves it: the secondary stands alone."""
    west = load_stack(stack).regions[WEST]
    twin.client("rds", WEST).remove_from_global_cluster(
        GlobalClusterIdentifier=GLOBAL_ID, DbClusterIdentifier=west.cluster_arn
    )
    end = time.monotonic() + 10
    while time.monotonic() < end:  # the modelled promotion of the detached cluster
        c = twin.client("rds", WEST).describe_db_clusters(DBClusterIdentifier=west.cluster_id)["DBClusters"][0]
        if c["Status"] == "available":
            return
        time.sleep(0.2)
    raise AssertionError("the detached cluster never became available")


def drctl_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    rc = run(list(args))
    captured = capsys.readouterr()
    return rc, (json.loads(captured.out) if captured.out.strip() else {}), captured.err


def status(capsys: pytest.CaptureFixture[str], stack: Path) -> dict[str, Any]:
    _, report, _ = drctl_json(capsys, "status", "--stack", str(stack), "--json")
    return report


def topology(twin: Any) -> tuple[list[str], dict[str, bool]]:
    """Plain boto3: the global clusters, and member region -> IsWriter of ours."""
    gcs = twin.client("rds", WEST).describe_global_clusters()["GlobalClusters"]
    ours = [g for g in gcs if g["GlobalClusterIdentifier"] == GLOBAL_ID]
    members = (
        {m["DBClusterArn"].split(":")[3]: m["IsWriter"] for m in ours[0]["GlobalClusterMembers"]} if ours else {}
    )
    return [g["GlobalClusterIdentifier"] for g in gcs], members


def rds_mutations(twin: Any) -> list[str]:
    return [m["operation"] for m in mutations(twin) if m["operation"] in MUTATING_RDS]


def test_rejoin_re_forms_the_global_database_around_the_standalone_writer(fast, home, capsys) -> None:
    twin, stack = fast
    split(twin, stack)
    before = status(capsys, stack)
    assert before["ready"] is False and before["standalone_writers"] == [WEST], before["reasons"]
    assert any("split" in r for r in before["reasons"])
    twin.control.clear_requests()

    rc, report, err = drctl_json(capsys, "rejoin", "--stack", str(stack), "--writer", WEST, "--yes", "--json")
    assert rc == ExitCode.OK, err
    assert report["outcome"] == "completed" and report["command"] == "rejoin"
    assert [s["step"] for s in report["steps"]][-7:] == [
        "snapshot_old",
        "leave_old_global",
        "delete_old_global",
        "reform",
        "retire_old",
        "readd_old",
        "verify",
    ]

    # AWS, read with plain boto3: one global database, us-west-2 writes, us-east-1 is a member again.
    names, members = topology(twin)
    assert names == [GLOBAL_ID]
    assert members == {WEST: True, EAST: False}
    east = load_stack(stack).regions[EAST]
    rds_east = twin.client("rds", EAST)
    cluster = rds_east.describe_db_clusters(DBClusterIdentifier=east.cluster_id)["DBClusters"][0]
    assert cluster["GlobalClusterIdentifier"] == GLOBAL_ID and cluster["KmsKeyId"] == east.kms_key_arn
    assert len(cluster["DBClusterMembers"]) == 1
    snap = rds_east.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=report["snapshot_id"])
    assert snap["DBClusterSnapshots"][0]["Status"] == "available"
    # The old cluster was deleted only after its snapshot existed; each mutation sent once, in order.
    ops = rds_mutations(twin)
    assert ops == list(MUTATING_RDS), ops
    assert Path(report["journal"]).is_file()

    after = status(capsys, stack)
    assert after["standalone_writers"] == [] and not any("split" in r for r in after["reasons"]), after["reasons"]
    assert after["writer_region"] == WEST

    # The run renders as a report.
    rc = run(["report", report["run_id"]])
    shown = capsys.readouterr()
    assert rc == ExitCode.OK, shown.err
    assert "rejoin" in shown.out and "CreateGlobalCluster" in shown.out


def test_rejoin_refuses_a_stack_that_is_not_split_and_changes_nothing(fast, home, capsys) -> None:
    twin, stack = fast
    rc, _, err = drctl_json(capsys, "rejoin", "--stack", str(stack), "--writer", WEST, "--yes", "--json")
    assert rc == ExitCode.REFUSED
    assert "not split" in err.strip().splitlines()[-1]
    assert [m for m in mutations(twin) if m["service"] != "dynamodb"] == []
    assert topology(twin)[1] == {EAST: True, WEST: False}


def test_rejoin_dry_run_lists_the_calls_and_changes_nothing(fast, home, capsys) -> None:
    twin, stack = fast
    split(twin, stack)
    twin.control.clear_requests()
    rc, plan, err = drctl_json(capsys, "rejoin", "--stack", str(stack), "--writer", WEST, "--dry-run", "--json")
    assert rc == ExitCode.OK, err
    ops = [c["operation"] for c in plan["calls"] if c["service"] == "rds"]
    assert ops == list(MUTATING_RDS)
    create = next(c for c in plan["calls"] if c["operation"] == "CreateGlobalCluster")
    assert create["params"]["SourceDBClusterIdentifier"] == load_stack(stack).regions[WEST].cluster_arn
    assert mutations(twin) == []
    assert topology(twin)[1] == {EAST: True}


def test_rejoin_refuses_an_unknown_region_and_a_foreign_resume(fast, home, capsys) -> None:
    _, stack = fast
    rc, _, err = drctl_json(capsys, "rejoin", "--stack", str(stack), "--writer", "eu-west-9", "--yes")
    assert rc == ExitCode.CONFIG and "unknown region" in err
    rc, _, err = drctl_json(capsys, "rejoin", "--stack", str(stack), "--resume", "20260101T000000Z-0000")
    assert rc == ExitCode.CONFIG and "no run" in err


def test_rejoin_resumes_after_a_kill_between_steps(fast, home, capsys) -> None:
    twin, stack = fast
    split(twin, stack)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DRCTL_"))}
    env.update(DRCTL_HOME=str(home), DRCTL_TEST_KILL_AT="reform:after")
    args = [sys.executable, "-m", "drctl", "rejoin", "--stack", str(stack), "--writer", WEST, "--yes", "--json"]
    killed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    assert topology(twin)[1] == {WEST: True}  # re-formed, the old region not yet back
    run_id = sorted(p.name for p in (home / "runs").iterdir())[-1]
    twin.control.clear_requests()

    rc, report, err = drctl_json(capsys, "rejoin", "--resume", run_id, "--yes", "--json")
    assert rc == ExitCode.OK, err
    assert report["outcome"] == "completed"
    assert topology(twin) == ([GLOBAL_ID], {WEST: True, EAST: False})
    # Finished steps were not sent again.
    ops = rds_mutations(twin)
    assert "CreateGlobalCluster" not in ops and "CreateDBClusterSnapshot" not in ops, ops
    assert ops == ["DeleteDBInstance", "DeleteDBCluster", "CreateDBCluster", "CreateDBInstance"]
