"""RDS changes a failover makes: switchover, failover with data loss, detach-and-promote, keeping a snapshot.

Each function builds the exact request as an ApiCall (the dry run prints it, the run sends it once).
Callers re-read state before sending (never promote twice) and handle errors.
"""

from __future__ import annotations

from typing import Any

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


# ------------------------------------------------------------------------------------------------ rejoin
# The way back after a detach-and-promote (`drctl rejoin`). RDS API reference:
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateGlobalCluster.html (an existing cluster
# named by SourceDBClusterIdentifier becomes the new global database's primary),
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteGlobalCluster.html (members must be
# detached or deleted first), https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html
# (GlobalClusterIdentifier makes the new cluster a secondary; an encrypted cross-region secondary names a KMS
# key of its own region).


def snapshot_cluster(region: str, snapshot_id: str, cluster_id: str, run_id: str) -> ApiCall:
    """A manual snapshot of a cluster (CreateDBClusterSnapshot): evidence kept before it is retired."""
    return ApiCall(
        "rds",
        region,
        "CreateDBClusterSnapshot",
        {
            "DBClusterSnapshotIdentifier": snapshot_id,
            "DBClusterIdentifier": cluster_id,
            "Tags": [{"Key": "drctl:keep", "Value": "rejoin"}, {"Key": "drctl:run", "Value": run_id}],
        },
    )


def remove_member(region: str, global_cluster_id: str, cluster_arn: str) -> ApiCall:
    """RemoveFromGlobalCluster of any member (here: the old writer, whose global database is given up)."""
    return ApiCall(
        "rds",
        region,
        "RemoveFromGlobalCluster",
        {"GlobalClusterIdentifier": global_cluster_id, "DbClusterIdentifier": cluster_arn},
    )


def delete_global_cluster(region: str, global_cluster_id: str) -> ApiCall:
    return ApiCall("rds", region, "DeleteGlobalCluster", {"GlobalClusterIdentifier": global_cluster_id})


def create_global_from_cluster(region: str, global_cluster_id: str, source_cluster_arn: str) -> ApiCall:
    """A new global database whose primary (writer) is an existing standalone cluster. Engine, version,
    database name and encryption come from the source cluster: the API reference says not to specify them
    together with SourceDBClusterIdentifier."""
    return ApiCall(
        "rds",
        region,
        "CreateGlobalCluster",
        {"GlobalClusterIdentifier": global_cluster_id, "SourceDBClusterIdentifier": source_cluster_arn},
    )


def delete_instance(region: str, instance_id: str) -> ApiCall:
    """DeleteDBInstance of an Aurora instance (its data lives in the cluster volume, not the instance)."""
    return ApiCall("rds", region, "DeleteDBInstance", {"DBInstanceIdentifier": instance_id})


def delete_cluster(region: str, cluster_id: str) -> ApiCall:
    # The rejoin's own snapshot (snapshot_old) is the final snapshot: it is available before this is sent.
    return ApiCall(
        "rds", region, "DeleteDBCluster", {"DBClusterIdentifier": cluster_id, "SkipFinalSnapshot": True}
    )


def create_secondary_cluster(
    region: str,
    cluster_id: str,
    global_cluster_id: str,
    engine: str,
    engine_version: str,
    kms_key_id: str,
    old: dict[str, Any],
) -> ApiCall:
    """A secondary cluster of `global_cluster_id`, configured like the cluster it replaces (`old`)."""
    params: dict[str, Any] = {
        "DBClusterIdentifier": cluster_id,
        "GlobalClusterIdentifier": global_cluster_id,
        "Engine": engine,
        "EngineVersion": engine_version,
        "StorageEncrypted": True,
        "KmsKeyId": kms_key_id,
    }
    if old.get("subnet_group"):
        params["DBSubnetGroupName"] = old["subnet_group"]
    if old.get("security_groups"):
        params["VpcSecurityGroupIds"] = list(old["security_groups"])
    if old.get("parameter_group"):
        params["DBClusterParameterGroupName"] = old["parameter_group"]
    if old.get("port"):
        params["Port"] = int(old["port"])
    return ApiCall("rds", region, "CreateDBCluster", params)


def create_instance(region: str, instance_id: str, cluster_id: str, engine: str, instance_class: str) -> ApiCall:
    return ApiCall(
        "rds",
        region,
        "CreateDBInstance",
        {
            "DBInstanceIdentifier": instance_id,
            "DBClusterIdentifier": cluster_id,
            "Engine": engine,
            "DBInstanceClass": instance_class,
        },
    )
