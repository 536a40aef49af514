"""`drctl status --json`: the report as plain JSON with stable keys (documented in docs/status-json.md).

Adding keys is fine; renaming or removing one is a breaking change (bump SCHEMA_VERSION).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from drctl.models import HealthVerdict, RegionReport, Sample, StatusReport, Term

SCHEMA_VERSION = 2  # 2: rto_terms named like the run's recovery points; rto_milestones


def _health(v: HealthVerdict | None) -> str:
    if v is None or v.healthy is None:
        return "unknown"
    return "healthy" if v.healthy else "unhealthy"


def _when(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _value(s: Sample | None) -> float | None:
    return s.value if s is not None else None


def _age(s: Sample | None) -> float | None:
    return round(s.age_s, 1) if s is not None else None


def _term(t: Term) -> dict[str, Any]:
    return {"name": t.name, "seconds": t.seconds, "source": t.source, "estimate": t.estimate}


def region_dict(r: RegionReport) -> dict[str, Any]:
    lag = r.lag
    backlog = r.s3_backlog
    rep = r.replication
    backups = r.backups
    return {
        "role": r.role,
        "deployment_role": r.deployment_role,
        "reachable": r.reachable,
        "unreachable_reason": r.unreachable_reason,
        "cluster_id": r.cluster.cluster_id if r.cluster else (r.member.cluster_id if r.member else None),
        "cluster_status": r.cluster.status if r.cluster else None,
        "synchronization_status": r.member.synchronization_status if r.member else None,
        "write_forwarding_status": r.member.write_forwarding_status if r.member else None,
        "replication_lag_ms": _value(lag.replication_lag_ms) if lag else None,
        "replication_lag_age_s": _age(lag.replication_lag_ms) if lag else None,
        "rpo_lag_ms": _value(lag.rpo_lag_ms) if lag else None,
        "rpo_lag_age_s": _age(lag.rpo_lag_ms) if lag else None,
        "health": _health(r.health),
        "health_reason": r.health.reason if r.health else None,
        "health_check_id": r.health.check_id if r.health else None,
        "health_checks": [{"id": v.check_id, "health": _health(v), "reason": v.reason} for v in r.health_children],
        "serving": r.serving,
        "alb_healthy_targets": r.targets.healthy if r.targets else None,
        "alb_targets": r.targets.total if r.targets else None,
        "asg": (
            {
                "name": r.asg.name,
                "desired": r.asg.desired,
                "in_service": r.asg.in_service,
                "min": r.asg.min_size,
                "max": r.asg.max_size,
            }
            if r.asg
            else None
        ),
        "s3": (
            {
                "bucket": rep.bucket,
                "versioning": rep.versioning,
                "rule_id": rep.rule_id,
                "rule_status": rep.rule_status,
                "destination_bucket": rep.destination_bucket,
                "rtc": rep.rtc_enabled,
                "operations_pending": _value(backlog.operations_pending) if backlog else None,
                "bytes_pending": _value(backlog.bytes_pending) if backlog else None,
                "replication_latency_s": _value(backlog.replication_latency_s) if backlog else None,
            }
            if rep
            else None
        ),
        "backup": (
            {
                "vault": backups.vault,
                "latest_recovery_point_at": _when(
                    backups.latest_recovery_point.created if backups.latest_recovery_point else None
                ),
                "latest_copy_at": _when(
                    (backups.latest_copy.completed or backups.latest_copy.created) if backups.latest_copy else None
                ),
                "latest_copy_state": backups.latest_copy.state if backups.latest_copy else None,
            }
            if backups
            else None
        ),
        "sns_topic_exists": r.topic.exists if r.topic else None,
        "errors": list(r.errors),
        "owed_snapshots": list(r.owed_snapshots),
    }


def report_dict(report: StatusReport) -> dict[str, Any]:
    gc = report.global_cluster
    fs = gc.failover_state if gc else None
    return {
        "schema_version": SCHEMA_VERSION,
        "stack": report.stack_name,
        "generated_at": report.generated_at.isoformat(),
        "ready": report.ready,
        "reasons": list(report.reasons),
        "warnings": list(report.warnings),
        "writer_region": report.writer_region,
        "standalone_writers": list(report.standalone_writers),
        "serving_region": report.serving_region,
        "serving_reason": report.serving_reason,
        "route53_reachable": report.route53_reachable,
        "rpo_exposure_s": report.rpo_exposure_s,
        "rpo_objective_s": report.rpo_objective_s,
        "rpo_terms": [_term(t) for t in report.rpo_terms],
        "estimated_rto_s": report.estimated_rto_s,
        "rto_objective_s": report.rto_objective_s,
        "rto_terms": [_term(t) for t in report.rto_terms],
        "rto_milestones": [asdict(p) for p in report.rto_milestones],
        "max_switchover_lag_ms": report.max_switchover_lag_ms,
        "traffic_method": report.traffic_method,
        "not_covered": [asdict(g) for g in report.not_covered],
        "global_cluster": (
            {
                "id": gc.identifier,
                "status": gc.status,
                "engine_version": gc.engine_version,
                "failover_state": (
                    {
                        "status": fs.status,
                        "from_cluster_arn": fs.from_arn,
                        "to_cluster_arn": fs.to_arn,
                        "data_loss_allowed": fs.is_data_loss_allowed,
                    }
                    if fs
                    else None
                ),
            }
            if gc
            else None
        ),
        "regions": {name: region_dict(r) for name, r in report.regions.items()},
    }


def render_json(report: StatusReport) -> str:
    return json.dumps(report_dict(report), indent=2, sort_keys=False)
