"""DynamoDB changes: take and release the failover run lock with conditional writes."""

from __future__ import annotations

from typing import Any

from drctl.aws.dynamodb import LOCK_KEY, LockItem


def lock_put_params(table: str, item: LockItem, now: float) -> dict[str, Any]:
    return {
        "TableName": table,
        "Item": {
            LOCK_KEY: {"S": item.lock_id},
            "holder": {"S": item.holder},
            "pid": {"N": str(item.pid)},
            "run_id": {"S": item.run_id},
            "expires_at": {"N": f"{item.expires_at:.0f}"},
            "acquired_at": {"N": f"{item.acquired_at:.3f}"},
        },
        # Free, expired, or already ours (a resumed run takes its own lock back).
        "ConditionExpression": f"attribute_not_exists({LOCK_KEY}) OR expires_at < :now OR run_id = :run",
        "ExpressionAttributeValues": {":now": {"N": f"{now:.0f}"}, ":run": {"S": item.run_id}},
    }


def put_lock(ddb: Any, table: str, item: LockItem, now: float) -> dict[str, Any]:
    """Take the lock; raises ConditionalCheckFailedException when someone else holds it."""
    resp: dict[str, Any] = ddb.put_item(**lock_put_params(table, item, now))
    return resp


def release_lock(ddb: Any, table: str, lock_id: str, run_id: str) -> dict[str, Any]:
    """Delete the lock only if this run holds it (ConditionalCheckFailedException otherwise)."""
    resp: dict[str, Any] = ddb.delete_item(
        TableName=table,
        Key={LOCK_KEY: {"S": lock_id}},
        ConditionExpression="run_id = :run",
        ExpressionAttributeValues={":run": {"S": run_id}},
    )
    return resp


def break_lock(ddb: Any, table: str, lock_id: str) -> dict[str, Any]:
    """Delete the lock whoever holds it (`--break-lock`, after confirmation)."""
    resp: dict[str, Any] = ddb.delete_item(TableName=table, Key={LOCK_KEY: {"S": lock_id}})
    return resp
