"""Route53 health, computed the way Route53 does it (pure functions, unit-tested).

Real Route53 refuses GetHealthCheckStatus for CALCULATED checks, so their status is derived here from the
children: healthy when at least HealthThreshold children are healthy, then Inverted; a Disabled check is
always considered healthy (AWS: "Route 53 considers the status of the health check to always be healthy").
A leaf check's observations are taken as its status (Inverted already applied), as the lab reports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from drctl.models import HealthCheck, HealthVerdict, Observation, RecordSet

# "If more than 18% of health checkers report that an endpoint is healthy, Route 53 considers it healthy. If 18% of
# health checkers or fewer report that an endpoint is healthy, Route 53 considers it unhealthy."
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html
HEALTHY_SHARE = 0.18


def leaf_verdict(check: HealthCheck, observations: Sequence[Observation] | None) -> HealthVerdict:
    """A leaf check is healthy when more than 18 % of checkers report Success, as Route53 decides (None
    observations: status unreadable). Each checker's report already follows FailureThreshold consecutive
    results, so the latest report per checker is what counts."""
    if check.disabled:
        return HealthVerdict(check.id, True, "disabled (Route53 treats it as healthy)")
    if observations is None:
        return HealthVerdict(check.id, None, "status could not be read")
    if not observations:
        return HealthVerdict(check.id, None, "no checker observations yet")
    ok = sum(1 for o in observations if o.ok)
    healthy = ok > HEALTHY_SHARE * len(observations)
    reason = f"{ok}/{len(observations)} checkers report Success"
    if not healthy:
        failing = next((o.status for o in observations if not o.ok), "")
        if failing:
            reason += f" ({failing})"
    return HealthVerdict(check.id, healthy, reason)


def calculated_verdict(check: HealthCheck, children: Mapping[str, HealthVerdict]) -> HealthVerdict:
    """A CALCULATED check: healthy when ≥ HealthThreshold children are healthy; unknown children count as
    either way, so the result is None only when they could tip it."""
    if check.disabled:
        return HealthVerdict(check.id, True, "disabled (Route53 treats it as healthy)")
    threshold = check.health_threshold if check.health_threshold is not None else len(check.children)
    verdicts = [children.get(c) for c in check.children]
    healthy = sum(1 for v in verdicts if v is not None and v.healthy is True)
    unknown = sum(1 for v in verdicts if v is None or v.healthy is None)
    summary = f"{healthy}/{len(check.children)} children healthy, threshold {threshold}"
    failing = [v.check_id for v in verdicts if v is not None and v.healthy is False]
    if failing:
        summary += "; unhealthy: " + ", ".join(c[:8] for c in failing)  # short ids; full ones are in children
    if healthy >= threshold:
        return _invert(check, True, summary)
    if healthy + unknown < threshold:
        return _invert(check, False, summary)
    return HealthVerdict(check.id, None, summary + f"; {unknown} unknown")


def _invert(check: HealthCheck, healthy: bool, reason: str) -> HealthVerdict:
    if check.inverted:
        return HealthVerdict(check.id, not healthy, reason + " (inverted)")
    return HealthVerdict(check.id, healthy, reason)


@dataclass(frozen=True)
class ServingAnswer:
    """Which failover record Route53 would answer now, and why."""

    record: RecordSet | None
    reason: str


def serving_record(records: Sequence[RecordSet], verdicts: Mapping[str, HealthVerdict]) -> ServingAnswer:
    """Route53 failover routing: PRIMARY if healthy, else SECONDARY if healthy, else (all unhealthy) it
    fails open and answers PRIMARY. A record without a health check counts as healthy."""
    primary = next((r for r in records if r.failover == "PRIMARY"), None)
    secondary = next((r for r in records if r.failover == "SECONDARY"), None)
    if primary is None and secondary is None:
        plain = records[0] if records else None
        return ServingAnswer(plain, "no failover records" if plain is None else "not a failover record")
    p_health = _record_health(primary, verdicts)
    s_health = _record_health(secondary, verdicts)
    if primary is not None and p_health is True:
        return ServingAnswer(primary, "PRIMARY record's health check is healthy")
    if primary is not None and p_health is None:
        return ServingAnswer(None, "PRIMARY record's health is unknown")
    # The primary is unhealthy (or absent) from here on.
    if secondary is not None and s_health is True:
        return ServingAnswer(secondary, "PRIMARY is unhealthy; SECONDARY is healthy")
    if secondary is not None and s_health is None:
        return ServingAnswer(None, "PRIMARY is unhealthy; SECONDARY's health is unknown")
    if primary is not None:
        return ServingAnswer(primary, "both records are unhealthy: Route53 fails open and answers PRIMARY")
    return ServingAnswer(secondary, "no PRIMARY record; SECONDARY is unhealthy but the only answer")


def _record_health(record: RecordSet | None, verdicts: Mapping[str, HealthVerdict]) -> bool | None:
    if record is None:
        return False
    if not record.health_check_id:
        return True
    verdict = verdicts.get(record.health_check_id)
    return verdict.healthy if verdict is not None else None
