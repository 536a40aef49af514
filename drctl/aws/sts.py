"""STS reads: which account the credentials in use belong to."""

from __future__ import annotations

from typing import Any


def caller_account(sts: Any) -> str:
    """GetCallerIdentity: the account id of the credentials in use."""
    return str(sts.get_caller_identity()["Account"])
