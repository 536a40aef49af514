"""RDS reads: the Aurora global cluster (who writes, members, FailoverState) and regional clusters."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from drctl.aws.errors import error_code
from drctl.models import ClusterState, FailoverState, GlobalCluster, GlobalMember

# FailoverState.Status values while a switchover or failover runs (RDS API reference, FailoverState):
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverState.html
TRANSITION_STATUSES = frozenset({"pending", "switching-over", "failing-over", "cancelling"})


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


MAX_PAGES = 50  # bounded pagination: a real region answers in a few pages of 100


def cluster_snapshot_ids(rds: Any, cluster_id: str) -> list[str]:
    """DescribeDBClusterSnapshots: the ids of every snapshot of one cluster (automated and manual)."""
    ids: list[str] = []
    marker: str | None = None
    for _ in range(MAX_PAGES):
        kwargs: dict[str, Any] = {"DBClusterIdentifier": cluster_id}
        if marker:
            kwargs["Marker"] = marker
        page = rds.describe_db_cluster_snapshots(**kwargs)
        ids += [str(s.get("DBClusterSnapshotIdentifier", "")) for s in page.get("DBClusterSnapshots", [])]
        marker = page.get("Marker")
        if not marker:
            break
    return ids


# After an unplanned (managed) global failover Aurora snapshots the old primary as it rebuilds it, as
# `rds:unplanned-global-failover-...`, and keeps it only for that cluster's backup retention period (Aurora
# User Guide, "Recovering an Amazon Aurora global database from an unplanned outage"). drctl copies it to a
# manual snapshot, which is kept until deleted.
UNPLANNED_SNAPSHOT_MARK = "unplanned-global-failover"
KEEP_PREFIX = "drctl-keep-"  # drctl's own copies of those snapshots
SNAPSHOT_ID_MAX = 63  # CopyDBClusterSnapshot TargetDBClusterSnapshotIdentifier: 1-63 letters, digits, hyphens


def keep_snapshot_id(snapshot_id: str) -> str:
    """The manual snapshot id drctl keeps `snapshot_id` as: a valid identifier (a letter first, letters, digits
    and single hyphens, at most 63 characters, no trailing hyphen), the same for the same snapshot."""
    import hashlib
    import re

    body = snapshot_id.removeprefix("rds:").replace(UNPLANNED_SNAPSHOT_MARK, "ugf")
    body = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9-]", "-", body)).strip("-")
    keep = f"{KEEP_PREFIX}{body}"
    if len(keep) > SNAPSHOT_ID_MAX:
        digest = hashlib.sha256(snapshot_id.encode()).hexdigest()[:8]
        keep = f"{keep[: SNAPSHOT_ID_MAX - len(digest) - 1].rstrip('-')}-{digest}"
    return keep


def owed_snapshots(snapshot_ids: list[str]) -> list[str]:
    """Unplanned-failover snapshots among `snapshot_ids` that drctl has not kept yet."""
    present = set(snapshot_ids)
    return [
        i
        for i in snapshot_ids
        if UNPLANNED_SNAPSHOT_MARK in i and not i.startswith(KEEP_PREFIX) and keep_snapshot_id(i) not in present
    ]


def global_db_engine_versions(rds: Any, engine: str) -> list[str]:
    """DescribeDBEngineVersions: the versions of `engine` whose SupportsGlobalDatabases is true here."""
    versions: list[str] = []
    marker: str | None = None
    for _ in range(MAX_PAGES):
        kwargs: dict[str, Any] = {"Engine": engine, "MaxRecords": 100}
        if marker:
            kwargs["Marker"] = marker
        page = rds.describe_db_engine_versions(**kwargs)
        versions += [
            v["EngineVersion"] for v in page.get("DBEngineVersions", []) if v.get("SupportsGlobalDatabases")
        ]
        marker = page.get("Marker")
        if not marker:
            break
    return versions


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
