"""Verification: the target writes; traffic moved; the old writer is fenced. Only the writer check can fail
the run: Route53 control-plane and source-region reads are best effort (verified / unverifiable).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drctl.aws.errors import error_code
from drctl.errors import DrctlError, ExitCode
from drctl.failover import observe
from drctl.failover.context import Run
from drctl.failover.plan import UNPLANNED
from drctl.failover.preflight import read_global
from drctl.failover.promote import promoted, read_db_state
from drctl.failover.waiting import NotYet, wait_until
from drctl.stack import RegionStack

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
