"""Route53 control-plane changes: the `--flip-method invert` fallback (the control plane lives in us-east-1)."""

from __future__ import annotations

from drctl.aws.calls import ApiCall
from drctl.aws.clients import GLOBAL_REGION


def set_health_check_inverted(health_check_id: str, inverted: bool) -> ApiCall:
    """Invert a region's record health check so Route53 stops (or resumes) answering with that record."""
    return ApiCall(
        "route53", GLOBAL_REGION, "UpdateHealthCheck", {"HealthCheckId": health_check_id, "Inverted": inverted}
    )
