"""The twin's hand-written seed creates the switch alarm exactly as terraform/ declares it, so the twin tests run
on the production switch settings (period, evaluation periods, datapoints to alarm, threshold, missing data)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from drctl.lab import seed

TF = Path(__file__).resolve().parents[3] / "terraform"
# Terraform argument of aws_cloudwatch_metric_alarm -> PutMetricAlarm parameter
ARGUMENTS = {
    "statistic": "Statistic",
    "period": "Period",
    "evaluation_periods": "EvaluationPeriods",
    "datapoints_to_alarm": "DatapointsToAlarm",
    "threshold": "Threshold",
    "comparison_operator": "ComparisonOperator",
    "treat_missing_data": "TreatMissingData",
    "namespace": "Namespace",
    "metric_name": "MetricName",
}


def hcl_block(text: str, header: str) -> dict[str, str]:
    """`key = value` lines of the top-level block that opens with `header` (values as written, comments cut)."""
    body = text.split(header + " {\n", 1)[1].split("\n}\n", 1)[0]
    found = {}
    for line in body.splitlines():
        m = re.match(r"^  (\w+)\s*=\s*(.+?)\s*(#.*)?$", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def terraform_switch_alarm() -> dict[str, Any]:
    block = hcl_block(
        (TF / "modules/region/monitoring.tf").read_text(), 'resource "aws_cloudwatch_metric_alarm" "switch"'
    )
    variables = (TF / "variables.tf").read_text().split('variable "switch" {', 1)[1].split("\n}\n", 1)[0]
    defaults = dict(re.findall(r'^\s+(\w+)\s*=\s*"([^"]*)"$', variables.split("default", 1)[1], re.MULTILINE))
    out: dict[str, Any] = {}
    for arg, api in ARGUMENTS.items():
        raw = block.get(arg)
        if raw is None:
            continue
        if raw.startswith("var.switch."):
            out[api] = defaults[raw.removeprefix("var.switch.")]
        elif raw.startswith('"'):
            out[api] = raw.strip('"')
        else:
            out[api] = float(raw) if api == "Threshold" else int(raw)
    dimension = re.fullmatch(r"\{ \(var\.switch\.(\w+)\) = var\.peer_region \}", block["dimensions"])
    assert dimension, block["dimensions"]
    out["DimensionName"] = defaults[dimension.group(1)]
    return out


class RecordingCloudWatch:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def put_metric_alarm(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {}


def test_the_seeded_switch_alarm_is_the_terraform_one() -> None:
    cw = RecordingCloudWatch()
    seed._switch_alarm(cw, "us-east-1", "us-west-2", {"sns_topic_arn": "arn:aws:sns:us-west-2:000000000000:t"})
    (sent,) = cw.calls
    tf = terraform_switch_alarm()
    assert tf["Period"] == 60 and tf["EvaluationPeriods"] == 1  # what the .tf says today (parsed, not assumed)
    assert {k: sent.get(k) for k in ARGUMENTS.values()} == {k: tf.get(k) for k in ARGUMENTS.values()}
    assert sent["Dimensions"] == [{"Name": tf["DimensionName"], "Value": "us-east-1"}]


def terraform_alarm(resource: str) -> tuple[dict[str, Any], str]:
    """PutMetricAlarm parameters of a literal aws_cloudwatch_metric_alarm block; its dimensions as written."""
    block = hcl_block(
        (TF / "modules/region/monitoring.tf").read_text(), f'resource "aws_cloudwatch_metric_alarm" "{resource}"'
    )
    out: dict[str, Any] = {}
    for arg, api in ARGUMENTS.items():
        raw = block.get(arg)
        if raw is not None:
            out[api] = raw.strip('"') if raw.startswith('"') else float(raw) if api == "Threshold" else int(raw)
    return out, block["dimensions"]


def test_the_seeded_app_health_alarms_are_the_terraform_ones() -> None:
    cw = RecordingCloudWatch()
    elb = "arn:aws:elasticloadbalancing:us-west-2:000000000000"
    web = {
        "alb_arn": f"{elb}:loadbalancer/app/drctl-lab-usw2/50dc6c495c0c9188",
        "target_group_arn": f"{elb}:targetgroup/drctl-lab-usw2/73e2d6bc24d8a067",
        "sns_topic_arn": "arn:aws:sns:us-west-2:000000000000:t",
    }
    names = seed._app_health_alarms(cw, "us-west-2", web)
    assert names == ["drctl-lab-usw2-alb-unhealthy-hosts", "drctl-lab-usw2-alb-5xx"]  # Terraform's naming
    sent = {c["AlarmName"]: c for c in cw.calls}
    lb = {"Name": "LoadBalancer", "Value": "app/drctl-lab-usw2/50dc6c495c0c9188"}  # the ARN suffixes
    tg = {"Name": "TargetGroup", "Value": "targetgroup/drctl-lab-usw2/73e2d6bc24d8a067"}
    for resource, name, dims, tf_dims in (
        (
            "unhealthy_hosts",
            names[0],
            [lb, tg],
            "{ LoadBalancer = aws_lb.this.arn_suffix, TargetGroup = aws_lb_target_group.this.arn_suffix }",
        ),
        ("alb_5xx", names[1], [lb], "{ LoadBalancer = aws_lb.this.arn_suffix }"),
    ):
        tf, written = terraform_alarm(resource)
        assert tf["TreatMissingData"] == "notBreaching"  # what the .tf says today (parsed, not assumed)
        assert {k: sent[name].get(k) for k in ARGUMENTS.values()} == {k: tf.get(k) for k in ARGUMENTS.values()}
        assert written == tf_dims
        assert sent[name]["Dimensions"] == dims
