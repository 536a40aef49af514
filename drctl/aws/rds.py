"""RDS reads: the Aurora global cluster (who writes, members, FailoverState) and regional clusters."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from drctl.aws.clients import error_code
from drctl.models import ClusterState, FailoverState, GlobalCluster, GlobalMember


def arn_region(arn: str) -> str:
    """The region field of an ARN (arn:aws:rds:<region>:...)."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def arn_cluster_id(arn: str) -> str:
    """The cluster identifier of an RDS cluster ARN (…:cluster:<id>)."""
    return arn.rsplit(":", 1)[-1]


def _member(raw: dict[str, Any]) -> GlobalMember:
    arn = str(raw.get("DBClusterArn", ""))
    return GlobalMember(
        cluster_arn=arn,
        region=arn_region(arn),
        cluster_id=arn_cluster_id(arn),
        is_writer=bool(raw.get("IsWriter", False)),
        synchronization_status=raw.get("SynchronizationStatus"),
        write_forwarding_status=raw.get("GlobalWriteForwardingStatus"),
    )


def describe_global_cluster(rds: Any, global_cluster_id: str) -> GlobalCluster:
    """DescribeGlobalClusters for one id. Any member region's endpoint can answer it."""
    raw = rds.describe_global_clusters(GlobalClusterIdentifier=global_cluster_id)["GlobalClusters"][0]
    fs = raw.get("FailoverState")
    failover = (
        FailoverState(
            status=str(fs.get("Status", "")),
            from_arn=fs.get("FromDbClusterArn"),
            to_arn=fs.get("ToDbClusterArn"),
            is_data_loss_allowed=bool(fs.get("IsDataLossAllowed", False)),
        )
        if fs and fs.get("Status")
        else None
    )
    return GlobalCluster(
        identifier=str(raw.get("GlobalClusterIdentifier", global_cluster_id)),
        status=str(raw.get("Status", "")),
        engine=str(raw.get("Engine", "")),
        engine_version=str(raw.get("EngineVersion", "")),
        members=tuple(_member(m) for m in raw.get("GlobalClusterMembers", [])),
        failover_state=failover,
    )


def describe_cluster(rds: Any, cluster_id: str, region: str) -> ClusterState:
    """DescribeDBClusters for one regional cluster."""
    raw = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
    return ClusterState(
        cluster_id=str(raw.get("DBClusterIdentifier", cluster_id)),
        region=region,
        status=str(raw.get("Status", "")),
        engine_version=str(raw.get("EngineVersion", "")),
        members=len(raw.get("DBClusterMembers", [])),
        write_forwarding_status=raw.get("GlobalWriteForwardingStatus"),
        global_cluster_id=raw.get("GlobalClusterIdentifier") or None,
        has_writer_instance=any(m.get("IsClusterWriter") for m in raw.get("DBClusterMembers", [])),
    )


def find_global_cluster(rds: Any, global_cluster_id: str) -> GlobalCluster | None:
    """DescribeGlobalClusters for one id; None when it does not exist (GlobalClusterNotFoundFault)."""
    try:
        return describe_global_cluster(rds, global_cluster_id)
    except ClientError as e:
        if error_code(e) == "GlobalClusterNotFoundFault":
            return None
        raise


def find_cluster(rds: Any, cluster_id: str, region: str) -> ClusterState | None:
    """DescribeDBClusters for one cluster; None when it does not exist (DBClusterNotFoundFault)."""
    try:
        return describe_cluster(rds, cluster_id, region)
    except ClientError as e:
        if error_code(e) == "DBClusterNotFoundFault":
            return None
        raise


def cluster_config(rds: Any, cluster_id: str) -> dict[str, Any]:
    """What it takes to build the same cluster again: engine, network, encryption, instances (their class).

    Read before a cluster is retired so that the cluster re-added in its place is configured alike; plain
    data, journaled. No secrets: DescribeDBClusters returns none."""
    raw = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
    instances = []
    for m in raw.get("DBClusterMembers", []):
        inst_id = str(m.get("DBInstanceIdentifier", ""))
        inst = rds.describe_db_instances(DBInstanceIdentifier=inst_id)["DBInstances"][0]
        instances.append(
            {
                "id": inst_id,
                "class": str(inst.get("DBInstanceClass", "")),
                "writer": bool(m.get("IsClusterWriter")),
            }
        )
    return {
        "cluster_id": str(raw.get("DBClusterIdentifier", cluster_id)),
        "arn": str(raw.get("DBClusterArn", "")),
        "engine": str(raw.get("Engine", "")),
        "engine_version": str(raw.get("EngineVersion", "")),
        "port": raw.get("Port"),
        "subnet_group": str(raw.get("DBSubnetGroup", "")),
        "security_groups": [str(g.get("VpcSecurityGroupId", "")) for g in raw.get("VpcSecurityGroups", [])],
        "parameter_group": str(raw.get("DBClusterParameterGroup", "")),
        "storage_encrypted": bool(raw.get("StorageEncrypted", False)),
        "kms_key_id": str(raw.get("KmsKeyId", "")),
        "deletion_protection": bool(raw.get("DeletionProtection", False)),
        "global_cluster_id": raw.get("GlobalClusterIdentifier") or None,
        "status": str(raw.get("Status", "")),
        "instances": instances,
    }


def cluster_instance_ids(rds: Any, cluster_id: str) -> list[str]:
    """The DB instances of a cluster ([] when the cluster does not exist)."""
    try:
        raw = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
    except ClientError as e:
        if error_code(e) == "DBClusterNotFoundFault":
            return []
        raise
    return [str(m.get("DBInstanceIdentifier", "")) for m in raw.get("DBClusterMembers", [])]


def instance_exists(rds: Any, instance_id: str) -> bool:
    try:
        rds.describe_db_instances(DBInstanceIdentifier=instance_id)
    except ClientError as e:
        if error_code(e) in ("DBInstanceNotFound", "DBInstanceNotFoundFault"):
            return False
        raise
    return True


def cluster_snapshot_status(rds: Any, snapshot_id: str) -> str | None:
    """A manual cluster snapshot's Status ("creating", "available" ...); None when there is none."""
    try:
        raw = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot_id)["DBClusterSnapshots"]
    except ClientError as e:
        if error_code(e) == "DBClusterSnapshotNotFoundFault":
            return None
        raise
    return str(raw[0].get("Status", "")) if raw else None
