"""The steps of a failover besides promotion and verification: RPO sample, snapshot keeping, capacity, flip.

Each reads state, changes only what still needs changing, and returns plain data (journaled as the step's
result). Every step is safe to run again after a crash: it re-reads AWS first.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drctl.aws import autoscaling, autoscaling_actions, cloudwatch, elbv2, rds_actions
from drctl.aws.clients import error_code, to_drctl_error
from drctl.errors import DrctlError, ExitCode
from drctl.failover import observe
from drctl.failover.context import Run
from drctl.failover.plan import UNPLANNED, Facts, capacity_call, flip_calls, keep_snapshot_id
from drctl.failover.promote import promote
from drctl.failover.verify import verify
from drctl.failover.waiting import Interrupted, NotYet, is_transient, wait_until
from drctl.stack import RegionStack

__all__ = ["Run", "capacity", "flip", "keep_snapshots", "promote", "sample_rpo", "verify"]

# ---------------------------------------------------------------------------------------------- sample RPO


def sample_rpo(run: Run) -> dict[str, Any]:
    """The lag sample nearest the promotion: taken right before it is sent (the RPO evidence)."""
    t = run.target
    try:
        reading = observe.lag_reading(run.clients, t.cluster_id, t.name, run.source.name)
    except (ClientError, BotoCoreError) as e:
        if not is_transient(e):
            raise to_drctl_error(e, action="cloudwatch:GetMetricData", region=t.name) from e
        reading = None
    return {"lag": asdict(reading) if reading else None, "s3": _s3_backlog(run), "sampled_at": time.time()}


def _s3_backlog(run: Run) -> dict[str, Any]:
    """Objects not yet replicated to the target (S3 RTC metrics live in the source bucket's region)."""
    s, t = run.source, run.target
    if run.req.mode == UNPLANNED:
        return {"verdict": "unavailable", "detail": f"published in {s.name}, not contacted in unplanned mode"}
    if not run.stack.replication_rule_id:
        return {"verdict": "unavailable", "detail": "no replication rule id in the stack file"}
    try:
        cw = run.clients.client("cloudwatch", s.name)
        backlog = cloudwatch.read_s3_backlog(cw, s.bucket, t.bucket, run.stack.replication_rule_id)
    except (ClientError, BotoCoreError) as e:
        return {"verdict": "unavailable", "detail": f"{error_code(e) or type(e).__name__} in {s.name}"}
    ops, size = backlog.operations_pending, backlog.bytes_pending
    return {
        "verdict": "measured" if ops is not None else "no sample",
        "operations_pending": ops.value if ops else None,
        "bytes_pending": size.value if size else None,
        "timestamp": ops.timestamp.isoformat() if ops else None,
        "bucket": s.bucket,
    }


# ------------------------------------------------------------------------------------------ keep snapshots


def keep_snapshots(run: Run) -> dict[str, Any]:
    """Before failback: copy the snapshot AWS made after an unplanned failover, so retention cannot drop it."""
    t = run.target
    rds_client = run.clients.client("rds", t.name)
    kept = []
    for snap in run.facts.snapshots_to_keep:
        keep_id = keep_snapshot_id(snap)
        existing = rds_client.describe_db_cluster_snapshots(DBClusterIdentifier=t.cluster_id).get(
            "DBClusterSnapshots", []
        )
        if any(s.get("DBClusterSnapshotIdentifier") == keep_id for s in existing):
            kept.append({"snapshot": snap, "kept_as": keep_id, "already": True})
            continue
        try:
            rds_actions.keep_cluster_snapshot(rds_client, snap, keep_id, run.run_id)
        except (ClientError, BotoCoreError) as e:
            # That snapshot holds the writes an unplanned failover lost: do not fail back without keeping it.
            raise DrctlError(
                f"could not keep snapshot {snap} ({error_code(e) or type(e).__name__}); nothing else was changed",
                code=ExitCode.FAILED,
                hint=f"copy it to {keep_id} by hand (rds copy-db-cluster-snapshot in {t.name}), then "
                f"`drctl failover --resume {run.run_id}`",
            ) from e
        kept.append({"snapshot": snap, "kept_as": keep_id, "already": False})
    return {"kept": kept}


# ----------------------------------------------------------------------------------------------- capacity


def capacity(run: Run) -> dict[str, Any]:
    """Scale the target ASG to the load it is about to take, and wait for that many healthy targets."""
    t = run.target
    asg_client = run.clients.client("autoscaling", t.name)
    before = autoscaling.read_asg(asg_client, t.asg_name, t.name)
    facts = Facts(**{**run.facts.to_dict(), "target_desired": before.desired, "target_max": before.max_size})
    call = capacity_call(run.stack, run.req, facts)
    if call is not None:
        run.progress(f"scaling {t.asg_name} in {t.name} from {before.desired} to {facts.wanted_capacity}")
        autoscaling_actions.scale_asg(
            asg_client, t.asg_name, call.params["DesiredCapacity"], call.params.get("MaxSize")
        )
    wanted = facts.wanted_capacity
    elb = run.clients.client("elbv2", t.name)

    def healthy_enough() -> dict[str, Any]:
        th = elbv2.read_target_health(elb, t.target_group_arn)
        if th.healthy < wanted:
            raise NotYet(f"{th.healthy}/{wanted} healthy targets in {t.name}")
        return {"healthy": th.healthy, "total": th.total}

    after = wait_until(
        f"{wanted} healthy targets in {t.name}",
        healthy_enough,
        deadline_s=run.remaining(),
        stop_event=run.stop_event,
        progress=run.progress,
    )
    return {"before": asdict(before), "scaled": call is not None, "wanted": wanted, "after": after}


# ------------------------------------------------------------------------------------------- traffic flip


def flip(run: Run) -> dict[str, Any]:
    """Throw the switch in the region that stays up (or invert the health checks with --flip-method invert)."""
    calls = flip_calls(run.stack, run.req, run.facts.target_drained, run.facts.target_inverted)
    done = []
    for call in calls:
        assert call.send is not None
        if call.operation == "PutMetricData" and call.params["MetricData"][0]["Value"] == 0:
            _wait_for_switch_window(run, run.target)
        run.progress(f"{call.operation} in {call.region}: {call.why}")
        resp = call.send(run.clients.client(call.service, call.region))
        done.append({**call.describe(), "request_id": resp.get("ResponseMetadata", {}).get("RequestId", "")})
    return {"calls": done}


def _wait_for_switch_window(run: Run, region: RegionStack) -> None:
    """A switch thrown less than one alarm period ago would re-arm itself (Maximum over the period still sees
    the 1): wait until that datapoint has left the window before resetting it. Only a quick failback waits."""
    window = observe.switch_window(run.clients, run.stack, region)
    clear_at = window.clear_at()
    if clear_at is None:
        return
    wait_s = (clear_at - datetime.now(UTC)).total_seconds()
    if wait_s <= 0:
        return
    if wait_s > run.remaining():
        raise DrctlError(
            f"the switch for {region.name} was thrown {window.period_s - wait_s:.0f}s ago and cannot be reset "
            f"for {wait_s:.0f}s (alarm period {window.period_s}s)",
            code=ExitCode.FAILED,
            hint="resume the run once the alarm period has passed",
        )
    run.progress(
        f"waiting {wait_s:.1f}s: the drain of {region.name} is still inside its alarm's {window.period_s}s period"
    )
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        if run.stop_event.is_set():
            raise Interrupted("flip")
        time.sleep(min(0.5, max(end - time.monotonic(), 0.0)))
