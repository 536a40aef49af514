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

from drctl.aws import cloudwatch, rds
from drctl.aws.errors import error_code, to_drctl_error, worth_another_look
from drctl.aws.rds import keep_snapshot_id
from drctl.errors import Failed
from drctl.failover import observe
from drctl.failover.capacity import capacity, capacity_after_flip
from drctl.failover.context import Run
from drctl.failover.plan import UNPLANNED, flip_calls, keep_snapshot_call
from drctl.failover.promote import promote
from drctl.failover.verify import verify
from drctl.failover.waiting import Interrupted
from drctl.stack import RegionStack

__all__ = ["Run", "capacity", "capacity_after_flip", "flip", "keep_snapshots", "promote", "sample_rpo", "verify"]

# ---------------------------------------------------------------------------------------------- sample RPO


def sample_rpo(run: Run) -> dict[str, Any]:
    """The lag sample nearest the promotion: taken right before it is sent (the RPO evidence)."""
    t = run.target
    try:
        reading = observe.lag_reading(run.clients, t.cluster_id, t.name, run.source.name)
    except (ClientError, BotoCoreError) as e:
        if not worth_another_look(e):
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
    try:
        kept = keep_owed(run.clients, t.name, t.cluster_id, run.run_id, run.facts.snapshots_to_keep)
    except SnapshotNotKept as e:
        # That snapshot holds the writes an unplanned failover lost: do not fail back without keeping it.
        raise Failed(
            f"{e}; nothing else was changed", hint=f"`drctl keep-snapshots`, or copy it by hand in {t.name}"
        ) from e
    return {"kept": kept}


def keep_after_unplanned(run: Run) -> dict[str, Any]:
    """Right after an unplanned failover: keep the old primary's unplanned-failover snapshot if its region
    answers and the snapshot exists already (one attempt, the stack's short timeouts); otherwise it is owed —
    `drctl status` shows it and `drctl keep-snapshots` keeps it. Never fails the run."""
    s = run.source
    try:
        ids = rds.cluster_snapshot_ids(run.single_shot.client("rds", s.name), s.cluster_id)
    except (ClientError, BotoCoreError) as e:
        why = f"{s.name} did not answer ({error_code(e) or type(e).__name__})"
        return {"owed": True, "why": why, "kept": []}
    owed = rds.owed_snapshots(ids)
    if not owed:
        return {"owed": True, "why": f"no unplanned-failover snapshot of {s.cluster_id} yet", "kept": []}
    try:
        kept = keep_owed(run.single_shot, s.name, s.cluster_id, run.run_id, owed)
    except SnapshotNotKept as e:
        return {"owed": True, "why": str(e), "kept": []}
    return {"owed": False, "why": "", "kept": kept}


class SnapshotNotKept(Exception):
    pass


def keep_owed(
    clients: Any, region: str, cluster_id: str, run_id: str, snapshots: list[str]
) -> list[dict[str, Any]]:
    """Copy each unplanned-failover snapshot to drctl's manual one unless that copy exists (idempotent)."""
    kept = []
    present = set(rds.cluster_snapshot_ids(clients.client("rds", region), cluster_id))
    for snap in snapshots:
        keep_id = keep_snapshot_id(snap)
        if keep_id in present:
            kept.append({"snapshot": snap, "kept_as": keep_id, "region": region, "already": True})
            continue
        try:
            keep_snapshot_call(region, snap, run_id).send(clients)
        except (ClientError, BotoCoreError) as e:
            raise SnapshotNotKept(
                f"could not keep snapshot {snap} as {keep_id} in {region} ({error_code(e) or type(e).__name__})"
            ) from e
        kept.append({"snapshot": snap, "kept_as": keep_id, "region": region, "already": False})
    return kept


# ------------------------------------------------------------------------------------------- traffic flip


def flip(run: Run) -> dict[str, Any]:
    """Throw the switch in the region that stays up (or invert the health checks with --flip-method invert)."""
    f = run.facts
    calls = flip_calls(
        run.stack, run.req, f.target_drained, f.target_inverted, f.target_held_out, f.target_children
    )
    done = []
    for call in calls:
        if call.operation == "PutMetricData" and call.params["MetricData"][0]["Value"] == 0:
            _wait_for_switch_window(run, run.target)
        run.progress(f"{call.operation} in {call.region}: {call.why}")
        resp = call.send(run.clients)
        rid = resp.get("ResponseMetadata", {}).get("RequestId", "")
        done.append({**call.describe(), "request_id": rid})
        if call.operation == "PutMetricData" and call.params["MetricData"][0]["Value"] == 1:
            run.milestone("switch datapoint put", f"PutMetricData in {call.region}, request id {rid}")
        elif call.operation == "UpdateHealthCheck":
            run.milestone("health check changed", f"UpdateHealthCheck in {call.region}, request id {rid}")
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
        raise Failed(
            f"the switch for {region.name} was thrown {window.period_s - wait_s:.0f}s ago and cannot be reset "
            f"for {wait_s:.0f}s (alarm period {window.period_s}s)",
            hint="wait until the alarm period has passed",
        )
    run.progress(
        f"waiting {wait_s:.1f}s: the drain of {region.name} is still inside its alarm's {window.period_s}s period"
    )
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        if run.stop_event.is_set():
            raise Interrupted("flip")
        time.sleep(min(0.5, max(end - time.monotonic(), 0.0)))
