"""Route53 reads: the stack's failover records, health-check configuration and checker observations.

Real Route53 refuses GetHealthCheckStatus for CALCULATED checks; drctl.status.health computes those from
their children. GetHealthCheckStatus goes through the process's one client-side token bucket
(drctl/aws/ratelimit.py, docs/fidelity.md D-15): AWS limits it per account to a burst of 4 and 1 per second
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html) and scopes it to
diagnosis ("It doesn't support production use-cases with high query rates",
https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetHealthCheckStatus.html).
"""

from __future__ import annotations

from typing import Any

from drctl.aws import ratelimit
from drctl.models import HealthCheck, Observation, RecordSet
from drctl.stack import Route53Api

HEALTH_STATUS_BUCKET = "route53:GetHealthCheckStatus"


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def list_failover_records(r53: Any, zone_id: str, record_name: str) -> list[RecordSet]:
    """The record sets named `record_name` in the zone (all types), in the order Route53 lists them."""
    return [_record(raw) for raw in read_record_sets(r53, zone_id, record_name)]


def read_record_sets(r53: Any, zone_id: str, record_name: str) -> list[dict[str, Any]]:
    """The record sets named `record_name`, as ListResourceRecordSets returns them (a DELETE must repeat every
    value exactly: https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html)."""
    want = _fqdn(record_name).lower()
    records: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"HostedZoneId": zone_id, "StartRecordName": want}
    # Records of one name are contiguous in the listing; stop at the first other name. Bounded pages.
    for _ in range(20):
        resp = r53.list_resource_record_sets(**kwargs)
        for raw in resp.get("ResourceRecordSets", []):
            if _fqdn(str(raw.get("Name", ""))).lower().replace("\\052", "*") != want:
                return records
            records.append(dict(raw))
        if not resp.get("IsTruncated"):
            break
        kwargs = {
            "HostedZoneId": zone_id,
            "StartRecordName": resp["NextRecordName"],
            "StartRecordType": resp.get("NextRecordType"),
            "StartRecordIdentifier": resp.get("NextRecordIdentifier"),
        }
        kwargs = {k: v for k, v in kwargs.items() if v}
    return records


def _record(raw: dict[str, Any]) -> RecordSet:
    alias = raw.get("AliasTarget")
    values = [str(r.get("Value", "")) for r in raw.get("ResourceRecords", [])]
    return RecordSet(
        name=str(raw.get("Name", "")),
        type=str(raw.get("Type", "")),
        set_identifier=raw.get("SetIdentifier"),
        failover=raw.get("Failover"),
        health_check_id=raw.get("HealthCheckId"),
        ttl_s=raw.get("TTL"),
        target=str(alias.get("DNSName", "")) if alias else (values[0] if values else ""),
        is_alias=bool(alias),
    )


def get_health_check(r53: Any, check_id: str) -> HealthCheck:
    """GetHealthCheck: type, children, threshold, inverted, disabled, alarm identifier."""
    raw = r53.get_health_check(HealthCheckId=check_id)["HealthCheck"]
    cfg = raw.get("HealthCheckConfig", {})
    alarm = cfg.get("AlarmIdentifier") or {}
    return HealthCheck(
        id=str(raw.get("Id", check_id)),
        type=str(cfg.get("Type", "")),
        fqdn=cfg.get("FullyQualifiedDomainName"),  # None for IP, CALCULATED and CLOUDWATCH_METRIC checks
        resource_path=cfg.get("ResourcePath"),
        request_interval_s=cfg.get("RequestInterval"),
        failure_threshold=cfg.get("FailureThreshold"),
        children=tuple(str(c) for c in cfg.get("ChildHealthChecks", []) if c),
        health_threshold=cfg.get("HealthThreshold"),
        inverted=bool(cfg.get("Inverted", False)),
        disabled=bool(cfg.get("Disabled", False)),
        alarm_name=alarm.get("Name"),
        alarm_region=alarm.get("Region"),
        insufficient_data_status=cfg.get("InsufficientDataHealthStatus"),
    )


def health_status_bucket(api: Route53Api | None = None) -> ratelimit.TokenBucket:
    """The process's one bucket for GetHealthCheckStatus, at the stack's `[route53]` rate (default Route53Api)."""
    api = api or Route53Api()
    return ratelimit.shared(HEALTH_STATUS_BUCKET, api.max_requests_per_s, api.burst)


def get_health_check_observations(
    r53: Any, check_id: str, api: Route53Api | None = None, *, deadline_s: float | None = None
) -> list[Observation]:
    """GetHealthCheckStatus: each checker's latest report (leaf checks only; CALCULATED is refused).

    Waits for a token of the shared bucket first; raises ratelimit.RateLimited (nothing sent) if that wait
    would be longer than `deadline_s`."""
    health_status_bucket(api).acquire(deadline_s=deadline_s, what=f"GetHealthCheckStatus {check_id}")
    resp = r53.get_health_check_status(HealthCheckId=check_id)
    return [
        Observation(
            region=str(o.get("Region", "")),
            status=str((o.get("StatusReport") or {}).get("Status", "")),
            checked_at=(o.get("StatusReport") or {}).get("CheckedTime"),
        )
        for o in resp.get("HealthCheckObservations", [])
    ]
