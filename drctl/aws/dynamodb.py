"""DynamoDB reads: the failover run lock (one item per stack in the target region's lock table)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LOCK_KEY = "lock_id"


@dataclass(frozen=True)
class LockItem:
    lock_id: str
    holder: str  # user@host
    pid: int
    run_id: str
    expires_at: float  # epoch seconds
    acquired_at: float


def lock_item_from_raw(raw: dict[str, Any]) -> LockItem:
    def s(k: str) -> str:
        return str(raw.get(k, {}).get("S", ""))

    def n(k: str) -> float:
        return float(raw.get(k, {}).get("N", "0"))

    return LockItem(s(LOCK_KEY), s("holder"), int(n("pid")), s("run_id"), n("expires_at"), n("acquired_at"))


def read_lock(ddb: Any, table: str, lock_id: str) -> LockItem | None:
    """The current lock item, or None when nobody holds the lock (consistent read)."""
    resp = ddb.get_item(TableName=table, Key={LOCK_KEY: {"S": lock_id}}, ConsistentRead=True)
    item = resp.get("Item")
    return lock_item_from_raw(item) if item else None
