"""Read everything `drctl status` shows, for both regions at once.

Every read is independent except two short chains, run inside one read each so they never wait for
unrelated calls: "describe the global cluster in region R, then (if R's member is not the writer) read its
lag in R", and "GetHealthCheck of a CALCULATED check, then the status of children the stack file did not
name" (a second round, normally empty).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from drctl.aws import autoscaling, backup, cloudwatch, elbv2, rds, route53, s3, sns
from drctl.aws.clients import ClientFactory
from drctl.aws.errors import error_code, is_auth, is_not_found, to_drctl_error
from drctl.errors import ConfigError, Unreachable
from drctl.models import AuroraLag, GlobalCluster, HealthCheck, Observation
from drctl.stack import HEALTH_CHECK, SWITCH, AwsSettings, RegionStack, Stack
from drctl.status.runner import Outcome, Read, run_reads

GLOBAL = "global"


@dataclass(frozen=True)
class DbReading:
    """The global cluster as seen from one region, plus that region's lag when it is the non-writer."""

    global_cluster: GlobalCluster
    lag: AuroraLag | None


@dataclass
class Readings:
    """Raw outcomes of every read, keyed like "asg:us-east-1" or "hc:<id>"."""

    outcomes: dict[str, Outcome]
    reads: dict[str, Read]

    def value(self, key: str) -> Any:
        o = self.outcomes.get(key)
        return o.value if o is not None and o.ok else None

    def unreachable(self, region: str) -> list[str]:
        """Why `region` (or "global") looks unreachable: the reads that got no answer."""
        return [
            o.unreachable for k, o in self.outcomes.items() if o.unreachable and self.reads[k].region == region
        ]

    def errors(self, region: str) -> list[str]:
        """One line per read of `region` that failed with a (non-fatal) AWS error."""
        lines = []
        for k, o in self.outcomes.items():
            read = self.reads[k]
            if o.error is not None and read.region == region:
                lines.append(f"{read.action}: {error_code(o.error) or type(o.error).__name__}")
        return lines


def status_settings(settings: AwsSettings, timeout_s: float) -> AwsSettings:
    """Per-call timeouts no longer than the command's deadline, so a dead region costs one timeout."""
    return replace(
        settings,
        connect_timeout_s=min(settings.connect_timeout_s, timeout_s),
        read_timeout_s=min(settings.read_timeout_s, timeout_s),
    )


def gather(stack: Stack, factory: ClientFactory, timeout_s: float) -> Readings:
    """Run every read for both regions concurrently; raise AuthError for credential/permission problems and
    ConfigError for missing stack resources; anything else is recorded per region."""
    deadline = time.monotonic() + timeout_s
    reads = _first_round(stack, factory, deadline)
    outcomes = run_reads(reads, timeout_s)
    by_key = {r.key: r for r in reads}
    # Health checks found in AWS that the stack file did not name (a stack file out of date), within
    # what is left of the same deadline.
    more = _second_round(stack, factory, outcomes, deadline)
    left = deadline - time.monotonic()
    if more and left > 0:
        outcomes.update(run_reads(more, left))
        by_key.update({r.key: r for r in more})
    readings = Readings(outcomes, by_key)
    _raise_fatal(readings)
    _raise_if_nothing_answered(stack, readings, timeout_s)
    return readings


def _first_round(stack: Stack, f: ClientFactory, deadline: float) -> list[Read]:
    reads: list[Read] = []
    for region in stack.regions.values():
        reads += _region_reads(stack, region, f)
    if stack.zone_id:
        reads.append(
            Read(
                "records",
                GLOBAL,
                "route53:ListResourceRecordSets",
                lambda: route53.list_failover_records(
                    f.client("route53", GLOBAL), stack.zone_id, stack.record_name
                ),
                f"hosted zone {stack.zone_id!r}",
            )
        )
    for region in stack.regions.values():
        if stack.traffic_method == HEALTH_CHECK:  # the record's own endpoint check (a leaf, normally)
            reads.append(_health_check_read(f, region.health_check_id))
            reads.append(_leaf_observations_read(f, stack, region.health_check_id, deadline))
        elif stack.traffic_method == SWITCH:
            reads.append(_health_check_read(f, region.health_check_id))
            for leaf in (region.alb_health_check_id, region.switch_health_check_id):
                reads.append(_health_check_read(f, leaf))
                reads.append(_observations_read(f, stack, leaf, deadline))
    return reads


def _region_reads(stack: Stack, region: RegionStack, f: ClientFactory) -> list[Read]:
    name = region.name
    other = stack.other(name)

    def client(service: str) -> Any:
        return f.client(service, name)

    def db() -> DbReading:
        gc = rds.describe_global_cluster(client("rds"), stack.global_cluster_id)
        member = gc.member_in(name)
        lag = None
        if member is not None and not member.is_writer:
            # The writer's region is the SourceRegion dimension of the lag this secondary publishes.
            source = gc.writer.region if gc.writer is not None else None
            lag = cloudwatch.read_aurora_lag(client("cloudwatch"), member.cluster_id, name, source)
        return DbReading(gc, lag)

    rule = stack.replication_rule_id
    reads: list[tuple[str, str, Callable[[], Any], str]] = [
        ("db", "rds:DescribeGlobalClusters", db, f"global cluster {stack.global_cluster_id!r}"),
        (
            "cluster",
            "rds:DescribeDBClusters",
            lambda: rds.describe_cluster(client("rds"), region.cluster_id, name),
            f"DB cluster {region.cluster_id!r}",
        ),
        (
            "snapshots",
            "rds:DescribeDBClusterSnapshots",
            lambda: rds.owed_snapshots(rds.cluster_snapshot_ids(client("rds"), region.cluster_id)),
            f"snapshots of DB cluster {region.cluster_id!r}",
        ),
    ]
    optional: dict[str, list[tuple[str, str, Callable[[], Any], str]]] = {
        "compute": [
            (
                "targets",
                "elasticloadbalancing:DescribeTargetHealth",
                lambda: elbv2.read_target_health(client("elbv2"), region.target_group_arn),
                f"target group {region.target_group_arn!r}",
            ),
            (
                "asg",
                "autoscaling:DescribeAutoScalingGroups",
                lambda: autoscaling.read_asg(client("autoscaling"), region.asg_name, name),
                f"Auto Scaling group {region.asg_name!r}",
            ),
        ],
        "object replication": [
            (
                "replication",
                "s3:GetReplicationConfiguration",
                lambda: s3.read_replication(client("s3"), region.bucket, rule),
                f"bucket {region.bucket!r}",
            ),
            (
                "s3_backlog",
                "cloudwatch:GetMetricData",
                lambda: cloudwatch.read_s3_backlog(client("cloudwatch"), region.bucket, other.bucket, rule),
                f"bucket {region.bucket!r}",
            ),
        ],
        "backups": [
            (
                "backups",
                "backup:ListRecoveryPointsByBackupVault",
                lambda: backup.read_backups(client("backup"), region.backup_vault),
                f"backup vault {region.backup_vault!r}",
            )
        ],
        "notifications": [
            (
                "topic",
                "sns:GetTopicAttributes",
                lambda: sns.read_topic(client("sns"), region.sns_topic_arn),
                f"SNS topic {region.sns_topic_arn!r}",
            )
        ],
    }
    for tier, tier_reads in optional.items():
        if stack.has(tier):  # a tier the stack does not describe is not read (status lists it as not covered)
            reads += tier_reads
    return [Read(f"{key}:{name}", name, action, fn, what) for key, action, fn, what in reads]


def _health_check_read(f: ClientFactory, check_id: str) -> Read:
    return Read(
        f"hc:{check_id}",
        GLOBAL,
        "route53:GetHealthCheck",
        lambda: route53.get_health_check(f.client("route53", GLOBAL), check_id),
        f"health check {check_id!r}",
    )


def _observations_read(f: ClientFactory, stack: Stack, check_id: str, deadline: float) -> Read:
    """GetHealthCheckStatus within the process's shared rate limit (docs/fidelity.md D-15): the reads queue
    for tokens, and one that could not be sent before the command's deadline says so instead of waiting."""
    return Read(
        f"hcs:{check_id}",
        GLOBAL,
        "route53:GetHealthCheckStatus",
        lambda: route53.get_health_check_observations(
            f.client("route53", GLOBAL), check_id, stack.route53_api, deadline_s=deadline - time.monotonic()
        ),
        f"health check {check_id!r}",
    )


def _second_round(stack: Stack, f: ClientFactory, outcomes: dict[str, Outcome], deadline: float) -> list[Read]:
    """Reads for health checks found in AWS (records, CALCULATED children) that the first round missed."""
    wanted: set[str] = set()
    found = outcomes.get("records")
    records = found.value if found is not None and found.ok else []
    wanted.update(r.health_check_id for r in records if r.health_check_id)
    for key, o in outcomes.items():
        if key.startswith("hc:") and o.ok and isinstance(o.value, HealthCheck):
            wanted.update(o.value.children)
    more: list[Read] = []
    for check_id in sorted(wanted):
        if f"hc:{check_id}" not in outcomes:
            more.append(_health_check_read(f, check_id))
            more.append(_leaf_observations_read(f, stack, check_id, deadline))
    return more


def _leaf_observations_read(f: ClientFactory, stack: Stack, check_id: str, deadline: float) -> Read:
    """Observations of a check whose type is not known yet (None for CALCULATED, which AWS refuses)."""

    def fn() -> list[Observation] | None:
        r53 = f.client("route53", GLOBAL)
        if route53.get_health_check(r53, check_id).is_calculated:
            return None
        return route53.get_health_check_observations(
            r53, check_id, stack.route53_api, deadline_s=deadline - time.monotonic()
        )

    return Read(f"hcs:{check_id}", GLOBAL, "route53:GetHealthCheckStatus", fn, f"health check {check_id!r}")


def _raise_if_nothing_answered(stack: Stack, readings: Readings, timeout_s: float) -> None:
    """With no endpoint answering there is nothing to show: say so in one line (exit UNREACHABLE)."""
    places = [*stack.region_names, *([GLOBAL] if stack.zone_id else [])]
    if all(readings.unreachable(p) for p in places) and not any(o.ok for o in readings.outcomes.values()):
        names = ", ".join([*stack.region_names, "Route53"])
        raise Unreachable(
            f"no AWS endpoint answered within {timeout_s:g}s ({names})",
            hint="check network access, endpoints in the stack file, or retry with a longer --timeout",
        )


def _raise_fatal(readings: Readings) -> None:
    """Credentials, permissions and missing resources stop the command: the screen would be a lie."""
    for key, o in readings.outcomes.items():
        if o.error is None:
            continue
        read = readings.reads[key]
        code = error_code(o.error)
        region = read.region if read.region != GLOBAL else "Route53"
        if is_not_found(o.error) and not key.startswith("hcs:"):
            raise ConfigError(
                f"{read.resource or read.action} not found in {region} ({code})", hint="check the stack file"
            )
        if is_auth(o.error):
            raise to_drctl_error(o.error, action=read.action, region=region)
