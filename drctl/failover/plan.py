"""What a failover was asked to do (Request), what preflight found (Facts), and the API calls that follow.

The dry run prints `plan_calls(...)`; the steps send the same calls (they share the `*_params` builders and
the flip list), so what a dry run shows is what a real run sends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from drctl.aws import autoscaling_actions, cloudwatch_actions, dynamodb_actions, rds_actions, route53_actions
from drctl.aws.clients import GLOBAL_REGION
from drctl.aws.dynamodb import LockItem
from drctl.failover.observe import KEEP_PREFIX
from drctl.models import FlipMethod, Mode
from drctl.stack import RegionStack, Stack

PLANNED, UNPLANNED = Mode.PLANNED.value, Mode.UNPLANNED.value
SWITCH, INVERT = FlipMethod.SWITCH.value, FlipMethod.INVERT.value


@dataclass(frozen=True)
class Request:
    to_region: str
    from_region: str
    mode: str = PLANNED
    flip_method: str = SWITCH
    force: bool = False
    stack_path: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Request:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass
class Facts:
    """What the read-only preflight found; journaled, and restored on resume."""

    writer_region: str | None = None
    noop: bool = False
    noop_reason: str = ""
    global_path_ok: bool = True  # DescribeGlobalClusters answered in the target region
    target_sync: str | None = None
    engine_versions: dict[str, str] = field(default_factory=dict)
    lag: dict[str, Any] | None = None  # LagReading as a dict
    wanted_capacity: int = 0
    capacity_source: str = ""
    target_desired: int = 0
    target_max: int = 0
    target_drained: bool | None = None  # the target's own switch is thrown (None: not read)
    target_inverted: bool | None = None  # the target's record health check is inverted (--flip-method invert)
    snapshots_to_keep: list[str] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)  # {"name", "ok", "detail"}
    refusals: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def check(self, name: str, ok: bool | None, detail: str) -> None:
        self.checks.append({"name": name, "ok": ok, "detail": detail})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Facts:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class ApiCall:
    service: str
    operation: str
    region: str
    params: dict[str, Any]
    why: str = ""
    send: Callable[[Any], dict[str, Any]] | None = field(default=None, compare=False, repr=False)

    def describe(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "operation": self.operation,
            "region": self.region,
            "params": self.params,
            "why": self.why,
        }

    def line(self) -> str:
        return f"{self.service} {self.operation} [{self.region}] {json.dumps(self.params, default=str)}"


def flip_calls(
    stack: Stack, req: Request, target_drained: bool | None, target_inverted: bool | None = None
) -> list[ApiCall]:
    """Make the target's record serve and the source's stop.

    Route53 failover routing answers PRIMARY while it is healthy, so: drain the source when it holds the
    PRIMARY record (failover), and un-drain the target when its switch is thrown (failback). The switch for a
    region lives in the other region: draining the source is a call to the target region only.
    """
    source, target = stack.regions[req.from_region], stack.regions[req.to_region]
    reason = f"drctl failover to {target.name}"
    calls: list[ApiCall] = []
    if req.flip_method == INVERT:
        if target_inverted:
            calls.append(_invert(target, False, "let the target's record serve again"))
        if source.role == "primary":
            calls.append(_invert(source, True, "stop Route53 answering with the source's record"))
        return calls
    if target_drained:
        calls += _switch(
            stack,
            target,
            0,
            "OK",
            reason,
            "un-drain the target (its switch is thrown; first waits until the drain has left the alarm period)",
        )
    if source.role == "primary":
        calls += _switch(stack, source, 1, "ALARM", reason, "drain the source: its record's check turns")
    return calls


def _switch(stack: Stack, region: RegionStack, value: float, state: str, reason: str, why: str) -> list[ApiCall]:
    where = region.switch_alarm_region
    sw = stack.switch
    return [
        ApiCall(
            "cloudwatch",
            "PutMetricData",
            where,
            cloudwatch_actions.switch_metric_params(sw, region.name, value),
            why,
            send=lambda cw: cloudwatch_actions.put_switch_metric(cw, sw, region.name, value),
        ),
        ApiCall(
            "cloudwatch",
            "SetAlarmState",
            where,
            cloudwatch_actions.alarm_state_params(region.switch_alarm_name, state, reason),
            "move the switch alarm now rather than at its next evaluation",
            send=lambda cw: cloudwatch_actions.set_switch_alarm_state(cw, region.switch_alarm_name, state, reason),
        ),
    ]


def _invert(region: RegionStack, inverted: bool, why: str) -> ApiCall:
    return ApiCall(
        "route53",
        "UpdateHealthCheck",
        GLOBAL_REGION,
        route53_actions.invert_params(region.health_check_id, inverted),
        why + " (Route53 control plane, us-east-1)",
        send=lambda r53: route53_actions.set_health_check_inverted(r53, region.health_check_id, inverted),
    )


def promotion_call(stack: Stack, req: Request) -> ApiCall:
    target = stack.regions[req.to_region]
    if req.mode == PLANNED:
        return ApiCall(
            "rds",
            "SwitchoverGlobalCluster",
            target.name,
            rds_actions.switchover_params(stack.global_cluster_id, target.cluster_arn),
            "lossless switchover: the target becomes writer once caught up",
        )
    return ApiCall(
        "rds",
        "FailoverGlobalCluster",
        target.name,
        rds_actions.failover_params(stack.global_cluster_id, target.cluster_arn),
        "promote the target now, accepting the data loss measured as RPO",
    )


def detach_call(stack: Stack, req: Request) -> ApiCall:
    target = stack.regions[req.to_region]
    return ApiCall(
        "rds",
        "RemoveFromGlobalCluster",
        target.name,
        rds_actions.detach_params(stack.global_cluster_id, target.cluster_arn),
        "fallback only if the global control path does not answer: detach and promote the target",
    )


def capacity_call(stack: Stack, req: Request, facts: Facts) -> ApiCall | None:
    target = stack.regions[req.to_region]
    if facts.target_desired >= facts.wanted_capacity:
        return None
    max_size = facts.wanted_capacity if facts.target_max < facts.wanted_capacity else None
    return ApiCall(
        "autoscaling",
        "UpdateAutoScalingGroup",
        target.name,
        autoscaling_actions.capacity_params(target.asg_name, facts.wanted_capacity, max_size),
        f"capacity for the load: {facts.capacity_source}",
    )


def plan_calls(stack: Stack, req: Request, facts: Facts, lock_item: LockItem | None) -> list[ApiCall]:
    """Every mutating call a run would make, in order (parallel steps listed one after the other)."""
    target = stack.regions[req.to_region]
    calls: list[ApiCall] = []
    if target.lock_table and lock_item is not None:
        calls.append(
            ApiCall(
                "dynamodb",
                "PutItem",
                target.name,
                dynamodb_actions.lock_put_params(target.lock_table, lock_item, lock_item.acquired_at),
                "take the run lock (conditional write)",
            )
        )
    for snap in facts.snapshots_to_keep:
        calls.append(
            ApiCall(
                "rds",
                "CopyDBClusterSnapshot",
                target.name,
                rds_actions.keep_snapshot_params(snap, keep_snapshot_id(snap), "<run id>"),
                "keep the unplanned-failover snapshot before failback",
            )
        )
    if (cap := capacity_call(stack, req, facts)) is not None:
        calls.append(cap)
    calls.append(promotion_call(stack, req))
    if req.mode == UNPLANNED:
        calls.append(detach_call(stack, req))
    calls += flip_calls(stack, req, facts.target_drained, facts.target_inverted)
    if target.lock_table and lock_item is not None:
        calls.append(
            ApiCall(
                "dynamodb",
                "DeleteItem",
                target.name,
                {"TableName": target.lock_table, "Key": {"lock_id": {"S": lock_item.lock_id}}},
                "release the run lock",
            )
        )
    return calls


def keep_snapshot_id(snapshot_id: str) -> str:
    """A manual snapshot id derived from an automated one (`rds:` prefix is not allowed in manual ids)."""
    return KEEP_PREFIX + snapshot_id.replace("rds:", "").replace(":", "-")[:200]
