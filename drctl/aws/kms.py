"""KMS reads: is KMS usable in a region with the credentials in use."""

from __future__ import annotations

from typing import Any


def probe(kms: Any) -> None:
    """ListAliases (one): raises the AWS error when KMS cannot be used here."""
    kms.list_aliases(Limit=1)


def key_state(kms: Any, key_id: str) -> str:
    """DescribeKey: the key's KeyState (Enabled, Disabled, PendingDeletion, ...)."""
    return str(kms.describe_key(KeyId=key_id)["KeyMetadata"].get("KeyState", ""))
