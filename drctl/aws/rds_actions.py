"""RDS changes a failover makes: switchover, failover with data loss, detach-and-promote, keeping a snapshot.

Each function builds the exact request as an ApiCall (the dry run prints it, the run sends it once).
Callers re-read state before sending (never promote twice) and handle errors.
"""

from __future__ import annotations

from drctl.aws.calls import ApiCall


def switchover_global_cluster(region: str, global_cluster_id: str, target_cluster_arn: str) -> ApiCall:
    """Planned, lossless: the target becomes writer once it has caught up (SwitchoverGlobalCluster)."""
    return ApiCall(
        "rds",
        region,
        "SwitchoverGlobalCluster",
        {"GlobalClusterIdentifier": global_cluster_id, "TargetDbClusterIdentifier": target_cluster_arn},
    )


def failover_global_cluster_with_data_loss(
    region: str, global_cluster_id: str, target_cluster_arn: str
) -> ApiCall:
    """Unplanned: promote the target now, losing what had not replicated (FailoverGlobalCluster)."""
    return ApiCall(
        "rds",
        region,
        "FailoverGlobalCluster",
        {
            "GlobalClusterIdentifier": global_cluster_id,
            "TargetDbClusterIdentifier": target_cluster_arn,
            "AllowDataLoss": True,
        },
    )


def detach_and_promote(region: str, global_cluster_id: str, cluster_arn: str) -> ApiCall:
    """Fallback when the global control path is down: the detached secondary becomes a standalone writer."""
    return ApiCall(
        "rds",
        region,
        "RemoveFromGlobalCluster",
        {"GlobalClusterIdentifier": global_cluster_id, "DbClusterIdentifier": cluster_arn},
    )


def keep_cluster_snapshot(region: str, snapshot_id: str, keep_id: str, run_id: str) -> ApiCall:
    """Copy an automatically created snapshot to a manual, tagged one that outlives retention."""
    return ApiCall(
        "rds",
        region,
        "CopyDBClusterSnapshot",
        {
            "SourceDBClusterSnapshotIdentifier": snapshot_id,
            "TargetDBClusterSnapshotIdentifier": keep_id,
            "CopyTags": True,
            "Tags": [
                {"Key": "drctl:keep", "Value": "unplanned-failover"},
                {"Key": "drctl:run", "Value": run_id},
            ],
        },
    )
