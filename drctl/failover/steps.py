"""The steps of a failover besides promotion and verification: RPO sample, snapshot keeping, capacity, flip.

Each reads state, changes only what still needs changing, and returns plain data (journaled as the step's
result). Every step is safe to run again after a crash: it re-reads AWS first.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drctl.aws import cloudwatch, rds, route53
from drctl.aws.clients import GLOBAL_REGION
from drctl.aws.errors import error_code, no_answer, to_drctl_error, worth_another_look
from drctl.aws.rds import keep_snapshot_id
from drctl.errors import Failed, Refused
from drctl.failover import observe
from drctl.failover.capacity import capacity, capacity_after_flip
from drctl.failover.context import Run
from drctl.failover.plan import TRAFFIC_ONLY, UNPLANNED, facts_flip_calls, keep_snapshot_call
from drctl.failover.promote import promote, read_db_state
from drctl.failover.verify import verify
from drctl.failover.waiting import NotYet, wait_until
from drctl.stack import HEALTH_CHECK

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
    if not run.stack.has("object replication"):
        return {"verdict": "unavailable", "detail": "no object replication tier in the stack file"}
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
    """Throw the switch in the region that stays up (or hold the source out with --flip-method invert).

    The flip is the datapoint: after PutMetricData drctl follows the switch alarm as CloudWatch evaluates it
    (at its period, https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html) and
    records when it saw the alarm in the wanted state: that, not the put, is when Route53 starts to follow."""
    reread = _target_still_writes(run) if run.req.only == TRAFFIC_ONLY else None
    records = None
    if run.stack.traffic_method == HEALTH_CHECK:  # re-read right before the change: never act on a guess
        with _control_plane(run, "ListResourceRecordSets"):
            r53 = run.clients.client("route53", GLOBAL_REGION)
            records = route53.read_record_sets(r53, run.stack.zone_id, run.stack.record_name)
    calls = facts_flip_calls(run.stack, run.req, run.facts, records)
    done: list[dict[str, Any]] = []
    for call in calls:
        run.progress(f"{call.operation} in {call.region}: {call.why}")
        put_wall, put_mono = time.time(), time.monotonic()
        if call.operation == "ChangeResourceRecordSets":
            with _control_plane(run, call.operation):
                resp = call.send(run.clients)
        else:
            resp = call.send(run.clients)
        rid = resp.get("ResponseMetadata", {}).get("RequestId", "")
        entry: dict[str, Any] = {**call.describe(), "request_id": rid, "sent_at": put_wall}
        if call.operation == "PutMetricData":
            draining = call.params["MetricData"][0]["Value"] == 1
            if draining:
                run.milestone(
                    "switch datapoint put", f"PutMetricData in {call.region}, request id {rid}", at=put_wall
                )
            entry["alarm"] = _follow_switch_alarm(run, call, put_wall, put_mono)
            if draining:
                run.milestone(
                    "alarm in ALARM",
                    f"DescribeAlarms in {call.region}: {entry['alarm']['name']} evaluated ALARM from the data",
                    at=entry["alarm"]["seen_at"],
                )
        elif call.operation == "UpdateHealthCheck":
            run.milestone("health check changed", f"UpdateHealthCheck in {call.region}, request id {rid}")
        elif call.operation == "ChangeResourceRecordSets":
            run.milestone(
                "failover records changed",
                f"ChangeResourceRecordSets in {call.region} (Route53 control plane), request id {rid}",
                at=put_wall,
            )
        done.append(entry)
    return {"calls": done} if reread is None else {"calls": done, "writer_reread": reread}


def _target_still_writes(run: Run) -> dict[str, Any]:
    """Traffic only, right before the flip: re-read who writes (preflight may be minutes old). A target that
    does not write is refused unless --force-traffic, which is said again here."""
    t = run.target
    state = read_db_state(run)
    writes = state.writer_region == t.name and not state.in_progress
    if not writes:
        why = f"{t.name}'s database does not write ({_writer_words(state.writer_region, state.in_progress)})"
        if not run.req.force_traffic:
            raise Refused(
                f"{why}: traffic not moved",
                hint=f"promote it first (`drctl failover --to {t.name} --only database`), or --force-traffic",
            )
        run.progress(f"WARNING: --force-traffic: sending traffic to {t.name} although {why}")
    return {**state.to_dict(), "target_writes": writes}


def _writer_words(writer_region: str | None, in_progress: str | None) -> str:
    if in_progress:
        return f"a global cluster transition is in progress: {in_progress}"
    return f"{writer_region} writes" if writer_region else "no writer could be read"


@contextlib.contextmanager
def _control_plane(run: Run, operation: str) -> Iterator[None]:
    """The health-check traffic method's flip needs Route53's control plane (us-east-1): when it does not answer,
    say what that leaves (the database writes; traffic follows the endpoint checks only) and stop, resumable."""
    try:
        yield
    except (ClientError, BotoCoreError) as e:
        if not no_answer(e):
            raise
        raise Failed(
            f"Route53's control plane ({GLOBAL_REGION}) did not answer {operation} "
            f"({error_code(e) or type(e).__name__}): {run.target.name} writes, but the failover records still "
            f"make {run.source.name} PRIMARY — traffic follows the endpoint health checks only and goes back to "
            f"{run.source.name} when it recovers",
            hint="resume once the Route53 API answers",
        ) from e


def _follow_switch_alarm(run: Run, call: Any, put_wall: float, put_mono: float) -> dict[str, Any]:
    """Poll DescribeAlarms until the switch alarm is in the state the datapoint asks for, evaluated after it.

    A reset (0) put while the drain (1) is still in the alarm's period would be evaluated as ALARM again
    (Maximum over the period), and with TreatMissingData ignore nothing else would move it: the 0 is put again
    on every poll until an evaluation shows OK."""
    value = call.params["MetricData"][0]["Value"]
    wanted = "ALARM" if value >= 1 else "OK"
    drained = next(
        reg
        for reg in run.stack.regions.values()
        if reg.name == call.params["MetricData"][0]["Dimensions"][0]["Value"]
    )
    cw = run.clients.client("cloudwatch", call.region)
    not_before = datetime.fromtimestamp(int(put_wall), UTC)  # StateUpdatedTimestamp may carry whole seconds

    def evaluated() -> dict[str, Any]:
        alarm = cloudwatch.read_alarm(cw, drained.switch_alarm_name)
        if alarm is None:
            raise Failed(f"switch alarm {drained.switch_alarm_name} not found in {call.region}")
        period = alarm.period_s or cloudwatch.STANDARD_PERIOD_S
        fresh = alarm.updated is not None and alarm.updated >= not_before
        # Already in the wanted state before the put: one full period later it is the data's state, not a
        # forced one (SetAlarmState lasts until the next evaluation).
        held = time.monotonic() - put_mono >= period + 5
        if alarm.state != wanted or not (fresh or held):
            if wanted == "OK":
                call.send(run.clients)
            raise NotYet(
                f"{drained.switch_alarm_name} is {alarm.state} (waiting for {wanted} evaluated from the data)"
            )
        return {"name": alarm.name, "state": alarm.state, "period_s": period}

    seen = wait_until(
        f"{drained.switch_alarm_name} to evaluate {wanted}",
        evaluated,
        deadline_s=run.remaining(),
        stop_event=run.stop_event,
        progress=run.progress,
        max_interval_s=1.0,
    )
    seen_wall, seen_mono = time.time(), time.monotonic()
    run.progress(
        f"{seen['name']} in {call.region} evaluated {wanted} {seen_mono - put_mono:.1f}s after the datapoint"
    )
    return {
        **seen,
        "seen_at": seen_wall,  # wall clock: when drctl saw the evaluated state
        "seen_after_put_s": round(seen_mono - put_mono, 3),  # monotonic offset from the datapoint
        "seen_monotonic": seen_mono,
        "source": "DescribeAlarms (StateValue, StateUpdatedTimestamp)",
    }
