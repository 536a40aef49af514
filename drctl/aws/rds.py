"""RDS reads: the Aurora global cluster (who writes, members, FailoverState) and regional clusters."""

from __future__ import annotations

from typing import Any

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
