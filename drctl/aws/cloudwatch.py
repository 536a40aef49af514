"""CloudWatch reads: the latest sample of a metric (GetMetricData), with its age."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from drctl.models import AuroraLag, S3Backlog, Sample

# How far back to look for the latest datapoint. Aurora and S3 RTC publish at least every minute; a
# sample older than this is as good as none during an incident.
LOOKBACK = timedelta(minutes=5)


@dataclass(frozen=True)
class MetricQuery:
    key: str  # caller's name for the result
    namespace: str
    metric: str
    dimensions: Mapping[str, str]
    stat: str = "Maximum"


def latest_samples(
    cw: Any, queries: Sequence[MetricQuery], *, now: datetime | None = None
) -> dict[str, Sample | None]:
    """One GetMetricData call for several metrics; the newest datapoint of each (None when there is none).

    Period 1 s: CloudWatch returns high-resolution metrics at 1 s and standard ones at their stored
    resolution, so the newest point is as fresh as the metric allows.
    """
    now = now or datetime.now(UTC)
    ids = {f"q{i}": q for i, q in enumerate(queries)}
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
                    "Period": 1,
                    "Stat": q.stat,
                },
                "ReturnData": True,
            }
            for qid, q in ids.items()
        ],
        StartTime=now - LOOKBACK,
        EndTime=now + timedelta(minutes=1),
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


def read_aurora_lag(cw: Any, cluster_id: str, region: str) -> AuroraLag:
    """AuroraGlobalDBReplicationLag and AuroraGlobalDBRPOLag (ms) of a non-writer member, in its region."""
    dims = {"DBClusterIdentifier": cluster_id}
    got = latest_samples(
        cw,
        [
            MetricQuery("replication", "AWS/RDS", "AuroraGlobalDBReplicationLag", dims),
            MetricQuery("rpo", "AWS/RDS", "AuroraGlobalDBRPOLag", dims),
        ],
    )
    return AuroraLag(cluster_id, region, replication_lag_ms=got["replication"], rpo_lag_ms=got["rpo"])


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


def read_alarm(cw: Any, alarm_name: str) -> Alarm | None:
    """DescribeAlarms for one alarm name (None if it does not exist)."""
    alarms = cw.describe_alarms(AlarmNames=[alarm_name]).get("MetricAlarms", [])
    if not alarms:
        return None
    raw = alarms[0]
    period = raw.get("Period")
    return Alarm(
        str(raw.get("AlarmName", alarm_name)), str(raw.get("StateValue", "")), int(period) if period else None
    )


def datapoints(
    cw: Any, query: MetricQuery, start: datetime, end: datetime, *, period_s: int = 1
) -> list[tuple[datetime, float]]:
    """Every datapoint of one metric between `start` and `end` (GetMetricData), timestamps in UTC."""
    resp = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q0",
                "MetricStat": {
                    "Metric": {
                        "Namespace": query.namespace,
                        "MetricName": query.metric,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in query.dimensions.items()],
                    },
                    "Period": period_s,
                    "Stat": query.stat,
                },
            }
        ],
        StartTime=start,
        EndTime=end,
    )
    return [
        (ts.astimezone(UTC), float(v))
        for r in resp.get("MetricDataResults", [])
        for ts, v in zip(r.get("Timestamps", []), r.get("Values", []), strict=False)
    ]
