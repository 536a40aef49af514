"""Auto Scaling reads: desired / in-service / min / max of the region's group."""

from __future__ import annotations

from typing import Any

from drctl.errors import DrctlError, ExitCode
from drctl.models import AsgState


def read_asg(autoscaling: Any, asg_name: str, region: str) -> AsgState:
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name]).get(
        "AutoScalingGroups", []
    )
    if not groups:
        # DescribeAutoScalingGroups answers an empty list, not an error, for an unknown name.
        raise DrctlError(
            f"Auto Scaling group {asg_name!r} not found in {region}",
            code=ExitCode.CONFIG,
            hint="check the stack file",
        )
    g = groups[0]
    in_service = sum(1 for i in g.get("Instances", []) if i.get("LifecycleState") == "InService")
    return AsgState(
        name=asg_name,
        desired=int(g.get("DesiredCapacity", 0)),
        in_service=in_service,
        min_size=int(g.get("MinSize", 0)),
        max_size=int(g.get("MaxSize", 0)),
    )


MAX_PAGES = 20  # bounded pagination (2,000 groups per region)


def groups_with_target_group(autoscaling: Any, target_group_arn: str) -> list[str]:
    """Names of the Auto Scaling groups that register into `target_group_arn` (DescribeAutoScalingGroups)."""
    names: list[str] = []
    kwargs: dict[str, Any] = {"MaxRecords": 100}
    for _ in range(MAX_PAGES):
        resp = autoscaling.describe_auto_scaling_groups(**kwargs)
        for group in resp.get("AutoScalingGroups", []):
            if target_group_arn in (group.get("TargetGroupARNs") or []):
                names.append(str(group["AutoScalingGroupName"]))
        if not resp.get("NextToken"):
            break
        kwargs["NextToken"] = resp["NextToken"]
    return names
