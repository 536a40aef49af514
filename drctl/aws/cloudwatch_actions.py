"""CloudWatch changes: throw (or reset) the failover switch — a metric and the alarm that follows it.

The switch for region R lives in the *other* region, so draining a failed region never calls it.
"""

from __future__ import annotations

from drctl.aws.calls import ApiCall
from drctl.stack import Switch


def put_switch_metric(region: str, switch: Switch, drained_region: str, value: float) -> ApiCall:
    """1 = drain `drained_region` (its record's health check turns unhealthy), 0 = let it serve."""
    return ApiCall(
        "cloudwatch",
        region,
        "PutMetricData",
        {
            "Namespace": switch.namespace,
            "MetricData": [
                {
                    "MetricName": switch.metric_name,
                    "Dimensions": [{"Name": switch.dimension_name, "Value": drained_region}],
                    "Value": value,
                    "Unit": "Count",
                }
            ],
        },
    )
