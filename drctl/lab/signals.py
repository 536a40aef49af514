"""Simulated signals: replication lag and S3 replication backlog, published every second into the emulator's
CloudWatch from a profile the lab sets (`drctl lab set-lag 2500ms`).

Published (the same metrics and dimensions AWS publishes):
- AWS/RDS AuroraGlobalDBReplicationLag and AuroraGlobalDBRPOLag (ms) for each non-writer member of each global
  cluster, in that member's (the secondary) region, as AWS publishes them: "Some CloudWatch metrics, such as
  replication lag, are only available for secondary Regions" (Aurora User Guide, Using switchover or failover:
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html),
  under the dimension set DBClusterIdentifier + SourceRegion (the writer's region): the AWS Aurora workshop reads
  them from the metrics group "DBClusterIdentifier, SourceRegion" (https://awsauroralabsmy.com/global/cw/), and
  the Aurora dimensions reference lists SourceRegion
  (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/dimensions.html). `drctl lab set-lag
  --dimensions cluster|source-region|both` publishes under DBClusterIdentifier alone, the AWS set (default), or
  both, so readers can be tested against either. A member being rebuilt (pending-resync) publishes nothing;
- AWS/S3 OperationsPendingReplication, BytesPendingReplication, ReplicationLatency (s), dimensions SourceBucket,
  DestinationBucket, RuleId, for every bucket in the writer's region with a replication configuration.

The profile is the simulated truth; GET /_lab/signals shows it, so tests can compare what drctl measures.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)
TICK_S = 1.0


LAG_DIMENSIONS = ("source-region", "cluster", "both")


@dataclass
class Profile:
    lag_ms: float = 100.0
    lag_dimensions: str = "source-region"  # what AWS publishes (see the module docstring)
    backlog_operations: float = 0.0
    backlog_bytes: float = 0.0
    replication_latency_s: float = 0.0


class _World(Protocol):
    regions: tuple[str, ...]

    def is_region_down(self, region: str) -> bool: ...
    def client(self, service: str, region: str) -> Any: ...


class _Transitions(Protocol):
    def apparent_writer(self, global_cluster_id: str) -> str | None: ...
    def is_resyncing(self, cluster_arn: str) -> bool: ...


def arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def arn_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def global_members(world: _World, transitions: _Transitions) -> list[tuple[str, str, bool]]:
    """(global cluster id, member ARN, is writer as the lab shows it) for every global cluster member."""
    region = next((r for r in world.regions if not world.is_region_down(r)), world.regions[0])
    out = []
    for gc in world.client("rds", region).describe_global_clusters().get("GlobalClusters", []):
        gc_id = gc["GlobalClusterIdentifier"]
        shown = transitions.apparent_writer(gc_id)
        for m in gc.get("GlobalClusterMembers", []):
            writer = m["DBClusterArn"] == shown if shown else bool(m.get("IsWriter"))
            out.append((gc_id, m["DBClusterArn"], writer))
    return out


def replication_rules(world: _World, region: str) -> list[tuple[str, str, str]]:
    """(source bucket, destination bucket, rule id) for buckets in `region` with replication configured."""
    from botocore.exceptions import ClientError

    s3 = world.client("s3", region)
    out = []
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        try:
            location = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
            if location != region:
                continue
            rules = s3.get_bucket_replication(Bucket=name)["ReplicationConfiguration"]["Rules"]
        except ClientError:
            continue  # no replication configuration (or the bucket went away meanwhile)
        for rule in rules:
            if rule.get("Status", "Enabled") == "Enabled":
                out.append((name, arn_name(rule["Destination"]["Bucket"]), rule.get("ID", "")))
    return out


class Signals:
    """The publishing thread and the profile it follows."""

    def __init__(self, world: _World, transitions: _Transitions) -> None:
        self.world = world
        self.transitions = transitions
        self.profile = Profile()
        self.last: dict[str, Any] = {}
        self.on_tick: Callable[[], object] | None = None  # more once-a-second work (health-check refresh)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="lab-signals", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            for work in (self.tick, self.on_tick):
                try:
                    if work is not None:
                        work()
                except Exception as e:  # a bad tick (emulator restarting, reset mid-way) must not end the thread
                    log.warning("lab signals: %s failed: %s", getattr(work, "__name__", work), e)
                    self.last = {"ts": time.time(), "error": str(e)}

    def tick(self) -> dict[str, Any]:
        """Publish one round of samples; returns what was published."""
        from botocore.exceptions import BotoCoreError, ClientError

        p = self.profile
        published: dict[str, Any] = {"ts": time.time(), "rds": [], "s3": []}
        members = global_members(self.world, self.transitions)
        writer_regions = {arn_region(arn) for _, arn, writer in members if writer}
        writer_of = {gc: arn_region(arn) for gc, arn, writer in members if writer}
        for gc, arn, writer in members:
            region = arn_region(arn)
            if writer or self.world.is_region_down(region) or self.transitions.is_resyncing(arn):
                continue
            cluster_dim = {"Name": "DBClusterIdentifier", "Value": arn_name(arn)}
            source_dim = {"Name": "SourceRegion", "Value": writer_of.get(gc, "")}
            dim_sets = {"cluster": [[cluster_dim]], "source-region": [[cluster_dim, source_dim]]}.get(
                p.lag_dimensions, [[cluster_dim], [cluster_dim, source_dim]]
            )
            lag_data: list[dict[str, Any]] = [
                {"MetricName": name, "Dimensions": dims, "Value": p.lag_ms, "Unit": "Milliseconds"}
                for name in ("AuroraGlobalDBReplicationLag", "AuroraGlobalDBRPOLag")
                for dims in dim_sets
            ]
            self.world.client("cloudwatch", region).put_metric_data(Namespace="AWS/RDS", MetricData=lag_data)
            published["rds"].append(
                {"cluster": arn_name(arn), "region": region, "lag_ms": p.lag_ms, "dimensions": dim_sets}
            )
        for region in sorted(writer_regions or set(self.world.regions)):
            if self.world.is_region_down(region):
                continue
            try:
                rules = replication_rules(self.world, region)
            except (BotoCoreError, ClientError) as e:
                log.warning("lab signals: cannot list buckets in %s: %s", region, e)
                continue
            for source, dest, rule_id in rules:
                dims = [
                    {"Name": "SourceBucket", "Value": source},
                    {"Name": "DestinationBucket", "Value": dest},
                    {"Name": "RuleId", "Value": rule_id},
                ]
                data = [
                    {"MetricName": "OperationsPendingReplication", "Value": p.backlog_operations, "Unit": "Count"},
                    {"MetricName": "BytesPendingReplication", "Value": p.backlog_bytes, "Unit": "Bytes"},
                    {"MetricName": "ReplicationLatency", "Value": p.replication_latency_s, "Unit": "Seconds"},
                ]
                for d in data:
                    d["Dimensions"] = dims
                self.world.client("cloudwatch", region).put_metric_data(Namespace="AWS/S3", MetricData=data)
                published["s3"].append({"source": source, "destination": dest, "rule": rule_id, "region": region})
        self.last = published
        return published

    def view(self) -> dict[str, Any]:
        return {"lab": True, "profile": asdict(self.profile), "last_published": self.last}
