"""Promotion: send it only when a fresh read says it is needed (never twice), then wait for a writable target.

Planned: SwitchoverGlobalCluster. Unplanned: FailoverGlobalCluster(AllowDataLoss) in the target region, or,
with --allow-detach and only after re-reads over `[failover] detach_after_s` show the global control path
down, detach-and-promote (RemoveFromGlobalCluster of the target, which then stands alone and writable while
the old primary stays the global writer: RDS API reference, RemoveFromGlobalCluster).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drctl.aws import rds
from drctl.aws.errors import error_code, global_path_down, outcome_unknown, to_drctl_error, worth_another_look
from drctl.aws.rds import TRANSITION_STATUSES
from drctl.errors import Failed
from drctl.failover.context import Run
from drctl.failover.plan import PLANNED, UNPLANNED, detach_call, promotion_call
from drctl.failover.preflight import read_global
from drctl.failover.waiting import Interrupted, NotYet, wait_until
from drctl.journal.events import PromotionSent, StateObserved

STALE_SEND_WAIT_S = 60.0  # resumed run: how long a promotion sent earlier may take to show before we give up
MAX_SENDS = 8  # promotion calls per run, each only after a re-read says one is needed
REREAD_EVERY_S = 1.0  # after an unknown outcome: FailoverState shows `pending` once AWS accepted the call
REREADS_AFTER_UNKNOWN = 5

# ---------------------------------------------------------------------------------------------- promotion


@dataclass(frozen=True)
class DbState:
    global_ok: bool
    writer_region: str | None
    in_progress: str | None  # FailoverState.Status while a transition runs
    target_member: bool | None  # None when the global cluster could not be read
    target_status: str
    transition_to_target: bool = False  # FailoverState.ToDbClusterArn names the target: a call was accepted

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_db_state(run: Run) -> DbState:
    """Global cluster and target cluster, both read in the target region only."""
    t = run.target
    to_target = False
    try:
        gc = read_global(run.clients, run.stack, t.name)
        global_ok, writer = True, (gc.writer.region if gc.writer else None)
        fs = gc.failover_state
        in_progress = fs.status if fs is not None and fs.status in TRANSITION_STATUSES else None
        to_target = in_progress is not None and fs is not None and fs.to_arn == t.cluster_arn
        member: bool | None = gc.member_in(t.name) is not None
    except (ClientError, BotoCoreError) as e:
        if run.req.mode == PLANNED or not global_path_down(e):
            raise
        global_ok, writer, in_progress, member = False, None, None, None
    cluster = rds.describe_cluster(run.clients.client("rds", t.name), t.cluster_id, t.name)
    return DbState(global_ok, writer, in_progress, member, cluster.status, to_target)


def promoted(run: Run, s: DbState, detach_sent: bool) -> bool:
    """The target writes: it is the global writer, or (once a detach was sent) it stands alone, available."""
    if s.target_status != "available" or s.in_progress:
        return False
    if s.writer_region == run.target.name:
        return True
    # After detach-and-promote the target is no longer a member (or, with the global path down, can't be asked).
    return detach_sent and s.target_member is not True


@dataclass
class PathDown:
    """Evidence that the global database's control path does not work from the target region: promotion
    calls that failed without an answer or with a server error, and re-reads that showed nothing accepted.
    A detach-and-promote needs this to have lasted `window_s` (never one failed send) and --allow-detach."""

    window_s: float
    since: float | None = None
    last: str = ""
    failures: int = 0

    def failed(self, why: str) -> None:
        self.since = self.since if self.since is not None else time.monotonic()
        self.last, self.failures = why, self.failures + 1

    def answered(self) -> None:  # AWS answered (accepted, or said "not now"): the path works
        self.since, self.failures = None, 0

    def seconds(self) -> float:
        return 0.0 if self.since is None else time.monotonic() - self.since

    def shown(self) -> bool:
        return self.since is not None and self.failures >= 2 and self.seconds() >= self.window_s


def promote(run: Run) -> dict[str, Any]:
    """Send the promotion only when a fresh read says it is needed, then wait for a writable target.

    After a call whose outcome is unknown (timeout, closed connection, 5xx), re-read before anything else:
    a FailoverState naming the target means AWS accepted it. Detach-and-promote only in unplanned mode, only
    with --allow-detach, and only once re-reads have shown the global path down for the stack's window."""
    t = run.target
    detach_sent = run.promotion_detached_before
    before = read_db_state(run)
    if promoted(run, before, detach_sent):
        run.progress(f"{t.name} already writes: promotion not needed")
        return {"before": before.to_dict(), "after": before.to_dict(), "sends": [], "already": True}
    sent = run.promotion_sent_before
    use_detach = detach_sent
    sends: list[dict[str, Any]] = []
    path = PathDown(run.stack.failover.detach_after_s)
    state = before
    while not promoted(run, state, detach_sent):
        if sent or state.in_progress:
            # Never resends. A promotion an earlier attempt sent that shows neither progress nor a result
            # means someone else changed the cluster meanwhile: say so soon instead of waiting out the RTO.
            stale = run.promotion_sent_before and not state.in_progress
            state = _wait_promoted(run, detach_sent, min(run.remaining(), STALE_SEND_WAIT_S) if stale else None)
            continue
        if len(sends) >= MAX_SENDS:
            break
        if not use_detach and run.req.mode == UNPLANNED and path.shown():
            use_detach = _consent_to_detach(run, path, state)
        outcome = _send_promotion(run, use_detach)
        sends.append(outcome)
        if outcome["ok"]:
            path.answered()
            sent, detach_sent = True, use_detach
            _journal_sent(run, outcome)
            continue
        if outcome["unknown"] or outcome["path_down"]:
            path.failed(str(outcome["error"]))
            state = _reread_after_failure(run, outcome, path)
            if state.transition_to_target or promoted(run, state, use_detach):
                sent, detach_sent = True, use_detach
                _journal_sent(run, {**outcome, "accepted": "seen on re-read"})
            continue
        path.answered()  # refused for now (throttled, transition running): let it settle, then look again
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
    run.milestone(
        "database writable",
        f"DescribeGlobalClusters + DescribeDBClusters in {t.name}: "
        + (
            f"{t.cluster_id} stands alone, available"
            if detach_sent
            else f"{t.cluster_id} is the writer, available"
        ),
    )
    return {"before": before.to_dict(), "after": state.to_dict(), "sends": sends, "detached": detach_sent}


def _journal_sent(run: Run, outcome: dict[str, Any]) -> None:
    details = {k: v for k, v in outcome.items() if k != "operation"}
    run.journal.append(PromotionSent(step="promote", operation=str(outcome["operation"]), details=details))
    how = (
        "accepted (seen on re-read)" if outcome.get("accepted") else f"request id {outcome.get('request_id', '')}"
    )
    run.milestone(
        "promotion sent",
        f"{outcome['operation']} in {run.target.name}, {how}",
        at=float(outcome.get("at") or 0) or None,
    )
    run.kill_hook("promote:sent")


def _reread_after_failure(run: Run, outcome: dict[str, Any], path: PathDown) -> DbState:
    """Re-read the global cluster in the target region, each read journaled, until AWS shows the call was
    accepted or the re-reads are spent; in unplanned mode keep reading (slower) while the detach window runs,
    so that a detach is only ever decided on re-reads."""
    op = str(outcome["operation"])
    reads = 0
    while True:
        if run.stop_event.is_set():
            raise Interrupted("promote")
        time.sleep(REREAD_EVERY_S)
        reads += 1
        state = read_db_state(run)
        accepted = state.transition_to_target or promoted(run, state, op == DETACH)
        if not state.global_ok:
            path.failed("DescribeGlobalClusters did not answer")
        verdict = (
            f"{op} accepted: {state.in_progress or 'target writes'}"
            if accepted
            else f"no transition to {run.target.name} seen ({outcome['error']})"
        )
        run.journal.append(
            StateObserved(
                step="promote", what="global cluster after " + op, state=state.to_dict(), verdict=verdict
            )
        )
        if accepted:
            return state
        waiting_for_window = (
            run.req.mode == UNPLANNED and op != DETACH and path.since is not None and not path.shown()
        )
        if reads >= REREADS_AFTER_UNKNOWN and not (waiting_for_window and reads % REREADS_AFTER_UNKNOWN):
            run.progress(f"{op} not accepted after {reads} re-read(s) ({outcome['error']}); deciding again")
            return state


def _consent_to_detach(run: Run, path: PathDown, state: DbState) -> bool:
    t = run.target
    shown = f"for {path.seconds():.0f} s, {path.failures} failure(s), last: {path.last}"
    if not run.req.allow_detach:
        raise Failed(
            f"the global database's control path failed from {t.name} {shown}; no detach without consent",
            hint=f"`drctl failover --resume {run.run_id} --allow-detach` detaches {t.cluster_id} and promotes it "
            "alone (the old primary stays the global writer: a split, until `drctl rejoin`); or wait",
        )
    run.journal.append(
        StateObserved(step="promote", what="global path", state=state.to_dict(), verdict=f"down {shown}: detach")
    )
    run.progress(f"global control path down {shown}: detach-and-promote (--allow-detach)")
    return True


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


DETACH = "RemoveFromGlobalCluster"


def _send_promotion(run: Run, detached: bool) -> dict[str, Any]:
    """One promotion call on a client that makes exactly one attempt (total_max_attempts=1); every retry is
    drctl's own decision after a re-read."""
    t = run.target
    call = detach_call(run.stack, run.req) if detached else promotion_call(run.stack, run.req)
    op = call.operation
    run.progress(f"sending {op} to {t.name}")
    try:
        resp = call.send(run.single_shot)
    except (ClientError, BotoCoreError) as e:
        code = error_code(e) or type(e).__name__
        unknown, down = outcome_unknown(e), global_path_down(e)
        if not (unknown or down or worth_another_look(e)):
            raise to_drctl_error(e, action=f"rds:{op}", region=t.name) from e
        return {
            "ok": False,
            "operation": op,
            "error": code,
            "unknown": unknown,
            "path_down": down,
            "at": time.time(),
        }
    meta = resp.get("ResponseMetadata", {})
    return {"ok": True, "operation": op, "request_id": meta.get("RequestId", ""), "at": time.time()}
