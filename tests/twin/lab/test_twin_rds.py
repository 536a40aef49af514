"""The twin's RDS global-database model against AWS's documents, read with plain boto3 (not drctl):
FailoverState per operation, RemoveFromGlobalCluster detaching the named member, the old primary's rebuild and
its unplanned-failover snapshot after a managed failover, and the lag metrics' dimension sets."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

EAST, WEST = "us-east-1", "us-west-2"
GC = "app-global"


def _global_cluster(lab: Any, retention_days: int = 1) -> tuple[str, str]:
    east, west = lab.client("rds", EAST), lab.client("rds", WEST)
    east.create_global_cluster(GlobalClusterIdentifier=GC, Engine="aurora-postgresql", EngineVersion="16.8")
    primary = east.create_db_cluster(
        DBClusterIdentifier="app-east",
        Engine="aurora-postgresql",
        EngineVersion="16.8",
        GlobalClusterIdentifier=GC,
        MasterUsername="app",
        MasterUserPassword="lab-password-1",
        BackupRetentionPeriod=retention_days,
    )["DBCluster"]["DBClusterArn"]
    secondary = west.create_db_cluster(
        DBClusterIdentifier="app-west",
        Engine="aurora-postgresql",
        EngineVersion="16.8",
        GlobalClusterIdentifier=GC,
    )["DBCluster"]["DBClusterArn"]
    for client, cluster in ((east, "app-east"), (west, "app-west")):
        client.create_db_instance(
            DBInstanceIdentifier=f"{cluster}-1",
            DBClusterIdentifier=cluster,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )
    return primary, secondary


def _gc(rds: Any) -> dict[str, Any]:
    gcs = rds.describe_global_clusters(GlobalClusterIdentifier=GC)["GlobalClusters"]
    assert len(gcs) == 1
    return dict(gcs[0])


def _members(rds: Any) -> dict[str, tuple[bool, str]]:
    return {
        m["DBClusterArn"]: (m["IsWriter"], m.get("SynchronizationStatus", ""))
        for m in _gc(rds)["GlobalClusterMembers"]
    }


def _cluster(rds: Any, name: str) -> dict[str, Any]:
    return dict(rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0])


def _sampled(fn: Callable[[], Any], seconds: float) -> list[Any]:
    """Distinct values of fn() in the order seen, sampled every 0.1 s for `seconds` (bounded)."""
    seen: list[Any] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = fn()
        if not seen or seen[-1] != value:
            seen.append(value)
        time.sleep(0.1)
    return seen


def _eventually(fn: Callable[[], Any], want: Any, timeout_s: float = 8.0) -> Any:
    deadline = time.monotonic() + timeout_s
    got = fn()
    while got != want and time.monotonic() < deadline:
        time.sleep(0.2)
        got = fn()
    return got


def test_failover_state_is_pending_then_switching_over_for_a_switchover(lab: Any) -> None:
    primary, secondary = _global_cluster(lab)
    lab.control.set_durations(switchover_s=1.5)
    west = lab.client("rds", WEST)
    west.switchover_global_cluster(GlobalClusterIdentifier=GC, TargetDbClusterIdentifier=secondary)

    def state() -> tuple[str, ...]:
        gc = _gc(west)
        fs = gc.get("FailoverState")
        if not fs:
            return ("none",)
        return (fs["Status"], fs["FromDbClusterArn"], fs["ToDbClusterArn"], str(fs["IsDataLossAllowed"]))

    seen = _sampled(state, 2.2)
    assert seen == [
        ("pending", primary, secondary, "False"),
        ("switching-over", primary, secondary, "False"),
        ("none",),
    ]
    assert _members(west)[secondary][0] is True


def test_failover_state_is_failing_over_for_a_managed_failover(lab: Any) -> None:
    _, secondary = _global_cluster(lab)
    lab.control.set_durations(failover_s=1.5, resync_s=0)
    west = lab.client("rds", WEST)
    west.failover_global_cluster(
        GlobalClusterIdentifier=GC, TargetDbClusterIdentifier=secondary, AllowDataLoss=True
    )
    seen = _sampled(lambda: (_gc(west).get("FailoverState") or {}).get("Status", "none"), 2.2)
    assert seen == ["pending", "failing-over", "none"]


def test_detaching_the_secondary_leaves_the_primary_the_global_writer(lab: Any) -> None:
    primary, secondary = _global_cluster(lab)
    lab.control.set_durations(promote_s=1.0)
    east, west = lab.client("rds", EAST), lab.client("rds", WEST)
    assert _cluster(west, "app-west")["DBClusterMembers"][0]["IsClusterWriter"] is False  # a secondary reads only

    west.remove_from_global_cluster(GlobalClusterIdentifier=GC, DbClusterIdentifier=secondary)
    assert _members(east) == {primary: (True, "connected")}  # the named member left; the primary stays writer
    standalone = _cluster(west, "app-west")
    assert standalone.get("GlobalClusterIdentifier") in (None, "")
    assert standalone["Status"] == "promoting"
    assert _eventually(lambda: _cluster(west, "app-west")["Status"], "available") == "available"
    assert _cluster(west, "app-west")["DBClusterMembers"][0]["IsClusterWriter"] is True  # writable on its own
    assert _cluster(east, "app-east")["DBClusterMembers"][0]["IsClusterWriter"] is True
    assert _cluster(east, "app-east")["GlobalClusterIdentifier"] == GC


@pytest.mark.slow
def test_after_a_managed_failover_the_old_primary_is_rebuilt_and_its_snapshot_kept_for_its_retention(
    lab: Any,
) -> None:
    primary, secondary = _global_cluster(lab, retention_days=2)
    lab.control.set_durations(failover_s=1.0, resync_s=2.0, retention_day_s=2.0)
    east, west = lab.client("rds", EAST), lab.client("rds", WEST)
    lab.control.outage(EAST)
    west.failover_global_cluster(
        GlobalClusterIdentifier=GC, TargetDbClusterIdentifier=secondary, AllowDataLoss=True
    )
    assert _eventually(lambda: _members(west)[secondary][0], True) is True
    assert _members(west)[primary] == (False, "pending-resync")  # not connected while its region is down
    time.sleep(1.0)
    assert _members(west)[primary] == (False, "pending-resync")

    lab.control.restore(EAST)
    restored = time.monotonic()

    def unplanned() -> list[dict[str, Any]]:
        snaps = east.describe_db_cluster_snapshots(SnapshotType="automated")["DBClusterSnapshots"]
        return [s for s in snaps if s["DBClusterSnapshotIdentifier"].startswith("rds:unplanned-global-failover-")]

    assert _eventually(lambda: len(unplanned()), 1) == 1
    (snap,) = unplanned()
    assert snap["DBClusterSnapshotIdentifier"].startswith("rds:unplanned-global-failover-app-east-")
    assert snap["DBClusterIdentifier"] == "app-east" and snap["SnapshotType"] == "automated"
    manual = east.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert snap["DBClusterSnapshotIdentifier"] not in {s["DBClusterSnapshotIdentifier"] for s in manual}

    assert _members(west)[primary] == (False, "pending-resync")  # rebuilding from the new primary
    assert _eventually(lambda: _members(west)[primary], (False, "connected")) == (False, "connected")
    assert 1.5 <= time.monotonic() - restored <= 6.0
    assert _members(east)[secondary] == (True, "connected")

    # copied to a manual snapshot it outlives the retention (ministack lacks CopyDBClusterSnapshot; the lab has it)
    copy = east.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier=snap["DBClusterSnapshotIdentifier"],
        TargetDBClusterSnapshotIdentifier="kept-unplanned",
        Tags=[{"Key": "kept", "Value": "yes"}],
    )["DBClusterSnapshot"]
    assert (copy["DBClusterSnapshotIdentifier"], copy["SnapshotType"]) == ("kept-unplanned", "manual")
    assert copy["SourceDBClusterSnapshotArn"] == snap["DBClusterSnapshotArn"]

    # a system snapshot: gone after the old primary's backup retention (2 days of 2 s in this lab)
    assert _eventually(lambda: len(unplanned()), 0, timeout_s=10.0) == 0
    assert time.monotonic() - restored >= 3.5
    kept = east.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="kept-unplanned")["DBClusterSnapshots"]
    assert [s["SnapshotType"] for s in kept] == ["manual"]


def _dimension_sets(cw: Any, metric: str) -> set[frozenset[tuple[str, str]]]:
    metrics = cw.list_metrics(Namespace="AWS/RDS", MetricName=metric)["Metrics"]
    return {frozenset((d["Name"], d["Value"]) for d in m["Dimensions"]) for m in metrics}


def test_lag_is_published_in_the_secondary_region_with_source_region_by_default(lab: Any) -> None:
    _global_cluster(lab)
    lab.control.set_lag(1500)
    west_cw, east_cw = lab.client("cloudwatch", WEST), lab.client("cloudwatch", EAST)
    aws_set = frozenset({("DBClusterIdentifier", "app-west"), ("SourceRegion", EAST)})
    for metric in ("AuroraGlobalDBRPOLag", "AuroraGlobalDBReplicationLag"):
        assert _eventually(lambda m=metric: _dimension_sets(west_cw, m), {aws_set}) == {aws_set}
    assert _dimension_sets(east_cw, "AuroraGlobalDBRPOLag") == set()  # the primary's region publishes none


def test_lag_dimension_sets_can_be_chosen(lab: Any) -> None:
    _global_cluster(lab)
    lab.control.set_lag(700, dimensions="cluster")
    west_cw = lab.client("cloudwatch", WEST)
    cluster_set = frozenset({("DBClusterIdentifier", "app-west")})
    aws_set = frozenset({("DBClusterIdentifier", "app-west"), ("SourceRegion", EAST)})
    assert _eventually(lambda: _dimension_sets(west_cw, "AuroraGlobalDBRPOLag"), {cluster_set}) == {cluster_set}
    lab.control.set_lag(700, dimensions="both")
    want = {cluster_set, aws_set}
    assert _eventually(lambda: _dimension_sets(west_cw, "AuroraGlobalDBRPOLag"), want) == want
    with pytest.raises(Exception, match="unknown dimensions"):
        lab.control.set_lag(700, dimensions="region")


def test_a_lost_answer_is_acted_on_once_and_a_failing_operation_not_at_all(lab: Any) -> None:
    from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

    primary, secondary = _global_cluster(lab)
    lab.control.set_durations(failover_s=0, resync_s=0)
    one_try = lab.client("rds", WEST, retries={"total_max_attempts": 1}, read_timeout=5)
    lab.control.set_faults(fail=["SwitchoverGlobalCluster"])
    with pytest.raises(ClientError) as e:
        one_try.switchover_global_cluster(GlobalClusterIdentifier=GC, TargetDbClusterIdentifier=secondary)
    assert e.value.response["Error"]["Code"] == "InternalFailure"
    assert _members(lab.client("rds", EAST))[primary][0] is True  # not acted on

    lab.control.clear_requests()
    lab.control.set_faults(lose_answer=["FailoverGlobalCluster"])
    with pytest.raises((ConnectionClosedError, EndpointConnectionError, ReadTimeoutError)):
        one_try.failover_global_cluster(
            GlobalClusterIdentifier=GC, TargetDbClusterIdentifier=secondary, AllowDataLoss=True
        )
    lab.control.set_faults()
    assert _members(lab.client("rds", WEST))[secondary][0] is True  # acted on: the target is the writer
    sent = [r for r in lab.control.requests() if r["operation"] == "FailoverGlobalCluster"]
    assert len(sent) == 1 and sent[0]["answer_lost"] is True
    assert lab.control.status()["faults"]["lose_answer"] == []
