"""What a failover was asked to do (Request), what preflight found (Facts), and the API calls that follow.

The dry run prints `plan_calls(...)`; the steps and the lock send the same ApiCall objects (built here and in
the `*_actions` modules, `ApiCall.send`), so what a dry run shows is what a real run sends.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Self

from drctl.aws import autoscaling_actions, cloudwatch_actions, dynamodb_actions, rds_actions, route53_actions
from drctl.aws.calls import ApiCall
from drctl.aws.dynamodb import LockItem
from drctl.aws.rds import keep_snapshot_id
from drctl.models import FlipMethod, Mode, Only
from drctl.stack import HEALTH_CHECK, NO_TRAFFIC, RegionStack, Stack

PLANNED, UNPLANNED = Mode.PLANNED.value, Mode.UNPLANNED.value
SWITCH, INVERT = FlipMethod.SWITCH.value, FlipMethod.INVERT.value
DATABASE_ONLY, TRAFFIC_ONLY = Only.DATABASE.value, Only.TRAFFIC.value


@dataclass(frozen=True)
class Request:
    to_region: str
    from_region: str
    mode: str = PLANNED
    flip_method: str = SWITCH
    force: bool = False
    stack_path: str = ""
    allow_detach: bool = False  # unplanned: detach-and-promote allowed once the global path is shown down
    without_lock: bool = False  # the operator acknowledged that the stack has no lock table (run lock off)
    only: str = ""  # "" (the whole failover), DATABASE_ONLY (promote, traffic stays), TRAFFIC_ONLY (flip only)
    force_traffic: bool = False  # traffic only: flip although the target's database does not write

    @property
    def moves_database(self) -> bool:
        return self.only != TRAFFIC_ONLY

    @property
    def moves_traffic(self) -> bool:
        return self.only != DATABASE_ONLY

    @property
    def parts(self) -> str:
        """What this run moves, in words (reports, prompts, dry runs)."""
        if self.only == DATABASE_ONLY:
            return "database only: promotion, no traffic change"
        if self.only == TRAFFIC_ONLY:
            return "traffic only: flip, no promotion"
        return "database and traffic"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Request:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class CheckedFacts:
    """What a read-only preflight found, as a dataclass with `checks` and a dict form for the journal (shared
    by failover's and rejoin's facts)."""

    checks: list[dict[str, Any]]

    def check(self, name: str, ok: bool | None, detail: str) -> None:
        self.checks.append({"name": name, "ok": ok, "detail": detail})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = asdict(self)  # type: ignore[call-overload]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        fields = cls.__dataclass_fields__  # type: ignore[attr-defined]
        return cls(**{k: d[k] for k in fields if k in d})


@dataclass
class Facts(CheckedFacts):
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
    source_drained: bool | None = None  # traffic only: the source's switch is thrown already (None: not read)
    target_writes: bool | None = None  # traffic only: the target's database is the writer (None: not read)
    target_inverted: bool | None = None  # the target's record health check is inverted (an older drctl's invert)
    target_held_out: bool | None = None  # the target's record check has an unmeetable HealthThreshold (invert)
    target_children: int = 0  # child checks of the target's CALCULATED check (its threshold when put back)
    snapshots_to_keep: list[str] = field(default_factory=list)
    # traffic method health-check: the record sets of the stack's name as read (ListResourceRecordSets)
    records: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)  # {"name", "ok", "detail"}
    refusals: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def flip_calls(
    stack: Stack,
    req: Request,
    target_drained: bool | None,
    target_inverted: bool | None = None,
    target_held_out: bool | None = None,
    target_children: int = 0,
    records: list[dict[str, Any]] | None = None,
    source_drained: bool | None = None,
) -> list[ApiCall]:
    """Make the target's record serve and the source's stop (a source already drained is left as it is).

    Traffic method health-check: one atomic ChangeResourceRecordSets that makes the target's record PRIMARY
    (Route53's control plane, us-east-1); method none: no call.

    Route53 failover routing answers PRIMARY while it is healthy, so: drain the source when it holds the
    PRIMARY record (failover), and un-drain the target when its switch is thrown (failback). The switch for a
    region lives in the other region: draining the source is a call to the target region only.
    """
    source, target = stack.regions[req.from_region], stack.regions[req.to_region]
    reason = f"drctl failover to {target.name}"
    calls: list[ApiCall] = []
    if stack.traffic_method == NO_TRAFFIC:
        return calls
    if stack.traffic_method == HEALTH_CHECK:
        swap = route53_actions.make_record_primary(stack.zone_id, records or [], target.record_set_identifier)
        if swap is not None:
            calls.append(
                swap.because(
                    f"make {target.name}'s failover record PRIMARY and {source.name}'s SECONDARY in one atomic "
                    "batch (Route53 control plane, us-east-1: the health-check traffic method has no data-plane "
                    "switch)"
                )
            )
        return calls
    if req.flip_method == INVERT:
        # Not Inverted (it would turn a dead source healthy again): an unmeetable HealthThreshold keeps the
        # source's record out of service whatever its region does, until a failback puts the threshold back.
        if target_inverted:
            calls.append(_invert(target, False, "undo an inversion left by an older drctl"))
        if target_held_out:
            calls.append(
                _threshold(target, max(target_children, 1), "let the target's record serve again (all children)")
            )
        if source.role == "primary":
            calls.append(
                _threshold(
                    source,
                    route53_actions.UNMEETABLE_THRESHOLD,
                    "hold the source's record out of service, even if its region dies later",
                )
            )
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
    if source.role == "primary" and not source_drained:
        calls += _switch(stack, source, 1, "ALARM", reason, "drain the source: its record's check turns")
    return calls


def facts_flip_calls(
    stack: Stack, req: Request, facts: Facts, records: list[dict[str, Any]] | None = None
) -> list[ApiCall]:
    """The flip calls for what preflight found (`records`: the failover records as re-read just now, if so)."""
    return flip_calls(
        stack,
        req,
        facts.target_drained,
        facts.target_inverted,
        facts.target_held_out,
        facts.target_children,
        facts.records if records is None else records,
        source_drained=facts.source_drained,
    )


def _switch(stack: Stack, region: RegionStack, value: float, state: str, reason: str, why: str) -> list[ApiCall]:
    """The flip is the datapoint: Route53 follows the alarm as CloudWatch evaluates it, at its period. No
    SetAlarmState: it is "for testing purposes" and the alarm "returns to its actual state quickly"
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_SetAlarmState.html); drctl follows
    the evaluated alarm instead (steps.flip)."""
    where = region.switch_alarm_region
    return [cloudwatch_actions.put_switch_metric(where, stack.switch, region.name, value).because(why)]


def _threshold(region: RegionStack, threshold: int, why: str) -> ApiCall:
    call = route53_actions.set_health_threshold(region.health_check_id, threshold)
    return call.because(why + " (Route53 control plane, us-east-1)")


def _invert(region: RegionStack, inverted: bool, why: str) -> ApiCall:
    call = route53_actions.set_health_check_inverted(region.health_check_id, inverted)
    return call.because(why + " (Route53 control plane, us-east-1)")


def promotion_call(stack: Stack, req: Request) -> ApiCall:
    target = stack.regions[req.to_region]
    gid, arn = stack.global_cluster_id, target.cluster_arn
    if req.mode == PLANNED:
        return rds_actions.switchover_global_cluster(target.name, gid, arn).because(
            "lossless switchover: the target becomes writer once caught up"
        )
    return rds_actions.failover_global_cluster_with_data_loss(target.name, gid, arn).because(
        "promote the target now, accepting the data loss measured as RPO"
    )


def detach_call(stack: Stack, req: Request) -> ApiCall:
    target = stack.regions[req.to_region]
    return rds_actions.detach_and_promote(target.name, stack.global_cluster_id, target.cluster_arn).because(
        f"— only if re-reads show the global control path down for {stack.failover.detach_after_s:g} s "
        "(--allow-detach): detach the target and promote it alone; the old primary stays the global writer"
    )


def capacity_call(stack: Stack, req: Request, facts: Facts) -> ApiCall | None:
    target = stack.regions[req.to_region]
    if not stack.has("compute") or facts.target_desired >= facts.wanted_capacity:
        return None
    max_size = facts.wanted_capacity if facts.target_max < facts.wanted_capacity else None
    return autoscaling_actions.scale_asg(target.name, target.asg_name, facts.wanted_capacity, max_size).because(
        f"capacity for the load: {facts.capacity_source}"
    )


def keep_snapshot_call(region: str, snapshot_id: str, run_id: str) -> ApiCall:
    return rds_actions.keep_cluster_snapshot(region, snapshot_id, keep_snapshot_id(snapshot_id), run_id).because(
        "keep the unplanned-failover snapshot (AWS keeps it only for the cluster's backup retention)"
    )


def lock_calls(region: RegionStack, item: LockItem) -> tuple[ApiCall, ApiCall]:
    """Taking and releasing the run lock: the calls RunLock sends."""
    put = dynamodb_actions.put_lock(region.name, region.lock_table, item, item.acquired_at)
    release = dynamodb_actions.release_lock(region.name, region.lock_table, item.lock_id, item.run_id)
    return put.because("take the run lock (conditional write)"), release.because(
        "release the run lock (only ours)"
    )


def plan_calls(stack: Stack, req: Request, facts: Facts, lock_item: LockItem | None) -> list[ApiCall]:
    """Every mutating call a run would make, in order (parallel steps listed one after the other)."""
    target = stack.regions[req.to_region]
    locked = target.lock_table and lock_item is not None
    take, release = lock_calls(target, lock_item) if locked and lock_item is not None else (None, None)
    calls: list[ApiCall] = [take] if take else []
    if req.moves_database:
        calls += [keep_snapshot_call(req.to_region, snap, "<run id>") for snap in facts.snapshots_to_keep]
    if req.moves_traffic and (cap := capacity_call(stack, req, facts)) is not None:
        calls.append(cap)
    if req.moves_database:
        calls.append(promotion_call(stack, req))
        if req.mode == UNPLANNED and req.allow_detach:
            calls.append(detach_call(stack, req))
    if req.moves_traffic:
        calls += facts_flip_calls(stack, req, facts)
    if release:
        calls.append(release)
    return calls
