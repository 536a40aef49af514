"""Twin behaviours that docs/fidelity.md cites and no other test proved (each names its ledger row)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import botocore.session
from botocore.parsers import create_parser

from drctl.lab.alarm_readback import AlarmReadback
from drctl.lab.health import HealthCheckStore, evaluate
from drctl.lab.http import LabRequest, LabResponse

REGIONS = ("us-east-1", "us-west-2")


@dataclass
class _World:
    regions: tuple[str, ...] = REGIONS

    def is_region_down(self, region: str) -> bool:
        return False

    def app_failing(self, region: str) -> bool:
        return False

    def alarm_state(self, region: str, name: str) -> str | None:
        return None


def test_endpoint_checks_get_the_documented_interval_and_threshold_defaults(tmp_path: Path) -> None:
    """T-5: RequestInterval defaults to 30 s and FailureThreshold to 3 when the caller names neither."""
    store = HealthCheckStore(tmp_path / "hc.json", time_scale=0)
    https, _ = store.create("a", {"Type": "HTTPS", "FullyQualifiedDomainName": "app.example.com"})
    assert https["HealthCheckConfig"]["RequestInterval"] == 30
    assert https["HealthCheckConfig"]["FailureThreshold"] == 3
    fast, _ = store.create(
        "b", {"Type": "HTTP", "IPAddress": "192.0.2.7", "RequestInterval": 10, "FailureThreshold": 1}
    )
    assert (fast["HealthCheckConfig"]["RequestInterval"], fast["HealthCheckConfig"]["FailureThreshold"]) == (10, 1)
    alarm, _ = store.create(
        "c", {"Type": "CLOUDWATCH_METRIC", "AlarmIdentifier": {"Region": "us-east-1", "Name": "sw"}}
    )
    assert "RequestInterval" not in alarm["HealthCheckConfig"]  # only endpoint checks are probed at an interval
    assert "FailureThreshold" not in alarm["HealthCheckConfig"]


def test_calculated_threshold_above_the_children_is_always_unhealthy() -> None:
    """T-8: HealthThreshold greater than the number of children: Route 53 always considers it unhealthy."""
    leaf = {"HealthCheckConfig": {"Type": "TCP", "IPAddress": "192.0.2.1"}, "Tags": {}}
    checks = {
        "a": leaf,
        "b": leaf,
        "over": {
            "HealthCheckConfig": {"Type": "CALCULATED", "ChildHealthChecks": ["a", "b"], "HealthThreshold": 3}
        },
    }
    assert evaluate("a", checks, _World()).healthy is True
    assert evaluate("over", checks, _World()).healthy is False


def _describe_alarms_over_query(answer: dict[str, Any]) -> dict[str, Any]:
    """DescribeAlarms as the Terraform provider sends it (query protocol), through the middleware."""
    seen: list[LabRequest] = []

    def emulator(req: LabRequest) -> LabResponse:
        seen.append(req)
        return LabResponse(200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(answer).encode())

    body = urlencode(
        {"Action": "DescribeAlarms", "Version": "2010-08-01", "AlarmNames.member.1": "drctl-lab-drain-us-east-1"}
    )
    req = LabRequest(
        "POST",
        "/",
        {},
        {"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
        body.encode(),
        "us-west-2",
        "us-west-2",
        "monitoring",
        "DescribeAlarms",
    )
    resp = AlarmReadback()(req, emulator)
    assert json.loads(seen[0].body) == {"AlarmNames": ["drctl-lab-drain-us-east-1"]}  # asked over JSON
    model = botocore.session.get_session().get_service_model("cloudwatch")
    shape = model.operation_model("DescribeAlarms").output_shape
    parsed: dict[str, Any] = create_parser("query").parse(
        {"status_code": resp.status, "headers": resp.headers, "body": resp.body}, shape
    )
    return parsed


def test_describe_alarms_over_query_keeps_period_dimensions_statistic_and_actions() -> None:
    """T-24: the alarm's full configuration reads back over the query protocol (MetricAlarm fields)."""
    alarm = {
        "AlarmName": "drctl-lab-drain-us-east-1",
        "Namespace": "drctl/Failover",
        "MetricName": "RegionDrained",
        "Dimensions": [{"Name": "Region", "Value": "us-east-1"}],
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "ignore",
        "AlarmActions": ["arn:aws:sns:us-west-2:000000000000:drctl-lab-dr"],
        "OKActions": ["arn:aws:sns:us-west-2:000000000000:drctl-lab-dr"],
        "ActionsEnabled": True,
        "StateValue": "OK",
        "StateUpdatedTimestamp": 1764680000.0,
    }
    got = _describe_alarms_over_query({"MetricAlarms": [alarm]})["MetricAlarms"][0]
    kept = ("Period", "Dimensions", "Statistic", "TreatMissingData", "AlarmActions", "OKActions", "StateValue")
    for key in kept:
        assert got[key] == alarm[key], key
    assert got["StateUpdatedTimestamp"].timestamp() == alarm["StateUpdatedTimestamp"]
