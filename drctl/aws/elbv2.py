"""ELBv2 reads: how many targets of a target group are healthy."""

from __future__ import annotations

from collections import Counter
from typing import Any

from drctl.models import TargetHealth


def read_target_health(elbv2: Any, target_group_arn: str) -> TargetHealth:
    descriptions = elbv2.describe_target_health(TargetGroupArn=target_group_arn).get(
        "TargetHealthDescriptions", []
    )
    states = Counter(str((d.get("TargetHealth") or {}).get("State", "unknown")) for d in descriptions)
    return TargetHealth(
        target_group_arn=target_group_arn,
        healthy=states.get("healthy", 0),
        total=len(descriptions),
        states=dict(states),
    )


MAX_PAGES = 20  # bounded pagination (400 load balancers or target groups per region)


def list_load_balancers(elbv2: Any) -> list[dict[str, Any]]:
    """DescribeLoadBalancers: every load balancer of the region (`drctl discover` matches DNS names)."""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"PageSize": 20}
    for _ in range(MAX_PAGES):
        resp = elbv2.describe_load_balancers(**kwargs)
        found += resp.get("LoadBalancers", [])
        if not resp.get("NextMarker"):
            break
        kwargs["Marker"] = resp["NextMarker"]
    return found


def target_groups_of(elbv2: Any, load_balancer_arn: str) -> list[dict[str, Any]]:
    """DescribeTargetGroups of one load balancer."""
    return list(elbv2.describe_target_groups(LoadBalancerArn=load_balancer_arn).get("TargetGroups", []))
