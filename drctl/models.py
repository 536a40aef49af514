"""Plain data read from AWS and computed by drctl. No behaviour beyond small derived properties.

Read functions in drctl/aws/<service>.py return these; drctl/status computes a StatusReport from them;
drctl/render turns a StatusReport into a screen or JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# ------------------------------------------------------------------------------ choices (command options)


class Mode(StrEnum):
    """How a failover promotes: a lossless switchover, or a failover that accepts data loss."""

    PLANNED = "planned"
    UNPLANNED = "unplanned"


class Only(StrEnum):
    """One part of a failover: the database (promote; traffic stays) or the traffic (flip; no promotion)."""

    DATABASE = "database"
    TRAFFIC = "traffic"


class FlipMethod(StrEnum):
    """How a failover moves traffic: the CloudWatch switch (default) or inverting Route53 health checks."""

    SWITCH = "switch"
    INVERT = "invert"


class ReportFormat(StrEnum):
    """What `drctl report` renders."""

    MD = "md"
    HTML = "html"
    JSON = "json"


# ------------------------------------------------------------------------------------------------- RDS


@dataclass(frozen=True)
class GlobalMember:
    """One member of an Aurora global cluster as DescribeGlobalClusters reports it."""

    cluster_arn: str
    region: str
    cluster_id: str
    is_writer: bool
    synchronization_status: str | None = None  # "connected" / "pending-resync" (secondary members only)
    write_forwarding_status: str | None = None  # GlobalWriteForwardingStatus


@dataclass(frozen=True)
class FailoverState:
    """GlobalCluster.FailoverState: present while a switchover/failover is pending or in progress."""

    status: str  # "pending" | "failing-over" | "cancelling"
    from_arn: str | None
    to_arn: str | None
    is_data_loss_allowed: bool


@dataclass(frozen=True)
class GlobalCluster:
    identifier: str
    status: str
    engine: str
    engine_version: str
    members: tuple[GlobalMember, ...]
    failover_state: FailoverState | None = None

    @property
    def writer(self) -> GlobalMember | None:
        return next((m for m in self.members if m.is_writer), None)

    def member_in(self, region: str) -> GlobalMember | None:
        return next((m for m in self.members if m.region == region), None)


@dataclass(frozen=True)
class ClusterState:
    """A regional DB cluster (DescribeDBClusters)."""

    cluster_id: str
    region: str
    status: str
    engine_version: str
    members: int  # DB instances in the cluster
    write_forwarding_status: str | None = None
    global_cluster_id: str | None = None  # DBCluster.GlobalClusterIdentifier: None when it stands alone
    has_writer_instance: bool = False  # a DBClusterMembers entry with IsClusterWriter

    @property
    def standalone_writer(self) -> bool:
        """Writable outside any global database: what RemoveFromGlobalCluster leaves behind (RDS API
        reference: the detached cluster "becomes a standalone cluster with read-write capability")."""
        return not self.global_cluster_id and self.has_writer_instance and self.status == "available"


# ------------------------------------------------------------------------------------------ CloudWatch


@dataclass(frozen=True)
class Sample:
    """The latest datapoint of a metric; age_s is measured when it was read."""

    value: float
    timestamp: datetime
    age_s: float


@dataclass(frozen=True)
class AuroraLag:
    """Aurora global database lag of the non-writer member, read in that member's region."""

    cluster_id: str
    region: str
    replication_lag_ms: Sample | None  # AuroraGlobalDBReplicationLag
    rpo_lag_ms: Sample | None  # AuroraGlobalDBRPOLag
    dimension_sets: tuple[str, ...] = ()  # the dimension sets read, e.g. "DBClusterIdentifier,SourceRegion"
    found_under: str | None = None  # the set the samples came from (None: no sample under any)
    lookback_s: float = 300.0  # how far back the read looked


@dataclass(frozen=True)
class S3Backlog:
    """S3 Replication Time Control metrics of a bucket's replication rule (AWS/S3)."""

    operations_pending: Sample | None
    bytes_pending: Sample | None
    replication_latency_s: Sample | None


# --------------------------------------------------------------------------------------------- Route53


@dataclass(frozen=True)
class HealthCheck:
    """The configuration of a Route53 health check (GetHealthCheck)."""

    id: str
    type: str  # HTTP | HTTPS | HTTP_STR_MATCH | HTTPS_STR_MATCH | TCP | CALCULATED | CLOUDWATCH_METRIC
    fqdn: str | None = None  # may be absent (IP-address checks, CALCULATED, CLOUDWATCH_METRIC)
    resource_path: str | None = None
    request_interval_s: int | None = None
    failure_threshold: int | None = None
    children: tuple[str, ...] = ()
    health_threshold: int | None = None
    inverted: bool = False
    disabled: bool = False
    alarm_name: str | None = None
    alarm_region: str | None = None
    insufficient_data_status: str | None = None

    @property
    def is_calculated(self) -> bool:
        return self.type == "CALCULATED"


@dataclass(frozen=True)
class Observation:
    """One health checker's latest report (GetHealthCheckStatus)."""

    region: str
    status: str  # starts with "Success" or "Failure"
    checked_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status.startswith("Success")


@dataclass(frozen=True)
class HealthVerdict:
    """drctl's view of a health check: healthy True/False, or None when it could not be determined."""

    check_id: str
    healthy: bool | None
    reason: str


@dataclass(frozen=True)
class RecordSet:
    """A failover record of the stack's record name."""

    name: str
    type: str
    set_identifier: str | None
    failover: str | None  # "PRIMARY" | "SECONDARY" | None
    health_check_id: str | None
    ttl_s: int | None
    target: str  # alias DNS name or the first resource record value
    is_alias: bool = False


# ------------------------------------------------------------------------------------ capacity, S3, ...


@dataclass(frozen=True)
class TargetHealth:
    target_group_arn: str
    healthy: int
    total: int
    states: dict[str, int] = field(default_factory=dict)  # target state -> count


@dataclass(frozen=True)
class AsgState:
    name: str
    desired: int
    in_service: int
    min_size: int
    max_size: int


@dataclass(frozen=True)
class S3Replication:
    bucket: str
    versioning: str | None  # "Enabled" | "Suspended" | None (never enabled)
    rule_id: str | None
    rule_status: str | None  # "Enabled" | "Disabled" | None (no rule)
    destination_bucket: str | None
    rtc_enabled: bool


@dataclass(frozen=True)
class RecoveryPoint:
    arn: str
    created: datetime | None
    status: str


@dataclass(frozen=True)
class CopyJob:
    job_id: str
    state: str
    created: datetime | None
    completed: datetime | None
    destination_vault_arn: str | None


@dataclass(frozen=True)
class BackupState:
    vault: str
    latest_recovery_point: RecoveryPoint | None
    latest_copy: CopyJob | None


@dataclass(frozen=True)
class TopicState:
    arn: str
    exists: bool


# ------------------------------------------------------------------------------------------ status report


@dataclass(frozen=True)
class Term:
    """One labelled term of an RPO/RTO figure; `estimate` marks a constant rather than a measurement."""

    name: str
    seconds: float | None
    source: str
    estimate: bool = False


@dataclass(frozen=True)
class EstimatedPoint:
    """One recovery milestone of status's RTO estimate, named like the run's (drctl/journal/phases.py
    RECOVERY_ORDER): `at_s` from the run's start, `step_s` since the previous milestone, with its source."""

    name: str
    at_s: float
    step_s: float
    source: str
    estimate: bool = False  # a typical constant rather than a figure read from the stack or AWS
    bound: bool = False  # a bound (e.g. + TTL), after the headline


@dataclass(frozen=True)
class RegionReport:
    """Everything `drctl status` knows about one region."""

    name: str
    deployment_role: str  # "primary" | "secondary" from the stack file
    role: str  # "writer" | "secondary" | "unknown": who writes *now*, read from AWS
    reachable: bool
    unreachable_reason: str | None
    member: GlobalMember | None
    cluster: ClusterState | None
    lag: AuroraLag | None  # only for the non-writer member
    health: HealthVerdict | None  # the region's failover record health (CALCULATED check)
    health_children: tuple[HealthVerdict, ...]
    serving: bool
    targets: TargetHealth | None
    asg: AsgState | None
    replication: S3Replication | None
    s3_backlog: S3Backlog | None
    backups: BackupState | None
    topic: TopicState | None
    errors: tuple[str, ...] = ()  # reads that failed for other reasons (one line each)
    owed_snapshots: tuple[str, ...] = ()  # unplanned-failover snapshots AWS made that drctl has not kept yet


@dataclass(frozen=True)
class TierGap:
    """An optional tier the stack does not describe: what drctl will not do or check, and what that costs."""

    tier: str
    will_not: str
    cost: str


@dataclass(frozen=True)
class StatusReport:
    stack_name: str
    generated_at: datetime
    global_cluster: GlobalCluster | None
    writer_region: str | None
    regions: dict[str, RegionReport]
    serving_region: str | None
    serving_reason: str
    rpo_exposure_s: float | None  # database term (Aurora RPO lag, else replication lag)
    rpo_terms: tuple[Term, ...]
    estimated_rto_s: float | None
    rto_terms: tuple[Term, ...]
    rpo_objective_s: float
    rto_objective_s: float
    max_switchover_lag_ms: float
    ready: bool
    reasons: tuple[str, ...]  # why not ready (empty when ready)
    warnings: tuple[str, ...] = ()  # worth knowing, not blocking
    route53_reachable: bool = True
    standalone_writers: tuple[str, ...] = ()  # regions whose cluster writes outside the global database
    rto_milestones: tuple[EstimatedPoint, ...] = ()  # the estimate as the run's recovery points
    traffic_method: str = "switch"  # the stack's `[traffic] method`
    not_covered: tuple[TierGap, ...] = ()  # optional tiers the stack does not describe
