"""Route53 control-plane changes: the `--flip-method invert` fallback (the control plane lives in us-east-1)."""

from __future__ import annotations

from typing import Any


def invert_params(health_check_id: str, inverted: bool) -> dict[str, Any]:
    return {"HealthCheckId": health_check_id, "Inverted": inverted}


def set_health_check_inverted(r53: Any, health_check_id: str, inverted: bool) -> dict[str, Any]:
    """Invert a region's record health check so Route53 stops (or resumes) answering with that record."""
    resp: dict[str, Any] = r53.update_health_check(**invert_params(health_check_id, inverted))
    return resp
