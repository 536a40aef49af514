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
- AWS/ApplicationELB, from the lab's target-health model (drctl/lab/capacity.py), for every application load
  balancer with a listener in a region that is up (docs/fidelity.md T-34, T-35). Per the ALB CloudWatch metrics
  reference (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html):
  HealthyHostCount and UnHealthyHostCount ("the number of targets that are considered healthy / unhealthy") under
  {TargetGroup, LoadBalancer}, the dimension values being the ARN suffixes (`targetgroup/name/id`, `app/name/id`);
  HTTPCode_ELB_5XX_Count and HTTPCode_ELB_503_Count (Sum; "Reporting criteria: There is a nonzero value") under
  {LoadBalancer} when the load balancer answers 503 itself: "The target groups for the load balancer have no
  registered targets" (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html),
  here no target that can take a request (none registered, or all still `initial`). A group whose targets are all
  unhealthy *fails open*: "If a target group contains only unhealthy registered targets, the load balancer routes
  requests to all those targets" (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html),
  so an app fault shows as HTTPCode_Target_5XX_Count (the targets' 503s), not as ELB 5xx. The request rate is
  simulated (`Profile.alb_requests_per_s`, AWS seconds; ELB "reports metrics to CloudWatch only when requests are
  flowing"): each lab second stands for 1 / time scale AWS seconds of requests.

The profile is the simulated truth; GET /_lab/signals shows it, so tests can compare what drctl measures.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from drctl.lab.periodic import Worker

log = logging.getLogger(__name__)
TICK_S = 1.0
TOPOLOGY_S = 10.0  # how long the lab trusts its list of load balancers and their target groups


LAG_DIMENSIONS = ("source-region", "cluster", "both")


@dataclass
class Profile:
    lag_ms: float = 100.0
    lag_dimensions: str = "source-region"  # what AWS publishes (see the module docstring)
    backlog_operations: float = 0.0
    backlog_bytes: float = 0.0
    replication_latency_s: float = 0.0
    alb_requests_per_s: float = 1.0  # simulated client requests reaching each ALB (per AWS second)


class _World(Protocol):
    regions: tuple[str, ...]

    def is_region_down(self, region: str) -> bool: ...
    def app_failing(self, region: str) -> bool: ...
    def client(self, service: str, region: str) -> Any: ...


class _LagSource(Protocol):
    def measures(self, region: str) -> bool: ...
    def lag(self, region: str) -> tuple[float, float] | None: ...


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


class _TargetHealth(Protocol):
    def target_counts(self, region: str, tg_arn: str) -> dict[str, int]: ...


def lb_dimension(lb_arn: str) -> str:
    """The LoadBalancer dimension: the ARN after `loadbalancer/` (app/name/id), as Terraform's arn_suffix."""
    return lb_arn.split(":loadbalancer/", 1)[-1]


def tg_dimension(tg_arn: str) -> str:
    """The TargetGroup dimension: the ARN's resource part (targetgroup/name/id), as Terraform's arn_suffix."""
    return tg_arn.rsplit(":", 1)[-1]


def alb_target_groups(world: _World, region: str) -> list[tuple[str, str]]:
    """(load balancer ARN, target group ARN) of every application load balancer's listener forwards."""
    elb = world.client("elbv2", region)
    out: list[tuple[str, str]] = []
    for lb in elb.describe_load_balancers().get("LoadBalancers", []):
        if lb.get("Type", "application") != "application":
            continue
        for listener in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"]).get("Listeners", []):
            for action in listener.get("DefaultActions", []):
                forward = (action.get("ForwardConfig") or {}).get("TargetGroups", [])
                for arn in [action.get("TargetGroupArn"), *(t.get("TargetGroupArn") for t in forward)]:
                    if arn and (lb["LoadBalancerArn"], arn) not in out:
                        out.append((lb["LoadBalancerArn"], arn))
    return out


def _point(name: str, dims: list[dict[str, str]], value: float) -> dict[str, Any]:
    return {"MetricName": name, "Dimensions": dims, "Value": value, "Unit": "Count"}


def alb_metric_data(
    lb_arn: str, groups: dict[str, dict[str, int]], requests: float, app_failing: bool
) -> list[dict[str, Any]]:
    """One load balancer's AWS/ApplicationELB datapoints for one tick (see the module docstring)."""
    lb = {"Name": "LoadBalancer", "Value": lb_dimension(lb_arn)}
    data: list[dict[str, Any]] = []
    for tg_arn, counts in groups.items():
        dims = [{"Name": "TargetGroup", "Value": tg_dimension(tg_arn)}, lb]
        data += [
            _point("HealthyHostCount", dims, counts["healthy"]),
            _point("UnHealthyHostCount", dims, counts["unhealthy"]),
        ]
    routable = [c for c in groups.values() if c["healthy"] or c["unhealthy"]]
    if requests <= 0:
        return data
    if not routable:  # nothing can take a request: the load balancer answers 503 itself
        data += [
            _point("HTTPCode_ELB_5XX_Count", [lb], requests),
            _point("HTTPCode_ELB_503_Count", [lb], requests),
        ]
    elif app_failing and not any(c["healthy"] for c in routable):  # fail open: the targets answer 503
        data.append(_point("HTTPCode_Target_5XX_Count", [lb], requests))
    return data


class Signals:
    """The publishing thread and the profile it follows."""

    def __init__(
        self,
        world: _World,
        transitions: _Transitions,
        time_scale: float = 1.0,
        target_health: _TargetHealth | None = None,
    ) -> None:
        self.world = world
        self.transitions = transitions
        self.time_scale = time_scale
        self.target_health = target_health  # the lab's target-health model (capacity.py); None: no ALB metrics
        self._alb_last: dict[str, float] = {}  # region -> when its ALB metrics were last published
        self._alb_topology: dict[str, tuple[float, list[tuple[str, str]]]] = {}  # region -> (read at, forwards)
        self.profile = Profile()
        self.last: dict[str, Any] = {}
        self.on_tick: Callable[[], object] | None = None  # more once-a-second work (health-check refresh)
        # The lab's real databases (drctl/lab/databases.py): where they run, a secondary's lag is measured
        # (no sample while it cannot be); elsewhere, or without them, the profile's simulated lag is published.
        self.lag_source: _LagSource | None = None
        # How samples reach the emulator (models.py routes them through the alarm model, drctl/lab/alarms.py).
        self.put_metric_data: Callable[[str, str, list[dict[str, Any]]], None] = self._put
        self._worker = Worker("lab-signals", self._run)
        self._stop = self._worker.stopping

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            for work in (self.tick, self.on_tick):
                try:
                    if work is not None:
                        work()
                except Exception as e:  # a bad tick (emulator restarting, reset mid-way) must not end the thread
                    log.warning("lab signals: %s failed: %s", getattr(work, "__name__", work), e)
                    self.last = {"ts": time.time(), "error": str(e)}

    def _put(self, region: str, namespace: str, data: list[dict[str, Any]]) -> None:
        self.world.client("cloudwatch", region).put_metric_data(Namespace=namespace, MetricData=data)

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
            measuring = self.lag_source is not None and self.lag_source.measures(region)
            measured = self.lag_source.lag(region) if self.lag_source is not None and measuring else None
            if measuring and measured is None:
                continue  # replication not measurable now (stream cut, standby reconnecting): no datapoint
            replication_ms, rpo_ms = measured if measured is not None else (p.lag_ms, p.lag_ms)
            lag_data: list[dict[str, Any]] = [
                {"MetricName": name, "Dimensions": dims, "Value": value, "Unit": "Milliseconds"}
                for name, value in (
                    ("AuroraGlobalDBReplicationLag", replication_ms),
                    ("AuroraGlobalDBRPOLag", rpo_ms),
                )
                for dims in dim_sets
            ]
            self.put_metric_data(region, "AWS/RDS", lag_data)
            published["rds"].append(
                {
                    "cluster": arn_name(arn),
                    "region": region,
                    "lag_ms": rpo_ms,
                    "replication_lag_ms": replication_ms,
                    "source": "measured (real replication)" if measured is not None else "simulated",
                    "dimensions": dim_sets,
                }
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
                self.put_metric_data(region, "AWS/S3", data)
                published["s3"].append({"source": source, "destination": dest, "rule": rule_id, "region": region})
        published["alb"] = self.publish_alb()
        self.last = published
        return published

    def publish_alb(self) -> list[dict[str, Any]]:
        """AWS/ApplicationELB datapoints of every region that is up, from the target-health model."""
        from botocore.exceptions import BotoCoreError, ClientError

        if self.target_health is None:
            return []
        out = []
        now = time.time()
        for region in self.world.regions:
            if self.world.is_region_down(region):
                self._alb_last.pop(region, None)
                continue
            elapsed = min(5.0, max(0.0, now - self._alb_last.get(region, now - TICK_S)))
            self._alb_last[region] = now
            # Requests during this tick, in AWS time: a lab second is 1 / time_scale AWS seconds.
            requests = self.profile.alb_requests_per_s * elapsed / self.time_scale
            try:
                by_lb: dict[str, dict[str, dict[str, int]]] = {}
                for lb_arn, tg_arn in self._forwards(region, now):
                    by_lb.setdefault(lb_arn, {})[tg_arn] = self.target_health.target_counts(region, tg_arn)
            except (BotoCoreError, ClientError) as e:
                log.warning("lab signals: cannot read load balancers in %s: %s", region, e)
                self._alb_topology.pop(region, None)  # maybe one went away: read them again next tick
                continue
            for lb_arn, groups in by_lb.items():
                data = alb_metric_data(lb_arn, groups, requests, self.world.app_failing(region))
                self.put_metric_data(region, "AWS/ApplicationELB", data)
                out.append(
                    {
                        "region": region,
                        "load_balancer": lb_dimension(lb_arn),
                        "target_groups": groups,
                        "requests": round(requests, 3),
                        "metrics": sorted({d["MetricName"] for d in data}),
                    }
                )
        return out

    def _forwards(self, region: str, now: float) -> list[tuple[str, str]]:
        """The region's (load balancer, target group) forwards, re-read every TOPOLOGY_S (they rarely change)."""
        read_at, forwards = self._alb_topology.get(region, (-math.inf, []))
        if now - read_at >= TOPOLOGY_S or not forwards:  # none yet: ask again next tick
            forwards = alb_target_groups(self.world, region)
            self._alb_topology[region] = (now, forwards)
        return forwards

    def forget_topology(self) -> None:
        """After an emulator reset: the load balancers are gone or new."""
        self._alb_topology.clear()

    def view(self) -> dict[str, Any]:
        return {"lab": True, "simulated": True, "profile": asdict(self.profile), "last_published": self.last}
