"""Capacity for the load the target is about to take: scale its Auto Scaling group, wait for healthy targets.

Planned mode: the flip waits for all the wanted capacity — the source still serves, so there is no reason to
move users to a region that cannot carry them yet. Unplanned mode: the source is gone and every second without
traffic moved is downtime, while AWS "does not guarantee that the desired compute capacity will be attained"
in a regional event (ARC Region switch,
https://docs.aws.amazon.com/r53recovery/latest/dg/working-with-rs-execution-blocks.html) and launches can fail
with InsufficientInstanceCapacity
(https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_LaunchInstancesError.html). So the flip waits
only for `[failover] min_capacity_share` % of the wanted capacity; the run keeps waiting for the rest after
the flip (`capacity_after_flip`), until the run's deadline, and reports both counts.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from drctl.aws import autoscaling, elbv2
from drctl.errors import Failed
from drctl.failover.context import Run
from drctl.failover.plan import PLANNED, Facts, capacity_call
from drctl.failover.waiting import NotYet, wait_until


def needed_to_flip(wanted: int, mode: str, share_pct: float) -> int:
    """Healthy targets the flip waits for: all of `wanted` in planned mode, `share_pct` % of it (rounded up)
    in unplanned mode; 0 % never waits."""
    if mode == PLANNED:
        return wanted
    return min(wanted, math.ceil(round(wanted * share_pct / 100.0, 9)))


def summary(wanted: int, needed: int, mode: str, share_pct: float, at_flip: int, at_end: int) -> dict[str, Any]:
    """What the report says about capacity: healthy when traffic moved, healthy at the end of the run."""
    rule = (
        f"planned: the flip waits for all {wanted}"
        if mode == PLANNED
        else f"unplanned: the flip waits for {needed} ({share_pct:g} % of {wanted}, [failover] min_capacity_share)"
    )
    return {
        "wanted": wanted,
        "needed_to_flip": needed,
        "share_pct": None if mode == PLANNED else share_pct,
        "rule": rule,
        "healthy_at_flip": at_flip,
        "healthy_at_end": at_end,
        "reached": at_end >= wanted,
    }


def capacity(run: Run) -> dict[str, Any]:
    """Scale the target ASG to the load it is about to take; wait for the healthy targets the flip needs."""
    t = run.target
    if not run.stack.has("compute"):
        return {"skipped": "no compute tier in the stack: capacity neither scaled nor waited for"}
    asg_client = run.clients.client("autoscaling", t.name)
    before = autoscaling.read_asg(asg_client, t.asg_name, t.name)
    facts = Facts(**{**run.facts.to_dict(), "target_desired": before.desired, "target_max": before.max_size})
    call = capacity_call(run.stack, run.req, facts)
    if call is not None:
        run.progress(f"scaling {t.asg_name} in {t.name} from {before.desired} to {facts.wanted_capacity}")
        call.send(run.clients)
    wanted = facts.wanted_capacity
    share = run.stack.failover.min_capacity_share
    needed = needed_to_flip(wanted, run.req.mode, share)
    after = _wait_for(run, needed, what=f"{needed} healthy targets in {t.name} (of {wanted} wanted)")
    result: dict[str, Any] = {
        "before": asdict(before),
        "scaled": call is not None,
        "wanted": wanted,
        "needed_to_flip": needed,
        "after": after,
    }
    if run.req.mode == PLANNED:  # nothing is left to wait for after the flip
        result["summary"] = summary(wanted, needed, run.req.mode, share, after["healthy"], after["healthy"])
    return result


def capacity_after_flip(run: Run) -> dict[str, Any]:
    """Unplanned mode, once traffic has moved: keep waiting for the rest of the wanted capacity until the
    run's deadline. Never fails the run: a shortfall is reported (and warned about), traffic stays moved."""
    t = run.target
    if not run.stack.has("compute"):
        return {"skipped": "no compute tier in the stack"}
    before = run.results.get("capacity", {})
    wanted = int(before.get("wanted", run.facts.wanted_capacity))
    needed = int(before.get("needed_to_flip", wanted))
    share = run.stack.failover.min_capacity_share
    elb = run.clients.client("elbv2", t.name)
    at_flip = elbv2.read_target_health(elb, t.target_group_arn).healthy
    run.progress(f"traffic moved with {at_flip} of {wanted} wanted healthy targets in {t.name}")
    last = {"healthy": at_flip, "total": 0}
    try:
        last = _wait_for(run, wanted, what=f"{wanted} healthy targets in {t.name}", last=last)
    except Failed:  # the deadline: report how far it got
        run.progress(f"deadline reached with {last['healthy']} of {wanted} healthy targets in {t.name}")
    return {"summary": summary(wanted, needed, run.req.mode, share, at_flip, int(last["healthy"]))}


def _wait_for(run: Run, count: int, *, what: str, last: dict[str, Any] | None = None) -> dict[str, Any]:
    t = run.target
    elb = run.clients.client("elbv2", t.name)
    seen = last if last is not None else {}

    def healthy_enough() -> dict[str, Any]:
        th = elbv2.read_target_health(elb, t.target_group_arn)
        seen.update(healthy=th.healthy, total=th.total)
        if th.healthy < count:
            raise NotYet(f"{th.healthy}/{count} healthy targets in {t.name}")
        return {"healthy": th.healthy, "total": th.total}

    return wait_until(
        what, healthy_enough, deadline_s=run.remaining(), stop_event=run.stop_event, progress=run.progress
    )
