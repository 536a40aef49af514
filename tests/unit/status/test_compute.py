"""RPO/RTO arithmetic and the readiness rules, on hand-made readings (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from drctl.models import (
    AsgState,
    AuroraLag,
    GlobalCluster,
    GlobalMember,
    HealthCheck,
    HealthVerdict,
    RecordSet,
    S3Backlog,
    Sample,
    TargetHealth,
)
from drctl.stack import load_stack
from drctl.status.compute import readiness_reasons, rpo_terms, rto_terms
from drctl.status.estimates import CAPACITY_WARMUP_ESTIMATE_S, PROMOTION_ESTIMATE_S

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "stack.example.toml"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def stack():
    return load_stack(EXAMPLE)


def sample(value: float, age: float = 2.0) -> Sample:
    return Sample(value, NOW, age)


def lag(replication: float | None = 200.0, rpo: float | None = 300.0) -> AuroraLag:
    return AuroraLag(
        "payments-prod-usw2",
        "us-west-2",
        replication_lag_ms=sample(replication) if replication is not None else None,
        rpo_lag_ms=sample(rpo) if rpo is not None else None,
    )


def test_rpo_prefers_rpo_lag_then_replication_lag() -> None:
    assert rpo_terms(lag(200, 300), None)[0] == pytest.approx(0.3)
    assert rpo_terms(lag(200, None), None)[0] == pytest.approx(0.2)
    total, terms = rpo_terms(None, None)
    assert total is None and terms[0].seconds is None


def test_rpo_s3_latency_is_a_separate_term() -> None:
    backlog = S3Backlog(sample(5), sample(1024), sample(12.5))
    total, terms = rpo_terms(lag(200, 300), backlog)
    assert total == pytest.approx(0.3)
    assert [t.name for t in terms] == ["database", "s3 objects"] and terms[1].seconds == 12.5


def asg(in_service: int, desired: int | None = None) -> AsgState:
    return AsgState("g", desired if desired is not None else in_service, in_service, 1, 6)


def test_rto_is_detection_plus_ttl_plus_promotion_plus_warmup(stack) -> None:
    check = HealthCheck("alb", "HTTPS", request_interval_s=10, failure_threshold=3)
    record = RecordSet("app.", "CNAME", "secondary", "SECONDARY", "x", 30, "x")
    total, terms = rto_terms(stack, check, record, target_asg=asg(2), writer_asg=asg(2))
    assert [t.seconds for t in terms] == [30.0, 30.0, PROMOTION_ESTIMATE_S, 0.0]
    assert total == 60.0 + PROMOTION_ESTIMATE_S
    assert terms[2].estimate


def test_rto_falls_back_to_stack_values_and_adds_warmup_when_target_is_smaller(stack) -> None:
    total, terms = rto_terms(stack, None, None, target_asg=asg(1), writer_asg=asg(4))
    detection = stack.health_check_interval_s * stack.health_check_failure_threshold
    assert terms[0].seconds == detection and terms[1].seconds == stack.record_ttl_s
    assert terms[3].seconds == CAPACITY_WARMUP_ESTIMATE_S and terms[3].estimate
    assert total == detection + stack.record_ttl_s + PROMOTION_ESTIMATE_S + CAPACITY_WARMUP_ESTIMATE_S


def gc(sync: str | None = "connected", failover: bool = False) -> GlobalCluster:
    from drctl.models import FailoverState

    return GlobalCluster(
        "g",
        "available",
        "aurora-postgresql",
        "16.8",
        (
            GlobalMember("arn:aws:rds:us-east-1:1:cluster:a", "us-east-1", "a", True),
            GlobalMember("arn:aws:rds:us-west-2:1:cluster:b", "us-west-2", "b", False, sync),
        ),
        FailoverState("pending", None, None, False) if failover else None,
    )


def ready_kwargs(stack, **over):
    base = dict(
        stack=stack,
        gc=gc(),
        target="us-west-2",
        target_health=HealthVerdict("h", True, "ok"),
        lag=lag(200, 300),
        rpo_exposure_s=0.3,
        estimated_rto_s=300.0,
        targets=TargetHealth("tg", 2, 2),
        target_asg=asg(2),
        unreachable=[],
    )
    base.update(over)
    return base


def test_ready_when_every_rule_holds(stack) -> None:
    assert readiness_reasons(**ready_kwargs(stack)) == []


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"gc": None}, "writer unknown"),
        ({"gc": gc(sync="pending-resync")}, "pending-resync, not connected"),
        ({"gc": gc(failover=True)}, "in progress"),
        ({"target_health": HealthVerdict("h", False, "0/2 children healthy")}, "health check is not healthy"),
        ({"target_health": HealthVerdict("h", None, "unknown")}, "health check is not healthy"),
        ({"lag": lag(2500, 2500)}, "replication lag 2500 ms > max 1000 ms"),
        ({"lag": None}, "no replication lag sample"),
        ({"rpo_exposure_s": 6.0}, "RPO exposure 6s > objective 5s"),
        ({"estimated_rto_s": 601.0}, "estimated RTO 601s > objective 600s"),
        ({"targets": TargetHealth("tg", 0, 2)}, "no healthy ALB targets"),
        ({"targets": None}, "ALB target health in us-west-2 could not be read"),
        ({"target_asg": asg(1, desired=2)}, "1 of 2 instances in service"),
        ({"target_asg": None}, "could not be read"),
        ({"unreachable": ["us-east-1"]}, "us-east-1 is unreachable"),
        (  # found by bench/faults.py: a stack file naming other regions than AWS's ended in a KeyError
            {
                "gc": GlobalCluster(
                    "g",
                    "available",
                    "aurora-postgresql",
                    "16.8",
                    (GlobalMember("arn:aws:rds:us-east-2:1:cluster:a", "us-east-2", "a", True),),
                )
            },
            "the writer is in us-east-2, which the stack file does not list",
        ),
    ],
)
def test_each_broken_rule_gives_its_reason(stack, over, needle) -> None:
    reasons = readiness_reasons(**ready_kwargs(stack, **over))
    assert any(needle in r for r in reasons), reasons


def test_lag_exactly_at_the_bound_is_ready(stack) -> None:
    limit = stack.objectives.max_switchover_lag_ms
    assert readiness_reasons(**ready_kwargs(stack, lag=lag(limit, limit))) == []
