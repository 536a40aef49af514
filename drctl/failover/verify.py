"""Verification: the target writes; traffic moved; DNS answers the target; the application-health alarms are OK
(drctl/failover/app_health.py); the old writer is fenced. Only the writer check can fail the run: Route53
control-plane, DNS, CloudWatch alarm and source-region reads are best effort.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drctl.aws import cloudwatch
from drctl.aws import dns as dns_plane
from drctl.aws.errors import error_code
from drctl.errors import DrctlError, ExitCode
from drctl.failover import observe, serving
from drctl.failover.app_health import verify_app_health
from drctl.failover.context import Run, traffic_bound_s
from drctl.failover.plan import UNPLANNED
from drctl.failover.preflight import read_global
from drctl.failover.promote import promoted, read_db_state
from drctl.failover.waiting import NotYet, wait_until
from drctl.stack import NO_TRAFFIC, SWITCH, RegionStack

# ------------------------------------------------------------------------------------------- verification


def verify(run: Run) -> dict[str, Any]:
    """Target writes; traffic moved; DNS answers, the target serves; the old writer is fenced. Only the writer
    check of a run that promoted can fail it. `--only` verifies the part that ran and says the other did not."""
    t, s = run.target, run.source
    state = read_db_state(run)
    out: dict[str, Any] = {}
    if run.req.moves_database:
        detached = bool(run.results.get("promote", {}).get("detached"))
        if not promoted(run, state, detached):
            raise DrctlError(f"{t.cluster_id} is not the writer after promotion", code=ExitCode.FAILED)
        where = "stands alone after detach-and-promote" if detached else "is the global writer"
        out["writer"] = {
            "verdict": "verified",
            "detail": f"{t.cluster_id} {where} (read in {t.name})",
            "state": state.to_dict(),
        }
    else:  # traffic only: what the database is, never a reason to fail (the guard was before the flip)
        writes = promoted(run, state, False)
        out["writer"] = {
            "verdict": "verified" if writes else "NOT WRITING (--force-traffic)",
            "detail": f"{t.cluster_id} {'is' if writes else 'is not'} the global writer (read in {t.name}; "
            f"{state.writer_region or 'no region'} writes); no promotion (--only traffic)",
            "state": state.to_dict(),
        }
    if not run.req.moves_traffic:
        out["traffic"] = {
            "verdict": "not moved (--only database)",
            "detail": f"traffic still goes to {s.name}: no flip, DNS, serving or application-health check made",
        }
    elif run.stack.traffic_method == NO_TRAFFIC:
        why = "traffic method none: drctl does not move traffic"
        out["traffic"] = {"verdict": "not moved", "detail": why}
        out["dns"] = {"verdict": f"not checked: {why}", "detail": ""}
        out["serving"] = {"verdict": f"not probed: {why}", "detail": ""}
    else:
        out["traffic"] = _verify_traffic(run)
        out["dns"] = _verify_dns(run)
        out["serving"] = serving.verify_serving(run, out["dns"])  # "target serving": after DNS answers target
    if run.req.moves_traffic:
        out["app_health"] = verify_app_health(run)  # drctl/failover/app_health.py: the "application healthy" phase
    if run.req.moves_database:
        out["fencing"] = _verify_fencing(run, s)
    return out


def _verify_traffic(run: Run) -> dict[str, Any]:
    t, s = run.target, run.source
    if run.req.mode == UNPLANNED and run.stack.traffic_method == SWITCH:
        # Route53's control plane is in us-east-1: not called in unplanned mode. The switch is readable here.
        if s.role != "primary":
            return {"verdict": "unverifiable", "detail": "Route53 control plane not called in unplanned mode"}
        return _switch_verdict(run, s)
    bound = traffic_bound_s(run)

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


def _switch_verdict(run: Run, s: RegionStack) -> dict[str, Any]:
    """Unplanned mode: is the source's switch alarm in ALARM? What the flip step saw when it followed the alarm
    (DescribeAlarms, evaluated from the datapoint) counts; without that, follow the alarm for up to one period
    and a half, so a read made before CloudWatch evaluated the datapoint never says "not thrown"."""
    tail = "Route53 answers follow its health check (control plane not called in unplanned mode)"
    seen = _flip_saw(run, s)
    if seen is not None and seen.get("state") == "ALARM":
        after = seen.get("seen_after_put_s")
        when = f" {after:g}s after the datapoint" if isinstance(after, int | float) else ""
        return {
            "verdict": "switch-thrown",
            "detail": f"{s.switch_alarm_name} in {s.switch_alarm_region} evaluated ALARM{when} (seen by the flip "
            f"step: {seen.get('source', 'DescribeAlarms')}); {tail}",
            "seen_at": seen.get("seen_at"),
        }
    period = float((seen or {}).get("period_s") or cloudwatch.STANDARD_PERIOD_S)
    bound = min(run.remaining(), period * 1.5)
    last: list[str | None] = [None]

    def thrown() -> str:
        last[0] = observe.alarm_state(run.clients, s.switch_alarm_region, s.switch_alarm_name)
        if last[0] != "ALARM":
            raise NotYet(f"{s.switch_alarm_name} is {last[0]}")
        return last[0]

    try:
        state = wait_until(
            f"{s.switch_alarm_name} in ALARM",
            thrown,
            deadline_s=bound,
            stop_event=run.stop_event,
            progress=run.progress,
            max_interval_s=2.0,
        )
    except (ClientError, BotoCoreError) as e:
        return {"verdict": "unverifiable", "detail": f"switch alarm unreadable: {error_code(e) or e}"}
    except DrctlError:
        return {
            "verdict": "switch-not-thrown",
            "detail": f"{s.switch_alarm_name} in {s.switch_alarm_region} is {last[0]} after following it for "
            f"{bound:.1f}s (the flip saw {(seen or {}).get('state', 'nothing')}); {tail}",
        }
    return {
        "verdict": "switch-thrown",
        "detail": f"{s.switch_alarm_name} in {s.switch_alarm_region} is {state}; {tail}",
    }


def _flip_saw(run: Run, s: RegionStack) -> dict[str, Any] | None:
    """The alarm the flip step followed after putting the source's drain datapoint (1), if it did."""
    for entry in run.results.get("flip", {}).get("calls", []):
        alarm = entry.get("alarm") or {}
        data = (entry.get("params") or {}).get("MetricData") or [{}]
        drain = float(data[0].get("Value", 0)) >= 1
        if entry.get("operation") == "PutMetricData" and alarm.get("name") == s.switch_alarm_name and drain:
            return dict(alarm)
    return None


DNS_POLL_S = 0.5
DNS_SILENT_ROUNDS = 3  # every server unverified this many rounds in a row: the check cannot be made


def _verify_dns(run: Run) -> dict[str, Any]:
    """Ask the zone's authoritative servers (DNS, not the Route53 API) until they answer the target's record.

    Works with Route53's control plane down. Records when the first answer naming the target arrived (wall
    clock and monotonic), so the run can show "DNS answers target" as an RTO phase."""
    stack, t = run.stack, run.target
    started = time.monotonic()
    bound = traffic_bound_s(run)
    cache: dict[str, Any] = {}
    first: dict[str, Any] = {}
    silent = polls = 0
    last = dns_plane.DnsCheck(stack.record_name)
    while True:
        polls += 1
        last = dns_plane.check(stack, cache=cache)
        answered = [a for a in last.answers if a.answered]
        regions = last.regions_answered()
        if not first and t.name in regions:
            first = {"answered_target_at": time.time(), "answered_target_monotonic": time.monotonic()}
            naming = next(a for a in answered if a.region == t.name)
            run.milestone(
                "DNS answers target",
                f"authoritative answer from {naming.server} (asked over DNS, not the Route53 API)",
                at=first["answered_target_at"],
                ttl_s=naming.ttl_s,
                server=naming.server,
            )
        if answered and regions == {t.name}:
            break
        silent = 0 if answered else silent + 1
        if last.problem or silent >= DNS_SILENT_ROUNDS or time.monotonic() - started >= bound:
            break
        if run.stop_event.wait(DNS_POLL_S):
            break
    answered = [a for a in last.answers if a.answered]
    servers = "; ".join(f"{a.server}: {_dns_said(a)}" for a in last.answers)
    if last.problem:
        verdict = f"unverified: {last.problem}"
    elif not answered:
        verdict = f"unverified: no authoritative answer from {len(last.answers)} server(s)"
    elif last.regions_answered() == {t.name}:
        verdict = "verified"
    else:
        said = ", ".join(sorted(r or "no region of the stack" for r in last.regions_answered()))
        verdict = f"unverified: after {time.monotonic() - started:.1f} s the servers answer {said}, not {t.name}"
    return {
        "verdict": verdict,
        "detail": f"{stack.record_name}: {servers}" if servers else stack.record_name,
        "target": t.name,
        "polls": polls,
        "elapsed_s": round(time.monotonic() - started, 3),
        **first,
        **last.to_dict(),
    }


def _dns_said(a: dns_plane.ServerAnswer) -> str:
    if not a.answered:
        return a.verdict
    values = ", ".join(f"{r.type} {r.value}" for r in a.records) or f"no records ({a.rcode})"
    return f"{a.region or 'no region of the stack'} ({values}; TTL {a.ttl_s} s)"


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
