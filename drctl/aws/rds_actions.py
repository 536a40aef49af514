"""RDS changes a failover makes: switchover, failover with data loss, detach-and-promote, keeping a snapshot.

Each `*_params` function builds the exact request (the dry run prints it); each action sends it once and
returns the raw response. Callers re-read state before calling (never promote twice) and handle errors.
"""

from __future__ import annotations

from typing import Any


def switchover_params(global_cluster_id: str, target_cluster_arn: str) -> dict[str, Any]:
    return {"GlobalClusterIdentifier": global_cluster_id, "TargetDbClusterIdentifier": target_cluster_arn}


def switchover_global_cluster(rds: Any, global_cluster_id: str, target_cluster_arn: str) -> dict[str, Any]:
    """Planned, lossless: the target becomes writer once it has caught up (SwitchoverGlobalCluster)."""
    resp: dict[str, Any] = rds.switchover_global_cluster(
        **switchover_params(global_cluster_id, target_cluster_arn)
    )
    return resp


def failover_params(global_cluster_id: str, target_cluster_arn: str) -> dict[str, Any]:
    return {
        "GlobalClusterIdentifier": global_cluster_id,
        "TargetDbClusterIdentifier": target_cluster_arn,
        "AllowDataLoss": True,
    }


def failover_global_cluster_with_data_loss(
    rds: Any, global_cluster_id: str, target_cluster_arn: str
) -> dict[str, Any]:
    """Unplanned: promote the target now, losing what had not replicated (FailoverGlobalCluster)."""
    resp: dict[str, Any] = rds.failover_global_cluster(**failover_params(global_cluster_id, target_cluster_arn))
    return resp


def detach_params(global_cluster_id: str, cluster_arn: str) -> dict[str, Any]:
    return {"GlobalClusterIdentifier": global_cluster_id, "DbClusterIdentifier": cluster_arn}


def detach_and_promote(rds: Any, global_cluster_id: str, cluster_arn: str) -> dict[str, Any]:
    """Fallback when the global control path is down: the detached secondary becomes a standalone writer."""
    resp: dict[str, Any] = rds.remove_from_global_cluster(**detach_params(global_cluster_id, cluster_arn))
    return resp


def keep_snapshot_params(snapshot_id: str, keep_id: str, run_id: str) -> dict[str, Any]:
    return {
        "SourceDBClusterSnapshotIdentifier": snapshot_id,
        "TargetDBClusterSnapshotIdentifier": keep_id,
        "CopyTags": True,
        "Tags": [
            {"Key": "drctl:keep", "Value": "unplanned-failover"},
            {"Key": "drctl:run", "Value": run_id},
        ],
    }


def keep_cluster_snapshot(rds: Any, snapshot_id: str, keep_id: str, run_id: str) -> dict[str, Any]:
    """Copy an automatically created snapshot to a manual, tagged one that outlives retention."""
    resp: dict[str, Any] = rds.copy_db_cluster_snapshot(**keep_snapshot_params(snapshot_id, keep_id, run_id))
    return resp
