"""CloudWatch metric alarms on AWS's clock: evaluated at their period boundaries from the metric data.

ministack evaluates every alarm on every PutMetricData and keeps a SetAlarmState for good; AWS does neither
(docs/fidelity.md T-20, T-22):

- "An alarm evaluates its metric at its period": at the end of each period CloudWatch takes the last
  EvaluationPeriods periods of the metric, compares each period's statistic with the threshold and goes to
  ALARM when DatapointsToAlarm of them breach; TreatMissingData decides what empty periods count as.
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html
- SetAlarmState "Temporarily sets the state of an alarm for testing purposes ... Metric alarms returns to their
  actual state quickly": the lab keeps the forced state until the alarm's next evaluation, then the data decide.
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_SetAlarmState.html

The lab owns the state; the emulator only stores it. After every call that may let ministack change a state
(PutMetricData, SetAlarmState, PutMetricAlarm) the lab writes its own state back, under one lock that reads
through the gateway (DescribeAlarms) also take, so no reader ever sees ministack's eager evaluation. Periods are
AWS's, multiplied by the lab's time scale (`drctl lab up --time-scale F`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from drctl.lab.http import Forward, LabRequest, LabResponse
from drctl.lab.periodic import Worker

log = logging.getLogger(__name__)

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
MAX_CATCH_UP = 20  # periods a late evaluation catches up on (the lab's thread wakes at least every second)
_LOCKED_READS = frozenset(("DescribeAlarms", "DescribeAlarmsForMetric", "DescribeAlarmHistory"))
_ADOPT = frozenset(("PutMetricAlarm", "DeleteAlarms", "EnableAlarmActions", "DisableAlarmActions"))


class _World(Protocol):
    regions: tuple[str, ...]

    def is_region_down(self, region: str) -> bool: ...
    def client(self, service: str, region: str) -> Any: ...


@dataclass(frozen=True)
class Period:
    """One period's statistics (None when the period holds no datapoint)."""

    samples: float
    total: float
    minimum: float
    maximum: float

    def stat(self, name: str) -> float:
        if name == "Sum":
            return self.total
        if name == "Minimum":
            return self.minimum
        if name == "Maximum":
            return self.maximum
        if name == "SampleCount":
            return self.samples
        return self.total / self.samples  # Average (and extended statistics: not modelled, see T-20)


def _never(value: float, threshold: float) -> bool:
    return False  # anomaly-detection operators: not modelled


def decide(alarm: dict[str, Any], periods: list[Period | None], current: str) -> tuple[str, str]:
    """The state an evaluation gives (state, reason) from the last EvaluationPeriods periods, oldest first.

    AWS: ALARM when at least DatapointsToAlarm (default EvaluationPeriods) periods breach; TreatMissingData
    `missing` (default) and `ignore` leave empty periods out, `breaching` / `notBreaching` count them as such;
    with every period empty, `missing` gives INSUFFICIENT_DATA and `ignore` keeps the current state.
    """
    stat = str(alarm.get("Statistic") or alarm.get("ExtendedStatistic") or "Average")
    threshold = float(alarm.get("Threshold", 0.0))
    compare = _COMPARE.get(str(alarm.get("ComparisonOperator", "")), _never)
    treat = str(alarm.get("TreatMissingData") or "missing")
    need = int(alarm.get("DatapointsToAlarm") or alarm.get("EvaluationPeriods") or 1)
    breaching = judged = 0
    values = []
    for p in periods:
        if p is None:
            if treat in ("breaching", "notBreaching"):
                judged += 1
                breaching += treat == "breaching"
            continue
        value = p.stat(stat)
        values.append(value)
        judged += 1
        breaching += compare(value, threshold)
    shown = ", ".join(f"{v:g}" for v in values) or "no datapoints"
    if breaching >= need:
        return "ALARM", f"Threshold Crossed: {breaching} of {len(periods)} periods breaching [{shown}] (lab)"
    if judged:
        return "OK", f"Threshold Crossed: {breaching} of {len(periods)} periods breaching [{shown}] (lab)"
    if treat == "ignore":
        return current, "no datapoints; TreatMissingData ignore keeps the state (lab)"
    return "INSUFFICIENT_DATA", "Insufficient Data: no datapoints in the evaluation range (lab)"


class AlarmClock:
    """Middleware and evaluator: the lab's alarm states, evaluated at period boundaries."""

    def __init__(self, world: _World, time_scale: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        self.world = world
        self.time_scale = time_scale
        self.clock = clock
        self.lock = threading.RLock()
        self.shown: dict[tuple[str, str], tuple[str, str]] = {}  # (region, alarm) -> (state, reason)
        self.forced: set[tuple[str, str]] = set()
        self.evaluated: dict[tuple[str, str], float] = {}  # last boundary evaluated (lab time)
        self.actual: dict[tuple[str, str], str] = {}  # the state the data gave at the last evaluation
        self.evaluations: list[dict[str, Any]] = []  # recent evaluations that changed a state, for /_lab/alarms
        self.changed_at: dict[tuple[str, str], float] = {}  # when the shown state last changed (lab clock)
        self._worker = Worker("lab-alarms", self._run)
        self._stop = self._worker.stopping

    # ------------------------------------------------------------------------------------ the middleware

    def __call__(self, req: LabRequest, forward: Forward) -> LabResponse:
        if req.service != "monitoring":
            return forward(req)
        op = req.operation
        if op == "PutMetricData":
            with self.lock:
                resp = forward(req)
                self.settle(req.region)
            return resp
        if op == "SetAlarmState" or op in _ADOPT:
            with self.lock:
                resp = forward(req)
                if resp.status == 200:
                    self.adopt(req.region, forced=op == "SetAlarmState")
            return resp
        if op in _LOCKED_READS:
            with self.lock:
                return forward(req)
        return forward(req)

    def put_metric_data(self, region: str, namespace: str, data: list[dict[str, Any]]) -> None:
        """The lab's own publishing (signals.py), under the same rule as calls through the gateway."""
        with self.lock:
            self.world.client("cloudwatch", region).put_metric_data(Namespace=namespace, MetricData=data)
            self.settle(region)

    def state_since(self, region: str, name: str) -> float | None:
        """When the alarm's shown state last changed (lab clock, epoch seconds); None if not seen changing."""
        with self.lock:
            return self.changed_at.get((region, name))

    def state(self, region: str, name: str) -> str | None:
        """The alarm's state as the lab shows it (None: unknown alarm)."""
        with self.lock:
            known = self.shown.get((region, name))
            if known is not None:
                return known[0]
            alarms = {a["AlarmName"]: a for a in self._alarms(region)}
            alarm = alarms.get(name)
            if alarm is None:
                return None
            self.shown[(region, name)] = (str(alarm["StateValue"]), str(alarm.get("StateReason", "")))
            return str(alarm["StateValue"])

    # --------------------------------------------------------------------- keeping the emulator in line

    def _alarms(self, region: str) -> list[dict[str, Any]]:
        from botocore.exceptions import BotoCoreError, ClientError

        out: list[dict[str, Any]] = []
        try:
            pages = self.world.client("cloudwatch", region).get_paginator("describe_alarms")
            for page in pages.paginate(AlarmTypes=["MetricAlarm"]):
                out += page.get("MetricAlarms", [])
        except (BotoCoreError, ClientError) as e:
            log.warning("lab alarms: cannot list alarms in %s: %s", region, e)
        return out

    def settle(self, region: str) -> None:
        """Undo ministack's eager evaluation: write the lab's state back where the emulator's differs."""
        for alarm in self._alarms(region):
            key = (region, str(alarm["AlarmName"]))
            if key not in self.shown:
                self.shown[key] = (str(alarm["StateValue"]), str(alarm.get("StateReason", "")))
            elif alarm["StateValue"] != self.shown[key][0]:
                self._write(key, *self.shown[key])

    def adopt(self, region: str, *, forced: bool) -> None:
        """After SetAlarmState or an alarm (re)definition: the emulator's state is the lab's until the next
        evaluation; SetAlarmState's is marked forced (it lasts until then only)."""
        alarms = self._alarms(region)
        names = {str(a["AlarmName"]) for a in alarms}
        for key in [k for k in self.shown if k[0] == region and k[1] not in names]:
            self.shown.pop(key, None)
            self.forced.discard(key)
            self.evaluated.pop(key, None)
        for alarm in alarms:
            key = (region, str(alarm["AlarmName"]))
            state = (str(alarm["StateValue"]), str(alarm.get("StateReason", "")))
            if self.shown.get(key) != state:
                if self.shown.get(key, ("",))[0] != state[0]:
                    self.changed_at[key] = self.clock()
                self.shown[key] = state
                if forced:
                    self.forced.add(key)

    def _write(self, key: tuple[str, str], state: str, reason: str) -> None:
        region, name = key
        self.world.client("cloudwatch", region).set_alarm_state(
            AlarmName=name, StateValue=state, StateReason=reason[:1023] or "lab"
        )

    # ------------------------------------------------------------------------------------- evaluation

    def period_s(self, alarm: dict[str, Any]) -> float:
        """The alarm's period in lab seconds (AWS's, times the lab time scale)."""
        return float(alarm.get("Period") or 60) * self.time_scale

    def due(self, alarm: dict[str, Any], region: str, now: float) -> list[float]:
        """The period boundaries not yet evaluated for this alarm, oldest first (at most MAX_CATCH_UP).

        CloudWatch evaluates every period, so a period is never skipped because the lab's thread woke late; and
        an alarm first seen here is evaluated from the period it was created (or last reconfigured) in, so a
        datapoint sent right after PutMetricAlarm counts however late the lab first looks."""
        length = self.period_s(alarm)
        boundary = math.floor(now / length) * length
        key = (region, str(alarm["AlarmName"]))
        last = self.evaluated.get(key)
        if last is None:
            configured = alarm.get("AlarmConfigurationUpdatedTimestamp")
            since = configured.timestamp() if isinstance(configured, datetime) else now
            last = math.floor(min(since, now) / length) * length
            self.evaluated[key] = last
        missed = min(round((boundary - last) / length), MAX_CATCH_UP)
        return [boundary - i * length for i in range(missed - 1, -1, -1)]

    def periods(self, region: str, alarm: dict[str, Any], boundary: float) -> list[Period | None]:
        """The statistics of the EvaluationPeriods periods that end at `boundary`, oldest first."""
        length = self.period_s(alarm)
        count = int(alarm.get("EvaluationPeriods") or 1)
        cw = self.world.client("cloudwatch", region)
        out: list[Period | None] = []
        for i in range(count, 0, -1):
            start, end = boundary - i * length, boundary - (i - 1) * length
            resp = cw.get_metric_statistics(
                Namespace=alarm["Namespace"],
                MetricName=alarm["MetricName"],
                Dimensions=alarm.get("Dimensions", []),
                StartTime=datetime.fromtimestamp(start, UTC),
                EndTime=datetime.fromtimestamp(end, UTC),
                Period=60,  # the emulator's buckets; each is folded into the one lab period asked for
                Statistics=["SampleCount", "Sum", "Minimum", "Maximum"],
            )
            points = resp.get("Datapoints", [])
            if not points:
                out.append(None)
                continue
            out.append(
                Period(
                    sum(float(p["SampleCount"]) for p in points),
                    sum(float(p["Sum"]) for p in points),
                    min(float(p["Minimum"]) for p in points),
                    max(float(p["Maximum"]) for p in points),
                )
            )
        return out

    def evaluate_due(self, regions: Iterable[str] | None = None) -> float:
        """Evaluate every alarm whose period ended; returns the lab time of the next boundary."""
        now = self.clock()
        upcoming = now + 1.0
        for region in regions if regions is not None else self.world.regions:
            if self.world.is_region_down(region):
                continue
            for alarm in self._alarms(region):
                if not alarm.get("MetricName"):
                    continue  # metric-math alarms: left to the emulator (not modelled)
                length = self.period_s(alarm)
                upcoming = min(upcoming, (math.floor(now / length) + 1) * length)
                for boundary in self.due(alarm, region, now):
                    self._evaluate(region, alarm, boundary)
        return upcoming

    def _evaluate(self, region: str, alarm: dict[str, Any], boundary: float) -> None:
        key = (region, str(alarm["AlarmName"]))
        with self.lock:
            # Read the periods under the lock PutMetricData holds while the emulator stamps and stores a
            # datapoint: a datapoint stamped before the boundary is then stored before this read, never left in
            # a period already evaluated (an unevaluated datapoint would be lost to the alarm for good).
            periods = self.periods(region, alarm, boundary)
            current = self.shown.get(key, (str(alarm["StateValue"]), ""))[0]
            # A forced state is not what the data said: `ignore` keeps the state the data gave last.
            base = self.actual.get(key, current) if key in self.forced else current
            state, reason = decide(alarm, periods, base)
            self.actual[key] = state
            self.evaluated[key] = boundary
            changed = state != current or key in self.forced or alarm["StateValue"] != state
            self.forced.discard(key)
            if state != current:
                self.changed_at[key] = self.clock()
            self.shown[key] = (state, reason)
            if changed:
                self._write(key, state, reason)
                alarm["StateValue"] = state  # the listing this evaluation came from, for the catch-up's next
                self.evaluations = [
                    *self.evaluations[-49:],
                    {"region": region, "alarm": key[1], "boundary": boundary, "from": current, "to": state},
                ]

    # ---------------------------------------------------------------------------------------- the thread

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def _run(self) -> None:
        upcoming = self.clock()
        while not self._stop.wait(max(0.01, min(1.0, upcoming - self.clock() + 0.02))):
            try:
                upcoming = self.evaluate_due()
            except Exception as e:  # an emulator restart or reset mid-way must not end the thread
                log.warning("lab alarms: evaluation failed: %s", e)
                upcoming = self.clock() + 1.0

    def clear(self) -> None:
        with self.lock:
            self.shown.clear()
            self.forced.clear()
            self.evaluated.clear()
            self.actual.clear()
            self.changed_at.clear()
            self.evaluations = []

    def view(self) -> dict[str, Any]:
        with self.lock:
            return {
                "time_scale": self.time_scale,
                "alarms": [
                    {"region": r, "alarm": n, "state": s, "reason": why, "forced": (r, n) in self.forced}
                    for (r, n), (s, why) in sorted(self.shown.items())
                ],
                "evaluations": list(self.evaluations),
            }
