"""DynamoDB changes: take and release the failover run lock with conditional writes."""

from __future__ import annotations

from drctl.aws.calls import ApiCall
from drctl.aws.dynamodb import LOCK_KEY, LockItem


def put_lock(region: str, table: str, item: LockItem, now: float) -> ApiCall:
    """Take the lock; fails with ConditionalCheckFailedException when someone else holds it."""
    return ApiCall(
        "dynamodb",
        region,
        "PutItem",
        {
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
        },
    )


def release_lock(region: str, table: str, lock_id: str, run_id: str) -> ApiCall:
    """Delete the lock only if this run holds it (ConditionalCheckFailedException otherwise)."""
    return ApiCall(
        "dynamodb",
        region,
        "DeleteItem",
        {
            "TableName": table,
            "Key": {LOCK_KEY: {"S": lock_id}},
            "ConditionExpression": "run_id = :run",
            "ExpressionAttributeValues": {":run": {"S": run_id}},
        },
    )


def break_lock(region: str, table: str, lock_id: str) -> ApiCall:
    """Delete the lock whoever holds it (`--break-lock`, after confirmation)."""
    return ApiCall("dynamodb", region, "DeleteItem", {"TableName": table, "Key": {LOCK_KEY: {"S": lock_id}}})
