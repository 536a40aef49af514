"""Auto Scaling changes: give the target region the capacity to take the load."""

from __future__ import annotations

from typing import Any


def capacity_params(asg_name: str, desired: int, max_size: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"AutoScalingGroupName": asg_name, "DesiredCapacity": desired}
    if max_size is not None:
        params["MaxSize"] = max_size
    return params


def scale_asg(asg: Any, asg_name: str, desired: int, max_size: int | None = None) -> dict[str, Any]:
    """Set the desired capacity (and raise MaxSize when it would not fit)."""
    resp: dict[str, Any] = asg.update_auto_scaling_group(**capacity_params(asg_name, desired, max_size))
    return resp
