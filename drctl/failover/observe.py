"""Reads a failover needs beyond the status reads: the switch alarm, who Route53 would answer, snapshots.

Built on drctl/aws read functions and drctl.status.health; kept here because only a failover uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from drctl.aws import cloudwatch, rds, route53
from drctl.aws.clients import GLOBAL_REGION
from drctl.models import AuroraLag, HealthVerdict, Sample
from drctl.stack import Stack
from drctl.status.health import calculated_verdict, leaf_verdict, serving_record


class Clients(Protocol):
    def client(self, service: str, region: str) -> Any: ...


def alarm_state(clients: Clients, region: str, alarm_name: str) -> str | None:
    """StateValue of one alarm (None if it does not exist)."""
    alarm = cloudwatch.read_alarm(clients.client("cloudwatch", region), alarm_name)
    return alarm.state if alarm else None


@dataclass(frozen=True)
class LagReading:
    """The RPO evidence: which metric, its value and when it was taken."""

    metric: str
    value_ms: float
    timestamp: str
    age_s: float
    cluster_id: str
    region: str
    dimensions: str | None = None  # the dimension set the sample was found under


def lag_reading(
    clients: Clients, cluster_id: str, region: str, source_region: str | None = None
) -> LagReading | None:
    """AuroraGlobalDBRPOLag if there is a sample, else AuroraGlobalDBReplicationLag (newest datapoint).

    `source_region` is the global writer's region: with it, both documented dimension sets are read.
    """
    lag: AuroraLag = cloudwatch.read_aurora_lag(
        clients.client("cloudwatch", region), cluster_id, region, source_region
    )
    for metric, sample in (
        ("AuroraGlobalDBRPOLag", lag.rpo_lag_ms),
        ("AuroraGlobalDBReplicationLag", lag.replication_lag_ms),
    ):
        if sample is not None:
            return _reading(metric, sample, lag)
    return None


def no_lag_sample(source_region: str | None) -> str:
    """Why there is no lag reading, in words an operator can check."""
    sets = cloudwatch.aurora_lag_dimension_sets("-", source_region)
    minutes = cloudwatch.LOOKBACK.total_seconds() / 60
    under = "either dimension set" if len(sets) > 1 else "the dimension set"
    return f"no lag sample under {under} ({' / '.join(f'{{{s}}}' for s in sets)}) in the last {minutes:g} minutes"


def _reading(metric: str, s: Sample, lag: AuroraLag) -> LagReading:
    return LagReading(
        metric, s.value, s.timestamp.isoformat(), round(s.age_s, 3), lag.cluster_id, lag.region, lag.found_under
    )


@dataclass(frozen=True)
class Serving:
    """Route53's answer for the stack's record, computed from the health checks (control-plane reads)."""

    serving_region: str | None
    healthy: dict[str, bool | None]  # region -> its record's health check verdict
    reason: str


def read_serving(clients: Clients, stack: Stack) -> Serving:
    r53 = clients.client("route53", GLOBAL_REGION)
    records = route53.list_failover_records(r53, stack.zone_id, stack.record_name)
    verdicts: dict[str, HealthVerdict] = {}
    for r in records:
        if r.health_check_id:
            verdicts[r.health_check_id] = _verdict(r53, stack, r.health_check_id, depth=0)
    answer = serving_record(records, verdicts)
    by_identifier = {reg.record_set_identifier: reg.name for reg in stack.regions.values()}
    serving = by_identifier.get(answer.record.set_identifier or "") if answer.record else None
    healthy = {
        reg.name: (verdicts[reg.health_check_id].healthy if reg.health_check_id in verdicts else None)
        for reg in stack.regions.values()
    }
    return Serving(serving, healthy, answer.reason)


def _verdict(r53: Any, stack: Stack, check_id: str, depth: int) -> HealthVerdict:
    """A check's verdict; leaf reads wait for the process's shared GetHealthCheckStatus bucket (D-15), so a
    polling loop over read_serving never exceeds `[route53] max_requests_per_s`."""
    check = route53.get_health_check(r53, check_id)
    if check.is_calculated and depth < 3:
        children = {c: _verdict(r53, stack, c, depth + 1) for c in check.children}
        return calculated_verdict(check, children)
    return leaf_verdict(check, route53.get_health_check_observations(r53, check_id, stack.route53_api))


def unplanned_failover_snapshots(clients: Clients, region: str, cluster_id: str) -> list[str]:
    """Snapshots AWS took of an old primary after an unplanned global failover that drctl has not kept yet."""
    return rds.owed_snapshots(rds.cluster_snapshot_ids(clients.client("rds", region), cluster_id))
