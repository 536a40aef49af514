"""Auto Scaling changes: give the target region the capacity to take the load."""

from __future__ import annotations

from typing import Any

from drctl.aws.calls import ApiCall


def scale_asg(region: str, asg_name: str, desired: int, max_size: int | None = None) -> ApiCall:
    """Set the desired capacity (and raise MaxSize when it would not fit)."""
    params: dict[str, Any] = {"AutoScalingGroupName": asg_name, "DesiredCapacity": desired}
    if max_size is not None:
        params["MaxSize"] = max_size
    return ApiCall("autoscaling", region, "UpdateAutoScalingGroup", params)
