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


# ------------------------------------------------------------------------------------------------ rejoin
# The way back after a detach-and-promote (`drctl rejoin`). RDS API reference:
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateGlobalCluster.html (an existing cluster
# named by SourceDBClusterIdentifier becomes the new global database's primary),
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteGlobalCluster.html (members must be
# detached or deleted first), https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html
# (GlobalClusterIdentifier makes the new cluster a secondary; an encrypted cross-region secondary names a KMS
# key of its own region).


def cluster_snapshot_params(snapshot_id: str, cluster_id: str, run_id: str) -> dict[str, Any]:
    return {
        "DBClusterSnapshotIdentifier": snapshot_id,
        "DBClusterIdentifier": cluster_id,
        "Tags": [{"Key": "drctl:keep", "Value": "rejoin"}, {"Key": "drctl:run", "Value": run_id}],
    }


def snapshot_cluster(rds: Any, snapshot_id: str, cluster_id: str, run_id: str) -> dict[str, Any]:
    """A manual snapshot of a cluster (CreateDBClusterSnapshot): evidence kept before it is retired."""
    resp: dict[str, Any] = rds.create_db_cluster_snapshot(
        **cluster_snapshot_params(snapshot_id, cluster_id, run_id)
    )
    return resp


def remove_member(rds: Any, global_cluster_id: str, cluster_arn: str) -> dict[str, Any]:
    """RemoveFromGlobalCluster of any member (here: the old writer, whose global database is given up)."""
    resp: dict[str, Any] = rds.remove_from_global_cluster(**detach_params(global_cluster_id, cluster_arn))
    return resp


def delete_global_params(global_cluster_id: str) -> dict[str, Any]:
    return {"GlobalClusterIdentifier": global_cluster_id}


def delete_global_cluster(rds: Any, global_cluster_id: str) -> dict[str, Any]:
    resp: dict[str, Any] = rds.delete_global_cluster(**delete_global_params(global_cluster_id))
    return resp


def global_from_cluster_params(global_cluster_id: str, source_cluster_arn: str) -> dict[str, Any]:
    # Engine, version, database name and encryption come from the source cluster: the API reference says not to
    # specify them together with SourceDBClusterIdentifier.
    return {"GlobalClusterIdentifier": global_cluster_id, "SourceDBClusterIdentifier": source_cluster_arn}


def create_global_from_cluster(rds: Any, global_cluster_id: str, source_cluster_arn: str) -> dict[str, Any]:
    """A new global database whose primary (writer) is an existing standalone cluster."""
    resp: dict[str, Any] = rds.create_global_cluster(
        **global_from_cluster_params(global_cluster_id, source_cluster_arn)
    )
    return resp


def delete_instance_params(instance_id: str) -> dict[str, Any]:
    return {"DBInstanceIdentifier": instance_id}


def delete_instance(rds: Any, instance_id: str) -> dict[str, Any]:
    """DeleteDBInstance of an Aurora instance (its data lives in the cluster volume, not the instance)."""
    resp: dict[str, Any] = rds.delete_db_instance(**delete_instance_params(instance_id))
    return resp


def delete_cluster_params(cluster_id: str) -> dict[str, Any]:
    # The rejoin's own snapshot (snapshot_old) is the final snapshot: it is available before this is sent.
    return {"DBClusterIdentifier": cluster_id, "SkipFinalSnapshot": True}


def delete_cluster(rds: Any, cluster_id: str) -> dict[str, Any]:
    resp: dict[str, Any] = rds.delete_db_cluster(**delete_cluster_params(cluster_id))
    return resp


def secondary_cluster_params(
    cluster_id: str,
    global_cluster_id: str,
    engine: str,
    engine_version: str,
    kms_key_id: str,
    old: dict[str, Any],
) -> dict[str, Any]:
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
    return params


def create_secondary_cluster(rds: Any, params: dict[str, Any]) -> dict[str, Any]:
    resp: dict[str, Any] = rds.create_db_cluster(**params)
    return resp


def instance_params(instance_id: str, cluster_id: str, engine: str, instance_class: str) -> dict[str, Any]:
    return {
        "DBInstanceIdentifier": instance_id,
        "DBClusterIdentifier": cluster_id,
        "Engine": engine,
        "DBInstanceClass": instance_class,
    }


def create_instance(rds: Any, params: dict[str, Any]) -> dict[str, Any]:
    resp: dict[str, Any] = rds.create_db_instance(**params)
    return resp
