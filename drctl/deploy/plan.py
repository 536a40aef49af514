"""Reading a Terraform plan (the JSON of `terraform show -json PLAN`): counts, and the changes drctl refuses.

A redeploy must never undo a failover: destroying or replacing the global cluster or a member cluster, detaching a
member, or pointing the PRIMARY failover record at a region that is not the current writer are refused unless the
operator passes --allow-destructive.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GUARDED_TYPES = ("aws_rds_global_cluster", "aws_rds_cluster")
ROUTE53_TYPES = ("aws_route53_record", "aws_route53_zone", "aws_route53_health_check")


@dataclass(frozen=True)
class Change:
    address: str
    type: str
    actions: tuple[str, ...]

    @property
    def action(self) -> str:
        """create, update, delete, replace, read or no-op."""
        if set(self.actions) == {"create", "delete"}:
            return "replace"
        return self.actions[0] if self.actions else "no-op"

    @property
    def destructive(self) -> bool:
        return self.action in ("delete", "replace")


@dataclass
class PlanSummary:
    changes: list[Change] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # one line each: what, and why it is refused

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(ch.action for ch in self.changes if ch.action not in ("no-op", "read"))
        return dict(c)

    @property
    def total(self) -> int:
        """Resources the apply will touch."""
        return sum(self.counts.values())

    @property
    def destructive(self) -> list[Change]:
        return [ch for ch in self.changes if ch.destructive]


def _after(rc: Mapping[str, Any]) -> dict[str, Any]:
    return dict((rc.get("change") or {}).get("after") or {})


def _before(rc: Mapping[str, Any]) -> dict[str, Any]:
    return dict((rc.get("change") or {}).get("before") or {})


def summarize_plan(plan: Mapping[str, Any], *, writer_region: str | None) -> PlanSummary:
    """Counts by action, and the refusals (see module docstring) for a `terraform show -json` plan."""
    summary = PlanSummary()
    for rc in plan.get("resource_changes", []):
        if rc.get("mode") != "managed":
            continue
        change = Change(
            address=str(rc.get("address", "")),
            type=str(rc.get("type", "")),
            actions=tuple((rc.get("change") or {}).get("actions", [])),
        )
        summary.changes.append(change)
        if change.type in GUARDED_TYPES and change.destructive:
            summary.refusals.append(f"{change.address} would be {change.action}d (database of the global cluster)")
        if change.type == "aws_rds_cluster" and change.action == "update":
            before, after = _before(rc), _after(rc)
            if before.get("global_cluster_identifier") and not after.get("global_cluster_identifier"):
                summary.refusals.append(f"{change.address} would be detached from the global cluster")
        if change.type in ROUTE53_TYPES and change.destructive:
            summary.refusals.append(f"{change.address} would be {change.action}d (Route53 failover)")
        if (
            change.type == "aws_route53_record"
            and change.action in ("create", "update", "replace")
            and writer_region
        ):
            after = _after(rc)
            policy = after.get("failover_routing_policy") or []
            if policy and policy[0].get("type") == "PRIMARY" and after.get("set_identifier") != writer_region:
                summary.refusals.append(
                    f"{change.address} would make {after.get('set_identifier')} PRIMARY, "
                    f"but {writer_region} writes now"
                )
    return summary
