"""CloudWatch changes: throw (or reset) the failover switch — a metric and the alarm that follows it.

The switch for region R lives in the *other* region, so draining a failed region never calls it.
"""

from __future__ import annotations

from typing import Any

from drctl.stack import Switch


def switch_metric_params(switch: Switch, drained_region: str, value: float) -> dict[str, Any]:
    return {
        "Namespace": switch.namespace,
        "MetricData": [
            {
                "MetricName": switch.metric_name,
                "Dimensions": [{"Name": switch.dimension_name, "Value": drained_region}],
                "Value": value,
                "Unit": "Count",
            }
        ],
    }


def put_switch_metric(cw: Any, switch: Switch, drained_region: str, value: float) -> dict[str, Any]:
    """1 = drain `drained_region` (its record's health check turns unhealthy), 0 = let it serve."""
    resp: dict[str, Any] = cw.put_metric_data(**switch_metric_params(switch, drained_region, value))
    return resp


def alarm_state_params(alarm_name: str, state: str, reason: str) -> dict[str, Any]:
    return {"AlarmName": alarm_name, "StateValue": state, "StateReason": reason}


def set_switch_alarm_state(cw: Any, alarm_name: str, state: str, reason: str) -> dict[str, Any]:
    """Move the switch alarm now instead of waiting for its next evaluation (the metric keeps it there)."""
    resp: dict[str, Any] = cw.set_alarm_state(**alarm_state_params(alarm_name, state, reason))
    return resp
