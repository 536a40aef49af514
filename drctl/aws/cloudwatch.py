"""CloudWatch reads: the latest sample of a metric (GetMetricData), with its age."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from drctl.models import AuroraLag, S3Backlog, Sample

# How far back to look for the latest datapoint. Aurora and S3 RTC publish once a minute; CloudWatch may take
# a minute or two to make a datapoint readable, so the newest per-minute sample can be 2-3 minutes old when
# we read. A sample older than this is as good as none during an incident.
LOOKBACK = timedelta(minutes=5)

# Aurora's lag metrics and S3 RTC's are standard resolution. MetricStat.Period: "For metrics with regular
# resolution, a period can be as short as one minute (60 seconds) and must be a multiple of 60."
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricStat.html
STANDARD_PERIOD_S = 60


@dataclass(frozen=True)
class MetricQuery:
    key: str  # caller's name for the result
    namespace: str
    metric: str
    dimensions: Mapping[str, str]
    stat: str = "Maximum"
    period_s: int = STANDARD_PERIOD_S

    def __post_init__(self) -> None:
        if self.period_s < STANDARD_PERIOD_S or self.period_s % STANDARD_PERIOD_S:
            raise ValueError(f"period {self.period_s} s: standard-resolution metrics need a multiple of 60 s")


def latest_samples(
    cw: Any, queries: Sequence[MetricQuery], *, now: datetime | None = None
) -> dict[str, Sample | None]:
    """One GetMetricData call for several metrics; the newest datapoint of each (None when there is none).

    Each datapoint is one period's statistic; its timestamp is the start of that period, so the age reported
    is the age of the period's start (at most one period more than the age of the measurement itself).
    """
    now = now or datetime.now(UTC)
    ids = {f"q{i}": q for i, q in enumerate(queries)}
    # Start and end on whole minutes: CloudWatch aligns periods to them anyway ("For better performance,
    # specify StartTime and EndTime values that align with the value of the metric's Period", GetMetricData
    # API reference). The end lies past the current, still-open minute (one more for clock skew), so the
    # newest period is in the window.
    start = (now - LOOKBACK).replace(second=0, microsecond=0)
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=2)
    resp = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": qid,
                "MetricStat": {
                    "Metric": {
                        "Namespace": q.namespace,
                        "MetricName": q.metric,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in q.dimensions.items()],
                    },
                    "Period": q.period_s,
                    "Stat": q.stat,
                },
                "ReturnData": True,
            }
            for qid, q in ids.items()
        ],
        StartTime=start,
        EndTime=end,
        ScanBy="TimestampDescending",
    )
    out: dict[str, Sample | None] = {q.key: None for q in queries}
    for result in resp.get("MetricDataResults", []):
        q = ids.get(result.get("Id", ""))
        if q is None:
            continue
        out[q.key] = _newest(result.get("Timestamps", []), result.get("Values", []), now)
    return out


def _newest(timestamps: Sequence[datetime], values: Sequence[float], now: datetime) -> Sample | None:
    points = sorted(zip(timestamps, values, strict=False), key=lambda p: p[0], reverse=True)
    if not points:
        return None
    ts, value = points[0]
    ts = ts.astimezone(UTC)
    return Sample(value=float(value), timestamp=ts, age_s=max(0.0, (now - ts).total_seconds()))


# --------------------------------------------------------------------------------------------- Aurora lag

# Aurora publishes AuroraGlobalDBReplicationLag / AuroraGlobalDBRPOLag from each secondary, in the secondary's
# region ("only available in the secondary AWS Region": Amazon CloudWatch metrics for Amazon Aurora,
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.AuroraMonitoring.Metrics.html). AWS
# material shows them grouped by {DBClusterIdentifier} and by {DBClusterIdentifier, SourceRegion}, SourceRegion
# being the primary's region (Aurora dimensions:
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/dimensions.html; the same RDS platform documents
# "DBClusterIdentifier, SourceRegion" for Neptune global databases:
# https://docs.aws.amazon.com/neptune/latest/userguide/cw-dimensions.html). CloudWatch matches dimension sets
# exactly: "CloudWatch treats each unique combination of dimensions as a separate metric. If a specific
# combination of dimensions was not published, you can't retrieve statistics for it"
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html,
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Dimension).
#
# So the read asks for both candidate sets in the same single GetMetricData call and takes whichever has data.
# Chosen over the alternatives because, on the incident path:
# - ListMetrics would be a second call, and "When CloudWatch creates a metric, it can take up to fifteen minutes
#   for the metric to appear in calls to ListMetrics" (PutMetricData API reference,
#   https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html). After a switchover
#   the new secondary's lag is a *new* metric (SourceRegion changes), invisible to ListMetrics for those minutes
#   exactly when a failback preflight needs it; a per-process cache would go stale the same way.
# - A SEARCH expression "can only find metrics that have reported data within the past two weeks", matches
#   terms partially (a cluster id that prefixes another would match both), and is billed per metric it analyses
#   (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-search-expressions.html).
# Both candidate sets are known without asking: the cluster id and the writer's region come from
# DescribeGlobalClusters (or the stack file). Cost: four metrics in one call instead of two.
CLUSTER_SET = "DBClusterIdentifier"
SOURCE_SET = "DBClusterIdentifier,SourceRegion"
LAG_METRICS = {"replication": "AuroraGlobalDBReplicationLag", "rpo": "AuroraGlobalDBRPOLag"}


def aurora_lag_dimension_sets(cluster_id: str, source_region: str | None) -> dict[str, dict[str, str]]:
    """The dimension sets AWS documents for the lag metrics of `cluster_id` (a secondary of `source_region`)."""
    sets = {CLUSTER_SET: {"DBClusterIdentifier": cluster_id}}
    if source_region:
        sets[SOURCE_SET] = {"DBClusterIdentifier": cluster_id, "SourceRegion": source_region}
    return sets


def read_aurora_lag(cw: Any, cluster_id: str, region: str, source_region: str | None = None) -> AuroraLag:
    """AuroraGlobalDBReplicationLag and AuroraGlobalDBRPOLag (ms) of a non-writer member, in its region.

    `source_region` is the global writer's region; without it only the {DBClusterIdentifier} set is read.
    Each metric's sample is the newest under any candidate set (on a tie, the larger value: the safer one).
    """
    sets = aurora_lag_dimension_sets(cluster_id, source_region)
    got = latest_samples(
        cw,
        [
            MetricQuery(f"{key}|{set_name}", "AWS/RDS", metric, dims)
            for key, metric in LAG_METRICS.items()
            for set_name, dims in sets.items()
        ],
    )
    best: dict[str, Sample | None] = {}
    found_under: dict[str, str] = {}
    for key in LAG_METRICS:
        candidates = [(got[f"{key}|{name}"], name) for name in sets]
        present = [(s, name) for s, name in candidates if s is not None]
        if not present:
            best[key] = None
            continue
        sample, name = max(present, key=lambda p: (p[0].timestamp, p[0].value))
        best[key], found_under[key] = sample, name
    return AuroraLag(
        cluster_id,
        region,
        replication_lag_ms=best["replication"],
        rpo_lag_ms=best["rpo"],
        dimension_sets=tuple(sets),
        found_under=found_under.get("rpo") or found_under.get("replication"),
        lookback_s=LOOKBACK.total_seconds(),
    )


def read_s3_backlog(cw: Any, source_bucket: str, destination_bucket: str, rule_id: str) -> S3Backlog:
    """S3 RTC metrics of one replication rule (published in the source bucket's region)."""
    dims = {"SourceBucket": source_bucket, "DestinationBucket": destination_bucket, "RuleId": rule_id}
    got = latest_samples(
        cw,
        [
            MetricQuery("ops", "AWS/S3", "OperationsPendingReplication", dims),
            MetricQuery("bytes", "AWS/S3", "BytesPendingReplication", dims),
            MetricQuery("latency", "AWS/S3", "ReplicationLatency", dims),
        ],
    )
    return S3Backlog(
        operations_pending=got["ops"], bytes_pending=got["bytes"], replication_latency_s=got["latency"]
    )


@dataclass(frozen=True)
class Alarm:
    """One metric alarm as DescribeAlarms reports it."""

    name: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    period_s: int | None
    updated: datetime | None = None  # StateUpdatedTimestamp: when the state last changed
    evaluation_periods: int | None = None
    reason: str = ""  # StateReason
    # StateTransitionedTimestamp: "The date and time that the alarm's StateValue most recently changed";
    # StateUpdatedTimestamp also moves on updates that keep the StateValue (API_MetricAlarm).
    transitioned: datetime | None = None

    @property
    def state_since(self) -> tuple[str, datetime] | None:
        """(field, time) since when the alarm has been in its state: StateTransitionedTimestamp, else (older
        APIs, emulators) StateUpdatedTimestamp."""
        if self.transitioned is not None:
            return "StateTransitionedTimestamp", self.transitioned
        if self.updated is not None:
            return "StateUpdatedTimestamp", self.updated
        return None


def _alarm(raw: Mapping[str, Any], name: str) -> Alarm:
    period, periods = raw.get("Period"), raw.get("EvaluationPeriods")
    updated, transitioned = raw.get("StateUpdatedTimestamp"), raw.get("StateTransitionedTimestamp")
    return Alarm(
        str(raw.get("AlarmName", name)),
        str(raw.get("StateValue", "")),
        int(period) if period else None,
        updated.astimezone(UTC) if isinstance(updated, datetime) else None,
        int(periods) if periods else None,
        str(raw.get("StateReason", "")),
        transitioned.astimezone(UTC) if isinstance(transitioned, datetime) else None,
    )


def read_alarm(cw: Any, alarm_name: str) -> Alarm | None:
    """DescribeAlarms for one alarm name (None if it does not exist)."""
    alarms = cw.describe_alarms(AlarmNames=[alarm_name]).get("MetricAlarms", [])
    return _alarm(alarms[0], alarm_name) if alarms else None


# DescribeAlarms: AlarmNames "Maximum number of 100 items"; without AlarmTypes "only metric alarms are
# returned" (composite alarms also need the permission scoped to *, so they are not read); MaxRecords 1-100, the
# rest behind NextToken. https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html
MAX_ALARM_NAMES = 100


def read_alarms(cw: Any, names: Sequence[str]) -> dict[str, Alarm]:
    """DescribeAlarms for up to 100 metric-alarm names; names that do not exist are absent from the result."""
    if len(names) > MAX_ALARM_NAMES:
        raise ValueError(f"DescribeAlarms takes at most {MAX_ALARM_NAMES} alarm names, got {len(names)}")
    out: dict[str, Alarm] = {}
    kwargs: dict[str, Any] = {"AlarmNames": list(names), "MaxRecords": MAX_ALARM_NAMES}
    while True:
        resp = cw.describe_alarms(**kwargs)
        for raw in resp.get("MetricAlarms", []):
            alarm = _alarm(raw, "")
            if alarm.name in names:
                out[alarm.name] = alarm
        token = resp.get("NextToken")
        if not token:
            return out
        kwargs["NextToken"] = token
