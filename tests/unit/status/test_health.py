"""Route53 health as drctl computes it: leaf majority, CALCULATED from children, failover answer."""

from __future__ import annotations

import pytest

from drctl.models import HealthCheck, HealthVerdict, Observation, RecordSet
from drctl.status.health import calculated_verdict, leaf_verdict, serving_record


def obs(*statuses: str) -> list[Observation]:
    return [Observation(region=f"r{i}", status=s) for i, s in enumerate(statuses)]


def calc(threshold: int = 2, *, inverted: bool = False, disabled: bool = False) -> HealthCheck:
    return HealthCheck(
        "calc", "CALCULATED", children=("a", "b"), health_threshold=threshold, inverted=inverted, disabled=disabled
    )


def v(check_id: str, healthy: bool | None) -> HealthVerdict:
    return HealthVerdict(check_id, healthy, "")


LEAF = HealthCheck("leaf", "HTTPS", fqdn=None)


@pytest.mark.parametrize(
    ("observations", "healthy"),
    [
        (obs("Success: 200", "Success: 200", "Failure: 503"), True),
        (obs("Success: 200", "Failure: 503"), True),  # 50 % > 18 %
        (obs("Failure: timeout", "Failure: timeout", "Success: 200"), True),  # 33 % > 18 %: not a majority
        (obs("Success: 200", "Success: 200", *["Failure: timeout"] * 6), True),  # 2 of 8 = 25 %: Route53 healthy
        (obs("Success: 200", *["Failure: timeout"] * 7), False),  # 1 of 8 = 12.5 %
        (obs("Success: 200", *["Failure: timeout"] * 10), False),  # 1 of 11 = 9 %
        (obs("Success: 200", *["Failure: timeout"] * 4), True),  # 1 of 5 = 20 % > 18 %
        (obs(*["Failure: timeout"] * 8), False),
        ([], None),
        (None, None),
    ],
)
def test_leaf_is_healthy_when_more_than_18_percent_of_checkers_report_success(observations, healthy) -> None:
    assert leaf_verdict(LEAF, observations).healthy is healthy


def test_unhealthy_leaf_reason_quotes_a_failing_checker() -> None:
    verdict = leaf_verdict(LEAF, obs("Failure: HTTP Status Code 503", "Failure: HTTP Status Code 503"))
    assert "0/2" in verdict.reason and "503" in verdict.reason


def test_disabled_leaf_is_healthy_without_observations() -> None:
    assert leaf_verdict(HealthCheck("leaf", "HTTPS", disabled=True), None).healthy is True


@pytest.mark.parametrize(
    ("a", "b", "threshold", "healthy"),
    [
        (True, True, 2, True),
        (True, False, 2, False),
        (True, False, 1, True),
        (False, False, 1, False),
        (True, None, 2, None),  # the unknown child decides: unknown
        (True, None, 1, True),  # already enough healthy children
        (False, None, 2, False),  # cannot reach the threshold even if the unknown one is healthy
    ],
)
def test_calculated_counts_healthy_children_against_threshold(a, b, threshold, healthy) -> None:
    assert calculated_verdict(calc(threshold), {"a": v("a", a), "b": v("b", b)}).healthy is healthy


def test_calculated_inverted_and_disabled() -> None:
    children = {"a": v("a", True), "b": v("b", True)}
    assert calculated_verdict(calc(inverted=True), children).healthy is False
    assert calculated_verdict(calc(disabled=True), {"a": v("a", False), "b": v("b", False)}).healthy is True


def test_calculated_missing_child_is_unknown_and_named_when_failing() -> None:
    assert calculated_verdict(calc(), {"a": v("a", True)}).healthy is None
    verdict = calculated_verdict(calc(), {"a": v("a", True), "b": v("b", False)})
    assert "unhealthy: b" in verdict.reason


def rec(failover: str, check: str | None) -> RecordSet:
    return RecordSet("app.", "A", failover.lower(), failover, check, 60, f"{failover}.elb")


RECORDS = [rec("PRIMARY", "p"), rec("SECONDARY", "s")]


@pytest.mark.parametrize(
    ("p", "s", "answer", "why"),
    [
        (True, True, "PRIMARY", "PRIMARY record's health check is healthy"),
        (False, True, "SECONDARY", "PRIMARY is unhealthy; SECONDARY is healthy"),
        (False, False, "PRIMARY", "fails open"),
        (True, False, "PRIMARY", "healthy"),
        (None, True, None, "unknown"),
        (False, None, None, "unknown"),
    ],
)
def test_serving_record_follows_route53_failover_rules(p, s, answer, why) -> None:
    got = serving_record(RECORDS, {"p": v("p", p), "s": v("s", s)})
    assert (got.record.failover if got.record else None) == answer
    assert why in got.reason


def test_record_without_health_check_counts_as_healthy() -> None:
    got = serving_record([rec("PRIMARY", None), rec("SECONDARY", "s")], {"s": v("s", True)})
    assert got.record is not None and got.record.failover == "PRIMARY"


def test_no_records() -> None:
    assert serving_record([], {}).record is None
