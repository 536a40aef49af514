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
