"""The steps of a failover. Each reads state, changes only what still needs changing, and returns plain data
(journaled as the step's result). Every step is safe to run again after a crash: it re-reads AWS first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drctl.aws import autoscaling, autoscaling_actions, cloudwatch, elbv2, rds, rds_actions
from drctl.aws.clients import UNREACHABLE_ERRORS, error_code, to_drctl_error
from drctl.errors import DrctlError, ExitCode
from drctl.failover import observe
from drctl.failover.journal import Journal
from drctl.failover.observe import Clients
from drctl.failover.plan import PLANNED, UNPLANNED, Facts, Request, capacity_call, flip_calls, keep_snapshot_id
from drctl.failover.preflight import GLOBAL_PATH_DOWN, IN_PROGRESS, read_global
from drctl.failover.waiting import Interrupted, NotYet, is_transient, wait_until
from drctl.stack import RegionStack, Stack

STALE_SEND_WAIT_S = 60.0  # resumed run: how long a promotion sent earlier may take to show before we give up
MAX_PROMOTION_SENDS = 4  # attempts of the promotion call itself, each only after a re-read says it is needed


@dataclass
class Run:
    """Everything the steps share. `clients` record calls for the journal; `single_shot` never auto-retries
    (used for the promotion, so that a lost response is answered by a re-read, not by a second send)."""

    stack: Stack
    req: Request
    clients: Clients
    single_shot: Clients
    journal: Journal
    run_id: str
    deadline: float  # monotonic: run start + RTO objective
    progress: Callable[[str], None]
    stop_event: threading.Event = field(default_factory=threading.Event)
    facts: Facts = field(default_factory=Facts)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    promotion_sent_before: bool = False  # the journal says an earlier process sent it: never again
    promotion_detached_before: bool = False  # ... and that it was the detach-and-promote fallback
    kill_hook: Callable[[str], None] = lambda point: None

    @property
    def source(self) -> RegionStack:
        return self.stack.regions[self.req.from_region]

    @property
    def target(self) -> RegionStack:
        return self.stack.regions[self.req.to_region]

    def remaining(self) -> float:
        return max(1.0, self.deadline - time.monotonic())


# ---------------------------------------------------------------------------------------------- sample RPO


def sample_rpo(run: Run) -> dict[str, Any]:
    """The lag sample nearest the promotion: taken right before it is sent (the RPO evidence)."""
    t = run.target
    try:
        reading = observe.lag_reading(run.clients, t.cluster_id, t.name)
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


# ---------------------------------------------------------------------------------------------- promotion


@dataclass(frozen=True)
class DbState:
    global_ok: bool
    writer_region: str | None
    in_progress: str | None  # FailoverState.Status while a transition runs
    target_member: bool | None  # None when the global cluster could not be read
    target_status: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_db_state(run: Run) -> DbState:
    """Global cluster and target cluster, both read in the target region only."""
    t = run.target
    try:
        gc = read_global(run.clients, run.stack, t.name)
        global_ok, writer = True, (gc.writer.region if gc.writer else None)
        fs = gc.failover_state
        in_progress = fs.status if fs is not None and fs.status in IN_PROGRESS else None
        member: bool | None = gc.member_in(t.name) is not None
    except (ClientError, BotoCoreError) as e:
        if run.req.mode == PLANNED or not (isinstance(e, UNREACHABLE_ERRORS) or error_code(e) in GLOBAL_PATH_DOWN):
            raise
        global_ok, writer, in_progress, member = False, None, None, None
    cluster = rds.describe_cluster(run.clients.client("rds", t.name), t.cluster_id, t.name)
    return DbState(global_ok, writer, in_progress, member, cluster.status)


def promoted(run: Run, s: DbState, detach_sent: bool) -> bool:
    """The target writes: it is the global writer, or (once a detach was sent) it stands alone, available."""
    if s.target_status != "available" or s.in_progress:
        return False
    if s.writer_region == run.target.name:
        return True
    # After detach-and-promote the target is no longer a member (or, with the global path down, can't be asked).
    return detach_sent and s.target_member is not True


def promote(run: Run) -> dict[str, Any]:
    """Send the promotion only when a fresh read says it is needed, then wait for a writable target."""
    t = run.target
    detach_sent = run.promotion_detached_before
    before = read_db_state(run)
    if promoted(run, before, detach_sent):
        run.progress(f"{t.name} already writes: promotion not needed")
        return {"before": before.to_dict(), "after": before.to_dict(), "sends": [], "already": True}
    sent = run.promotion_sent_before
    use_detach = detach_sent
    sends: list[dict[str, Any]] = []
    state = before
    for _attempt in range(MAX_PROMOTION_SENDS):
        if promoted(run, state, detach_sent):
            break
        if sent or state.in_progress:
            # Never resends. A promotion an earlier attempt sent that shows neither progress nor a result
            # means someone else changed the cluster meanwhile: say so soon instead of waiting out the RTO.
            stale = run.promotion_sent_before and not state.in_progress
            state = _wait_promoted(run, detach_sent, min(run.remaining(), STALE_SEND_WAIT_S) if stale else None)
            continue
        outcome = _send_promotion(run, use_detach)
        sends.append(outcome)
        if outcome["ok"]:
            sent = True
            detach_sent = use_detach
            run.journal.append({"event": "sent", "step": "promote", **outcome})
            run.kill_hook("promote:sent")
        elif outcome["fallback"] and run.req.mode == UNPLANNED and not use_detach:
            run.progress(f"global control path unavailable ({outcome['error']}): detach-and-promote instead")
            use_detach = True
            continue
        else:  # refused for now (throttled, transition running): let it settle, then look again
            wait_until(
                "no global cluster transition in progress",
                lambda: _idle_or_not_yet(run),
                deadline_s=run.remaining(),
                stop_event=run.stop_event,
                progress=run.progress,
            )
        state = read_db_state(run)
    if not promoted(run, state, detach_sent):
        raise DrctlError(
            f"{t.cluster_id} did not become writer after {len(sends)} promotion call(s)",
            code=ExitCode.FAILED,
            hint="check `drctl status`, then `drctl failover --resume RUN`",
        )
    return {"before": before.to_dict(), "after": state.to_dict(), "sends": sends, "detached": detach_sent}


def _wait_promoted(run: Run, detach_sent: bool, deadline_s: float | None = None) -> DbState:
    def probe() -> DbState:
        s = read_db_state(run)
        if promoted(run, s, detach_sent):
            return s
        raise NotYet(f"writer {s.writer_region}, transition {s.in_progress or 'none'}, target {s.target_status}")

    return wait_until(
        f"{run.target.cluster_id} to be writer and available",
        probe,
        deadline_s=deadline_s if deadline_s is not None else run.remaining(),
        stop_event=run.stop_event,
        progress=run.progress,
        max_interval_s=0.5,  # promotion is the critical path: poll often (2 reads per poll, all in one region)
    )


def _idle_or_not_yet(run: Run) -> DbState:
    s = read_db_state(run)
    if s.in_progress:
        raise NotYet(f"transition {s.in_progress}")
    return s


def _operation(run: Run, detached: bool) -> str:
    if detached:
        return "RemoveFromGlobalCluster"
    return "SwitchoverGlobalCluster" if run.req.mode == PLANNED else "FailoverGlobalCluster"


def _send_promotion(run: Run, detached: bool) -> dict[str, Any]:
    """One promotion call on a client without automatic retries; the caller re-reads before any other."""
    t = run.target
    client = run.single_shot.client("rds", t.name)
    gid, arn = run.stack.global_cluster_id, t.cluster_arn
    op = _operation(run, detached)
    run.progress(f"sending {op} to {t.name}")
    try:
        if detached:
            resp = rds_actions.detach_and_promote(client, gid, arn)
        elif run.req.mode == PLANNED:
            resp = rds_actions.switchover_global_cluster(client, gid, arn)
        else:
            resp = rds_actions.failover_global_cluster_with_data_loss(client, gid, arn)
    except (ClientError, BotoCoreError) as e:
        code = error_code(e) or type(e).__name__
        if not (is_transient(e) or code in GLOBAL_PATH_DOWN):
            raise to_drctl_error(e, action=f"rds:{op}", region=t.name) from e
        fallback = isinstance(e, UNREACHABLE_ERRORS) or code in GLOBAL_PATH_DOWN
        return {"ok": False, "operation": op, "error": code, "fallback": fallback, "at": time.time()}
    meta = resp.get("ResponseMetadata", {})
    return {"ok": True, "operation": op, "request_id": meta.get("RequestId", ""), "at": time.time()}


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


# ------------------------------------------------------------------------------------------- verification


def verify(run: Run) -> dict[str, Any]:
    """Target writes; traffic moved; the old writer is fenced. Only the writer check can fail the run."""
    t, s = run.target, run.source
    state = read_db_state(run)
    detached = bool(run.results.get("promote", {}).get("detached"))
    if not promoted(run, state, detached):
        raise DrctlError(f"{t.cluster_id} is not the writer after promotion", code=ExitCode.FAILED)
    where = "stands alone after detach-and-promote" if detached else "is the global writer"
    writer = {
        "verdict": "verified",
        "detail": f"{t.cluster_id} {where} (read in {t.name})",
        "state": state.to_dict(),
    }
    out: dict[str, Any] = {"writer": writer}
    out["traffic"] = _verify_traffic(run)
    out["fencing"] = _verify_fencing(run, s)
    return out


def _verify_traffic(run: Run) -> dict[str, Any]:
    t, s = run.target, run.source
    if run.req.mode == UNPLANNED:
        # Route53's control plane is in us-east-1: not called in unplanned mode. The switch is readable here.
        if s.role != "primary":
            return {"verdict": "unverifiable", "detail": "Route53 control plane not called in unplanned mode"}
        try:
            state = observe.alarm_state(run.clients, s.switch_alarm_region, s.switch_alarm_name)
        except (ClientError, BotoCoreError) as e:
            return {"verdict": "unverifiable", "detail": f"switch alarm unreadable: {error_code(e) or e}"}
        verdict = "switch-thrown" if state == "ALARM" else "switch-not-thrown"
        return {
            "verdict": verdict,
            "detail": f"{s.switch_alarm_name} in {s.switch_alarm_region} is {state}; Route53 answers follow its "
            "health check (control plane not called in unplanned mode)",
        }
    bound = min(run.remaining(), run.stack.health_check_interval_s * run.stack.health_check_failure_threshold + 30)

    def moved() -> observe.Serving:
        serving = observe.read_serving(run.clients, run.stack)
        if serving.serving_region != t.name:
            raise NotYet(f"Route53 answers {serving.serving_region} ({serving.reason})")
        return serving

    try:
        serving = wait_until(
            f"Route53 to answer {t.name}",
            moved,
            deadline_s=bound,
            stop_event=run.stop_event,
            progress=run.progress,
        )
    except (DrctlError, ClientError, BotoCoreError) as e:
        return {"verdict": "unverified", "detail": str(e)}
    return {
        "verdict": "verified",
        "serving": serving.serving_region,
        "healthy": serving.healthy,
        "detail": f"{serving.reason}; {s.name} not serving",
    }


def _verify_fencing(run: Run, s: RegionStack) -> dict[str, Any]:
    if run.req.mode == UNPLANNED:
        return {"verdict": "unverifiable", "detail": f"{s.name} not contacted in unplanned mode"}
    try:
        gc = read_global(run.clients, run.stack, s.name)
    except (ClientError, BotoCoreError) as e:
        return {
            "verdict": "unverifiable",
            "detail": f"{s.name} did not answer: {error_code(e) or type(e).__name__}",
        }
    member = gc.member_in(s.name)
    if member is None or not member.is_writer:
        return {"verdict": "verified", "detail": f"{s.cluster_id} is no longer writer (read in {s.name})"}
    return {"verdict": "not-fenced", "detail": f"{s.cluster_id} still reports IsWriter in {s.name}"}
