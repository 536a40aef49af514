"""S3 reads: versioning and the cross-region replication rule (with Replication Time Control)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from drctl.aws.errors import error_code
from drctl.models import S3Replication


def read_replication(s3: Any, bucket: str, rule_id: str = "") -> S3Replication:
    """The bucket's replication rule `rule_id` (or its first rule), RTC on/off, and versioning."""
    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    try:
        rules = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"].get("Rules", [])
    except ClientError as e:
        if error_code(e) != "ReplicationConfigurationNotFoundError":
            raise
        rules = []
    rule = next((r for r in rules if r.get("ID") == rule_id), None) if rule_id else None
    rule = rule or (rules[0] if rules else None)
    if rule is None:
        return S3Replication(bucket, versioning, None, None, None, rtc_enabled=False)
    dest = rule.get("Destination") or {}
    rtc = (dest.get("ReplicationTime") or {}).get("Status") == "Enabled"
    return S3Replication(
        bucket=bucket,
        versioning=versioning,
        rule_id=rule.get("ID"),
        rule_status=rule.get("Status"),
        destination_bucket=str(dest.get("Bucket", "")).rsplit(":", 1)[-1] or None,
        rtc_enabled=rtc,
    )


def bucket_names(s3: Any) -> list[str]:
    """ListBuckets: every bucket of the account."""
    return [str(b["Name"]) for b in s3.list_buckets().get("Buckets", [])]


def bucket_region(s3: Any, bucket: str) -> str:
    """GetBucketLocation: the bucket's region (an empty LocationConstraint means us-east-1)."""
    return str(s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1")


def replication_rules(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """GetBucketReplication: the bucket's rules ([] when it has no replication configuration)."""
    try:
        return list(s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"].get("Rules", []))
    except ClientError as e:
        if error_code(e) != "ReplicationConfigurationNotFoundError":
            raise
        return []
