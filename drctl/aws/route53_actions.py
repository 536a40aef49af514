"""Route53 control-plane changes: the `--flip-method invert` fallback and the `health-check` traffic method's
record swap (the control plane lives in us-east-1)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from drctl.aws.calls import ApiCall
from drctl.aws.clients import GLOBAL_REGION


def set_health_check_inverted(health_check_id: str, inverted: bool) -> ApiCall:
    """Invert a region's record health check so Route53 stops (or resumes) answering with that record."""
    return ApiCall(
        "route53", GLOBAL_REGION, "UpdateHealthCheck", {"HealthCheckId": health_check_id, "Inverted": inverted}
    )


# HealthThreshold of a CALCULATED check: "If you specify a number greater than the number of child health
# checks, Route 53 always considers this health check to be unhealthy" (valid 0-256), whatever its children do —
# unlike Inverted, which also turns unhealthy into healthy
# (https://docs.aws.amazon.com/Route53/latest/APIReference/API_UpdateHealthCheck.html, HealthThreshold;
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-invert.html). 256 is the API's maximum
# and more than any stack's children (drctl's has 2).
UNMEETABLE_THRESHOLD = 256


def set_health_threshold(health_check_id: str, threshold: int) -> ApiCall:
    """Set a CALCULATED check's HealthThreshold: UNMEETABLE_THRESHOLD holds its record out of service even if
    its region later dies; the number of its children puts it back."""
    return ApiCall(
        "route53",
        GLOBAL_REGION,
        "UpdateHealthCheck",
        {"HealthCheckId": health_check_id, "HealthThreshold": threshold},
    )


def make_record_primary(zone_id: str, records: Sequence[dict[str, Any]], set_identifier: str) -> ApiCall | None:
    """One ChangeResourceRecordSets batch that makes the failover record `set_identifier` PRIMARY and the other
    SECONDARY, keeping each record's health check and values (None: it is PRIMARY already).

    Each record is DELETEd with the values just read and CREATEd with the other Failover value, in one batch:
    Route53 "either makes all or none of the changes in the change batch", and a DELETE must give "all the same
    values that you specified when you created it" — so a record changed since it was read fails the whole batch
    (InvalidChangeBatch) and nothing changes
    (https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html). Health checks
    are left alone: the new PRIMARY stays guarded by its endpoint check, and no check is Inverted (a dead region
    would read healthy) or Disabled (counted as healthy) (docs/fidelity.md D-29)."""
    failover = [r for r in records if r.get("Failover") in ("PRIMARY", "SECONDARY") and r.get("SetIdentifier")]
    target = next((r for r in failover if r["SetIdentifier"] == set_identifier), None)
    if target is None or target["Failover"] == "PRIMARY":
        return None
    changes: list[dict[str, Any]] = []
    for record in failover:
        changes.append({"Action": "DELETE", "ResourceRecordSet": copy.deepcopy(record)})
    for record in failover:
        swapped = copy.deepcopy(record)
        swapped["Failover"] = "PRIMARY" if record["SetIdentifier"] == set_identifier else "SECONDARY"
        changes.append({"Action": "CREATE", "ResourceRecordSet": swapped})
    return ApiCall(
        "route53",
        GLOBAL_REGION,
        "ChangeResourceRecordSets",
        {"HostedZoneId": zone_id, "ChangeBatch": {"Comment": "drctl failover", "Changes": changes}},
    )
