"""The unplanned-failover snapshot AWS makes of the old primary is kept only for its backup retention: drctl
keeps it right after the failover when it can, else says it is owed; status lists it once the old primary's
region answers, and `drctl keep-snapshots` keeps it. Checked by reading the twin's RDS, not drctl's output."""

from __future__ import annotations

import json
import time
from typing import Any

from failover_helpers import failover

from drctl.aws.rds import keep_snapshot_id
from drctl.errors import ExitCode


def _snapshots(twin: Any, cluster: str = "drctl-lab-use1") -> set[str]:
    rds = twin.client("rds", "us-east-1")
    return {
        s["DBClusterSnapshotIdentifier"]
        for s in rds.describe_db_cluster_snapshots(DBClusterIdentifier=cluster)["DBClusterSnapshots"]
    }


def test_an_owed_snapshot_is_listed_by_status_and_kept_by_keep_snapshots(fast, home, capsys) -> None:
    twin, stack = fast
    twin.control.outage("us-east-1")
    rc, report = failover(capsys, stack, "--to", "us-west-2", "--mode", "unplanned", "--allow-data-loss")
    assert rc == ExitCode.OK, report["_stderr"]
    assert any("snapshot is owed" in w for w in report["warnings"]), report["warnings"]

    twin.control.restore()  # the old primary's region answers: AWS rebuilds it and snapshots it
    deadline = time.monotonic() + 60
    while not [s for s in _snapshots(twin) if "unplanned-global-failover" in s]:
        assert time.monotonic() < deadline, "the twin made no unplanned-failover snapshot"
        time.sleep(0.5)
    (snap,) = [s for s in _snapshots(twin) if "unplanned-global-failover" in s]

    shown = json.loads(twin.cli("status", "--json", "--stack", str(stack)).stdout)
    assert shown["regions"]["us-east-1"]["owed_snapshots"] == [snap]
    assert any("keep-snapshots" in w for w in shown["warnings"])

    dry = twin.cli("keep-snapshots", "--dry-run", "--json", "--stack", str(stack))
    assert dry.returncode == 0, dry.stderr
    assert keep_snapshot_id(snap) not in _snapshots(twin)  # the dry run copied nothing

    kept = twin.cli("keep-snapshots", "--json", "--stack", str(stack))
    assert kept.returncode == 0, kept.stderr
    assert keep_snapshot_id(snap) in _snapshots(twin)
    again = json.loads(twin.cli("status", "--json", "--stack", str(stack)).stdout)
    assert again["regions"]["us-east-1"]["owed_snapshots"] == []
