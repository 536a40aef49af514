"""Target health from ASG capacity, and the ASG -> target group links ministack drops."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
from botocore.parsers import create_parser

from drctl.lab.capacity import AS_NS, ELB_NS, Capacity
from drctl.lab.http import LabRequest, LabResponse

REGION = "us-west-2"
TG = f"arn:aws:elasticloadbalancing:{REGION}:000000000000:targetgroup/app/abc"


@dataclass
class Durations:
    warmup_s: float = 0.3


@dataclass
class World:
    instances: list[str] = field(default_factory=list)
    durations: Durations = field(default_factory=Durations)
    down: bool = False
    failing: bool = False

    def is_region_down(self, region: str) -> bool:
        return self.down

    def app_failing(self, region: str) -> bool:
        return self.failing

    def client(self, service: str, region: str) -> Any:
        return self

    # the two emulator calls capacity makes (autoscaling, elbv2)
    def describe_auto_scaling_groups(self, **_: Any) -> dict[str, Any]:
        insts = [{"InstanceId": i, "LifecycleState": "InService"} for i in self.instances]
        return {"AutoScalingGroups": [{"AutoScalingGroupName": "app", "Instances": insts}]}

    def describe_target_groups(self, **_: Any) -> dict[str, Any]:
        return {"TargetGroups": [{"TargetGroupArn": TG, "Port": 8080}]}


def emulator(req: LabRequest) -> LabResponse:
    """ministack: empty ASG descriptions of target groups; only hand-registered targets, always healthy."""
    if req.operation == "DescribeTargetHealth":
        body = (
            "<member><Target><Id>10.0.0.5</Id><Port>9000</Port></Target><HealthStatus>healthy</HealthStatus>"
            "<TargetHealth><State>healthy</State></TargetHealth></member>"
        )
        return LabResponse.xml(
            200,
            f'<DescribeTargetHealthResponse xmlns="{ELB_NS}"><DescribeTargetHealthResult>'
            f"<TargetHealthDescriptions>{body}</TargetHealthDescriptions>"
            "</DescribeTargetHealthResult></DescribeTargetHealthResponse>",
        )
    if req.operation == "DescribeAutoScalingGroups":
        group = (
            "<member><AutoScalingGroupName>app</AutoScalingGroupName><DesiredCapacity>1</DesiredCapacity></member>"
        )
        return LabResponse.xml(
            200,
            f'<DescribeAutoScalingGroupsResponse xmlns="{AS_NS}"><DescribeAutoScalingGroupsResult>'
            f"<AutoScalingGroups>{group}</AutoScalingGroups>"
            "</DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>",
        )
    assert req.operation not in ("AttachLoadBalancerTargetGroups", "DetachLoadBalancerTargetGroups")
    return LabResponse.xml(200, f"<{req.operation}Response/>")


def _req(service: str, operation: str, **params: str) -> LabRequest:
    return LabRequest("POST", "/", {}, {}, b"", REGION, REGION, service, operation, dict(params))


def _parse(service: str, operation: str, resp: LabResponse) -> dict[str, Any]:
    model = botocore.session.get_session().get_service_model(service)
    raw = {"body": resp.body, "headers": resp.headers, "status_code": resp.status}
    parsed: dict[str, Any] = create_parser("query").parse(raw, model.operation_model(operation).output_shape)
    return parsed


def _health(capacity: Capacity) -> list[tuple[str, int, str]]:
    resp = capacity(_req("elasticloadbalancing", "DescribeTargetHealth", TargetGroupArn=TG), emulator)
    rows = _parse("elbv2", "DescribeTargetHealth", resp)["TargetHealthDescriptions"]
    return sorted((r["Target"]["Id"], r["Target"]["Port"], r["TargetHealth"]["State"]) for r in rows)


def test_asg_instances_warm_up_then_follow_app_faults_and_outages(tmp_path: Path) -> None:
    world = World(instances=["i-1"])
    capacity = Capacity(world, tmp_path / "capacity.json")
    capacity(
        _req(
            "autoscaling", "CreateAutoScalingGroup", AutoScalingGroupName="app", **{"TargetGroupARNs.member.1": TG}
        ),
        emulator,
    )
    assert _health(capacity) == [("10.0.0.5", 9000, "healthy"), ("i-1", 8080, "initial")]
    time.sleep(0.35)
    assert _health(capacity) == [("10.0.0.5", 9000, "healthy"), ("i-1", 8080, "healthy")]
    world.instances.append("i-2")
    capacity(_req("autoscaling", "SetDesiredCapacity", AutoScalingGroupName="app", DesiredCapacity="2"), emulator)
    assert [s for _, _, s in _health(capacity)] == ["healthy", "healthy", "initial"]
    time.sleep(0.35)
    world.failing = True
    assert {s for _, _, s in _health(capacity)} == {"unhealthy"}
    world.failing, world.down = False, True
    assert {s for _, _, s in _health(capacity)} == {"unhealthy"}


def test_links_are_answered_by_the_lab_shown_in_describe_and_persisted(tmp_path: Path) -> None:
    world = World(instances=["i-1"])
    capacity = Capacity(world, tmp_path / "capacity.json")
    resp = capacity(
        _req(
            "autoscaling",
            "AttachLoadBalancerTargetGroups",
            AutoScalingGroupName="app",
            **{"TargetGroupARNs.member.1": TG},
        ),
        emulator,
    )
    assert resp.status == 200
    restarted = Capacity(world, tmp_path / "capacity.json")
    described = restarted(_req("autoscaling", "DescribeAutoScalingGroups"), emulator)
    assert _parse("autoscaling", "DescribeAutoScalingGroups", described)["AutoScalingGroups"][0][
        "TargetGroupARNs"
    ] == [TG]
    assert [t for t, _, _ in _health(restarted)] == ["10.0.0.5", "i-1"]
    restarted(
        _req(
            "autoscaling",
            "DetachLoadBalancerTargetGroups",
            AutoScalingGroupName="app",
            **{"TargetGroupARNs.member.1": TG},
        ),
        emulator,
    )
    assert [t for t, _, _ in _health(restarted)] == ["10.0.0.5"]
