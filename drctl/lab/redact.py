"""Secrets never reach the lab's request log: parameters that carry one are replaced before it is written."""

from __future__ import annotations

from collections.abc import Mapping

_SENSITIVE = ("password", "secretstring", "secretbinary", "secretaccesskey", "sessiontoken", "privatekey")
REDACTED = "***"


def redact_params(params: Mapping[str, str]) -> dict[str, str]:
    """A copy of `params` with every value whose key names a secret replaced by ***."""
    return {k: (REDACTED if any(s in k.lower() for s in _SENSITIVE) else v) for k, v in params.items()}
