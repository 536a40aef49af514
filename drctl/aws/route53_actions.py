"""Route53 control-plane changes: the `--flip-method invert` fallback (the control plane lives in us-east-1)."""

from __future__ import annotations

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
