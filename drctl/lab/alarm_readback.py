"""Lab middleware: DescribeAlarms answered in full on the query (XML) protocol.

ministack 1.5.33 serialises DescribeAlarms completely over JSON but drops Statistic, Period, Dimensions,
TreatMissingData and the actions over the query/XML protocol that the Terraform aws provider uses, so every plan
after an apply would show the alarms as changed (and the provider refuses an alarm without a statistic). This
middleware asks the emulator over JSON and renders the XML answer itself.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from drctl.lab.http import Forward, LabRequest, LabResponse

_TARGET = "GraniteServiceVersion20100801.DescribeAlarms"
_LISTS = {"AlarmNames", "AlarmTypes", "ActionPrefix"}
_SCALARS = ("AlarmNamePrefix", "StateValue", "ActionPrefix", "MaxRecords", "NextToken", "ChildrenOfAlarmName")
_ORDER = (
    "AlarmName",
    "AlarmArn",
    "AlarmDescription",
    "AlarmConfigurationUpdatedTimestamp",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "StateValue",
    "StateReason",
    "StateReasonData",
    "StateUpdatedTimestamp",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)


def _json_params(form: dict[str, list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, values in form.items():
        name = key.split(".", 1)[0]
        if name in _LISTS and ".member." in key:
            out.setdefault(name, []).append(values[0])
        elif name in _SCALARS:
            out[name] = int(values[0]) if name == "MaxRecords" else values[0]
    return out


def _xml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "".join(f"<{k}>{_xml(v)}</{k}>" for k, v in value.items())
    if isinstance(value, list):
        return "".join(f"<member>{_xml(v)}</member>" for v in value)
    return escape(str(value))


def _timestamp(value: Any) -> Any:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def _alarm_xml(alarm: dict[str, Any]) -> str:
    alarm = {
        k: (_timestamp(v) if k.endswith("Timestamp") else v)
        for k, v in alarm.items()
        if v is not None and v != "None"
    }
    keys = [k for k in _ORDER if k in alarm] + [k for k in alarm if k not in _ORDER]
    return "<member>" + "".join(f"<{k}>{_xml(alarm[k])}</{k}>" for k in keys) + "</member>"


class AlarmReadback:
    """Middleware: DescribeAlarms over query/XML, answered from the emulator's complete JSON answer."""

    def __call__(self, req: LabRequest, forward: Forward) -> LabResponse:
        if req.service != "monitoring" or req.operation != "DescribeAlarms" or not req.form:
            return forward(req)
        headers = {k: v for k, v in req.headers.items() if k not in ("content-type", "content-length")}
        headers["content-type"] = "application/x-amz-json-1.0"
        headers["x-amz-target"] = _TARGET
        as_json = replace(req, headers=headers, body=json.dumps(_json_params(req.form)).encode("utf-8"), query={})
        resp = forward(as_json)
        if resp.status != 200:
            return forward(req)
        try:
            data = json.loads(resp.body or b"{}")
        except json.JSONDecodeError:
            return forward(req)
        metric = "".join(_alarm_xml(a) for a in data.get("MetricAlarms", []))
        token = f"<NextToken>{escape(data['NextToken'])}</NextToken>" if data.get("NextToken") else ""
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<DescribeAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">'
            f"<DescribeAlarmsResult><MetricAlarms>{metric}</MetricAlarms><CompositeAlarms></CompositeAlarms>"
            f"{token}</DescribeAlarmsResult>"
            "<ResponseMetadata><RequestId>lab-alarm-readback</RequestId></ResponseMetadata>"
            "</DescribeAlarmsResponse>"
        )
        return LabResponse.xml(200, body)
