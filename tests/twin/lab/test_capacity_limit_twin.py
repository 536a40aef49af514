"""The lab's insufficient-capacity fault: a group runs no more instances than the cap lets launch."""

from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.twin]


def test_capacity_limit_caps_instances_and_targets_until_lifted(seeded) -> None:
    twin, stack = seeded
    from drctl.stack import load_stack

    west = load_stack(stack).regions["us-west-2"]
    twin.control.set_durations(warmup_s=0.5)
    asg, elb = twin.client("autoscaling", "us-west-2"), twin.client("elbv2", "us-west-2")

    def shown() -> tuple[int, int, int]:
        group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[west.asg_name])["AutoScalingGroups"][0]
        health = elb.describe_target_health(TargetGroupArn=west.target_group_arn)["TargetHealthDescriptions"]
        healthy = sum(1 for d in health if d["TargetHealth"]["State"] == "healthy")
        return group["DesiredCapacity"], len(group["Instances"]), healthy

    twin.control.set_capacity_limit("us-west-2", 3)
    asg.set_desired_capacity(AutoScalingGroupName=west.asg_name, DesiredCapacity=5)
    time.sleep(0.7)
    assert shown() == (5, 3, 3)  # AWS keeps the desired capacity and runs what it could launch
    assert twin.control.health()["capacity_limits"] == {"us-west-2": 3}
    twin.control.set_capacity_limit("us-west-2", None)
    desired, instances, healthy = shown()
    assert (desired, instances) == (5, 5) and healthy == 3  # the late two start their warm-up now
    time.sleep(0.7)
    assert shown() == (5, 5, 5)
