"""The "application healthy" phase: after the flip, the CloudWatch alarms the stack names as application-health
signals of the target region (`[regions.X] app_health_alarms`), all OK.

Why this signal: ARC Region switch reports a plan execution's actual recovery time as "the time for the plan to
run added to the time elapsed until the application health alarms that you've specified are healthy again"
(actualRecoveryTime, https://docs.aws.amazon.com/arc-region-switch/latest/api/API_AbbreviatedExecution.html;
https://docs.aws.amazon.com/r53recovery/latest/dg/region-switch-plans.html). drctl measures the same thing.

How (docs/fidelity.md D-26):
- DescribeAlarms (AlarmNames = the list, in the target region) until every alarm's StateValue is OK.
  INSUFFICIENT_DATA is not OK: it says CloudWatch has no data to judge, not that the application is healthy.
- The milestone's time is when the last of the alarms turned OK, if that is later than the flip: its
  StateTransitionedTimestamp ("The date and time that the alarm's StateValue most recently changed",
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricAlarm.html), on CloudWatch's clock
  and not delayed by drctl's poll interval. StateUpdatedTimestamp ("the last update to the value of either the
  StateValue or EvaluationState parameters") also moves when the state stays, so it is used only where the
  transition time is absent (emulators, older APIs). When the alarms were already OK before the flip, the
  application was healthy when traffic moved: the milestone is the flip itself (ARC adds nothing to the run).
- The wait is bounded: the run's remaining time, and per alarm max(3, EvaluationPeriods + 1) periods (an alarm
  that stops breaching turns OK within EvaluationPeriods periods, plus one for the evaluation itself; 3 periods at
  least; 60 s periods when unknown). Ctrl-C (the run's stop event) ends it at once.
- Never fails the run: any problem is an "unverified: ..." verdict with its reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drctl.aws import cloudwatch
from drctl.aws.errors import error_code, worth_another_look
from drctl.errors import DrctlError
from drctl.failover.context import Run

MILESTONE = "application healthy"
POLL_S = 1.0
MIN_PERIODS = 3
DEFAULT_PERIOD_S = 60  # standard resolution, when DescribeAlarms does not say
UNREADABLE_ROUNDS = 3  # transient DescribeAlarms failures in a row before giving up


def verify_app_health(run: Run) -> dict[str, Any]:
    """The `app_health` entry of verification (and the "application healthy" milestone when all are OK)."""
    t = run.target
    if not t.app_health_alarms:
        return {"verdict": "not configured", "detail": f"no app_health_alarms for {t.name} in the stack file"}
    return check_app_health(
        run.clients.client("cloudwatch", t.name),
        t.name,
        t.app_health_alarms,
        flip_at=flip_time(run),
        remaining_s=run.remaining(),
        stop_event=run.stop_event,
        progress=run.progress,
        milestone=run.milestone,
    )


def flip_time(run: Run) -> float | None:
    """Epoch seconds of the flip's first call (the switch datapoint or the health-check update)."""
    sent = [c.get("sent_at") for c in (run.results.get("flip") or {}).get("calls", [])]
    return min((float(s) for s in sent if s), default=None)


def cap_s(alarms: Sequence[cloudwatch.Alarm]) -> float:
    """How long an alarm may take to turn OK once its cause is gone: max(3, EvaluationPeriods + 1) periods."""
    return max(
        (max(MIN_PERIODS, (a.evaluation_periods or 1) + 1) * (a.period_s or DEFAULT_PERIOD_S) for a in alarms),
        default=MIN_PERIODS * DEFAULT_PERIOD_S,
    )


def check_app_health(
    cw: Any,
    region: str,
    names: Sequence[str],
    *,
    flip_at: float | None,
    remaining_s: float,
    stop_event: threading.Event,
    progress: Callable[[str], None],
    milestone: Callable[..., None],
    poll_s: float = POLL_S,
) -> dict[str, Any]:
    """Poll DescribeAlarms in `region` until every named alarm is OK, within the bound; the verdict entry."""
    started, started_wall = time.monotonic(), time.time()
    floor = flip_at if flip_at is not None else started_wall
    bound = min(remaining_s, MIN_PERIODS * DEFAULT_PERIOD_S)
    polls = unreadable = 0
    alarms: dict[str, cloudwatch.Alarm] = {}
    said = ""
    problem = ""

    def done(verdict: str) -> dict[str, Any]:
        return _entry(verdict, region, names, alarms, polls, started)

    while True:
        polls += 1
        try:
            alarms = cloudwatch.read_alarms(cw, names)
            unreadable, problem = 0, ""
        except (ClientError, BotoCoreError, DrctlError) as e:  # never fails the run
            unreadable += 1
            problem = f"DescribeAlarms in {region} failed: {error_code(e) or type(e).__name__}"
            if not worth_another_look(e) or unreadable >= UNREADABLE_ROUNDS:
                return done(f"unverified: {problem}")
        if not problem:
            missing = [n for n in names if n not in alarms]
            if missing:
                return done(f"unverified: {', '.join(missing)} not found in {region}")
            bound = min(remaining_s, cap_s(list(alarms.values())))
            not_ok = [alarms[n] for n in names if alarms[n].state != "OK"]
            if not not_ok:
                return _healthy(region, names, alarms, polls, started, floor, milestone)
            now_said = ", ".join(f"{a.name} {a.state}" for a in not_ok)
            if now_said != said:
                progress(f"waiting for application health in {region}: {now_said}")
                said = now_said
        elapsed = time.monotonic() - started
        if elapsed >= bound:
            break
        if stop_event.wait(min(poll_s, max(0.0, bound - elapsed))):
            return done(f"unverified: stopped after {time.monotonic() - started:.0f} s")
    elapsed = time.monotonic() - started
    if problem:
        return done(f"unverified: {problem}")
    not_ok = [alarms[n] for n in names if alarms[n].state != "OK"]
    first = not_ok[0]
    more = f" (and {len(not_ok) - 1} more)" if len(not_ok) > 1 else ""
    return done(f"unverified: {first.name} is {first.state} after {elapsed:.0f} s{more}")


def _healthy(
    region: str,
    names: Sequence[str],
    alarms: dict[str, cloudwatch.Alarm],
    polls: int,
    started: float,
    floor: float,
    milestone: Callable[..., None],
) -> dict[str, Any]:
    observed = time.time()
    since = [s for s in (a.state_since for a in alarms.values()) if s is not None]
    field, newest = max(since, key=lambda s: s[1]) if since else ("StateTransitionedTimestamp", None)
    if newest is None:
        at, why = observed, "no state timestamp: the time drctl read them"
    elif newest.timestamp() > floor:
        at, why = newest.timestamp(), "turned OK after the flip"
    else:
        at, why = floor, "already OK at the flip"
    source = f"DescribeAlarms in {region}: {', '.join(names)} OK ({field} {_iso(newest) or 'unknown'}; {why})"
    milestone(MILESTONE, source, at=at, region=region, alarms=list(names), observed_at=observed)
    entry = _entry("verified", region, names, alarms, polls, started)
    return {**entry, "healthy_at": at, "observed_at": observed, "source": source}


def _entry(
    verdict: str,
    region: str,
    names: Sequence[str],
    alarms: dict[str, cloudwatch.Alarm],
    polls: int,
    started: float,
) -> dict[str, Any]:
    shown = [
        {
            "name": n,
            "state": alarms[n].state if n in alarms else "not found",
            "since": _since(alarms.get(n)),
            "reason": alarms[n].reason if n in alarms else "",
        }
        for n in names
    ]
    detail = "; ".join(f"{a['name']}: {a['state']}" for a in shown) if alarms else ", ".join(names)
    return {
        "verdict": verdict,
        "detail": f"DescribeAlarms in {region}: {detail}",
        "region": region,
        "alarms": shown,
        "polls": polls,
        "elapsed_s": round(time.monotonic() - started, 3),
    }


def _since(alarm: cloudwatch.Alarm | None) -> str | None:
    since = alarm.state_since if alarm is not None else None
    return _iso(since[1]) if since else None


def _iso(ts: datetime | None) -> str | None:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z") if ts else None
