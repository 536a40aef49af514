"""Promotion: send it only when a fresh read says it is needed (never twice), then wait for a writable target.

Planned: SwitchoverGlobalCluster. Unplanned: FailoverGlobalCluster(AllowDataLoss) in the target region, or,
when the global control path does not answer, detach-and-promote (RemoveFromGlobalCluster) there.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drctl.aws import rds
from drctl.aws.errors import error_code, global_path_down, to_drctl_error, worth_another_look
from drctl.aws.rds import TRANSITION_STATUSES
from drctl.errors import Failed
from drctl.failover.context import Run
from drctl.failover.plan import PLANNED, UNPLANNED, detach_call, promotion_call
from drctl.failover.preflight import read_global
from drctl.failover.waiting import NotYet, wait_until

STALE_SEND_WAIT_S = 60.0  # resumed run: how long a promotion sent earlier may take to show before we give up
MAX_PROMOTION_SENDS = 4  # attempts of the promotion call itself, each only after a re-read says it is needed

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
        in_progress = fs.status if fs is not None and fs.status in TRANSITION_STATUSES else None
        member: bool | None = gc.member_in(t.name) is not None
    except (ClientError, BotoCoreError) as e:
        if run.req.mode == PLANNED or not global_path_down(e):
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
        raise Failed(
            f"{t.cluster_id} did not become writer after {len(sends)} promotion call(s)",
            hint="check `drctl status`",
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


def _send_promotion(run: Run, detached: bool) -> dict[str, Any]:
    """One promotion call on a client without automatic retries; the caller re-reads before any other."""
    t = run.target
    call = detach_call(run.stack, run.req) if detached else promotion_call(run.stack, run.req)
    op = call.operation
    run.progress(f"sending {op} to {t.name}")
    try:
        resp = call.send(run.single_shot)
    except (ClientError, BotoCoreError) as e:
        code = error_code(e) or type(e).__name__
        fallback = global_path_down(e)
        if not (worth_another_look(e) or fallback):
            raise to_drctl_error(e, action=f"rds:{op}", region=t.name) from e
        return {"ok": False, "operation": op, "error": code, "fallback": fallback, "at": time.time()}
    meta = resp.get("ResponseMetadata", {})
    return {"ok": True, "operation": op, "request_id": meta.get("RequestId", ""), "at": time.time()}
