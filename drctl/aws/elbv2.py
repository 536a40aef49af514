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
