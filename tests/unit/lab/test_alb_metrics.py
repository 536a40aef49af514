"""The lab's AWS/ApplicationELB metrics (drctl/lab/signals.py) from its target-health model (capacity.py)."""

from __future__ import annotations

from typing import Any

import pytest

from drctl.lab.alarms import Period, decide
from drctl.lab.seed import APP_HEALTH_ALARMS
from drctl.lab.signals import Signals, alb_metric_data

ELB = "arn:aws:elasticloadbalancing:us-west-2:000000000000"
LB = f"{ELB}:loadbalancer/app/drctl-lab-usw2/50dc6c495c0c9188"
TG = f"{ELB}:targetgroup/drctl-lab-usw2/73e2d6bc24d8a067"
LB_DIM = {"Name": "LoadBalancer", "Value": "app/drctl-lab-usw2/50dc6c495c0c9188"}
TG_DIMS = [{"Name": "TargetGroup", "Value": "targetgroup/drctl-lab-usw2/73e2d6bc24d8a067"}, LB_DIM]


def by_name(data: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["MetricName"]: d for d in data}


def test_host_counts_per_target_group_and_load_balancer() -> None:
    got = by_name(alb_metric_data(LB, {TG: {"healthy": 2, "unhealthy": 1, "initial": 1}}, 60.0, False))
    assert got["HealthyHostCount"] == {
        "MetricName": "HealthyHostCount",
        "Dimensions": TG_DIMS,
        "Value": 2,
        "Unit": "Count",
    }
    assert got["UnHealthyHostCount"]["Value"] == 1 and got["UnHealthyHostCount"]["Dimensions"] == TG_DIMS
    assert set(got) == {"HealthyHostCount", "UnHealthyHostCount"}  # 5xx counts only when nonzero


def test_no_target_to_route_to_is_an_elb_503_for_every_request() -> None:
    for counts in ({"healthy": 0, "unhealthy": 0, "initial": 0}, {"healthy": 0, "unhealthy": 0, "initial": 2}):
        got = by_name(alb_metric_data(LB, {TG: counts}, 60.0, False))
        assert got["HTTPCode_ELB_5XX_Count"] == {
            "MetricName": "HTTPCode_ELB_5XX_Count",
            "Dimensions": [LB_DIM],
            "Value": 60.0,
            "Unit": "Count",
        }
        assert got["HTTPCode_ELB_503_Count"]["Value"] == 60.0
    assert "HTTPCode_ELB_5XX_Count" not in by_name(alb_metric_data(LB, {TG: counts}, 0.0, False))  # no requests


def test_all_unhealthy_fails_open_so_an_app_fault_is_target_5xx() -> None:
    got = by_name(alb_metric_data(LB, {TG: {"healthy": 0, "unhealthy": 2, "initial": 0}}, 60.0, True))
    assert "HTTPCode_ELB_5XX_Count" not in got
    assert got["HTTPCode_Target_5XX_Count"]["Value"] == 60.0


class FakeWorld:
    regions = ("us-east-1", "us-west-2")

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.put: list[tuple[str, str, list[dict[str, Any]]]] = []

    def is_region_down(self, region: str) -> bool:
        return region in self.down

    def app_failing(self, region: str) -> bool:
        return False

    def client(self, service: str, region: str) -> Any:
        assert service == "elbv2"
        return self

    def describe_load_balancers(self) -> dict[str, Any]:
        return {"LoadBalancers": [{"LoadBalancerArn": LB, "Type": "application"}]}

    def describe_listeners(self, LoadBalancerArn: str) -> dict[str, Any]:
        return {"Listeners": [{"DefaultActions": [{"Type": "forward", "TargetGroupArn": TG}]}]}


class FakeTargets:
    def __init__(self, **counts: int) -> None:
        self.counts = {"healthy": 0, "unhealthy": 0, "initial": 0, **counts}

    def target_counts(self, region: str, tg_arn: str) -> dict[str, int]:
        assert tg_arn == TG
        return self.counts


@pytest.mark.parametrize("time_scale", [1.0, 0.02])
def test_published_every_tick_for_regions_that_are_up_with_requests_in_aws_time(time_scale: float) -> None:
    world, targets = FakeWorld(), FakeTargets()
    signals = Signals(world, transitions=None, time_scale=time_scale, target_health=targets)  # type: ignore[arg-type]
    signals.put_metric_data = lambda region, ns, data: world.put.append((region, ns, data))
    world.down.add("us-east-1")
    out = signals.publish_alb()
    assert [(r, ns) for r, ns, _ in world.put] == [("us-west-2", "AWS/ApplicationELB")]
    # One lab tick (1 s) of the simulated 1 request per AWS second is 1 / time_scale requests.
    assert by_name(world.put[0][2])["HTTPCode_ELB_5XX_Count"]["Value"] == pytest.approx(1.0 / time_scale)
    assert out[0]["load_balancer"] == "app/drctl-lab-usw2/50dc6c495c0c9188"
    assert signals.view()["simulated"] is True


def test_the_terraform_alarms_evaluate_the_published_data_as_on_aws() -> None:
    """The lab's alarm clock decides on what the lab publishes: ALARM while the ALB answers 503 or hosts are
    unhealthy, OK once hosts are healthy (an empty period counts as not breaching, as the .tf says)."""
    unhealthy, five = APP_HEALTH_ALARMS["alb-unhealthy-hosts"], APP_HEALTH_ALARMS["alb-5xx"]
    minute_503 = 60.0  # one AWS minute of 1 request/s, all 503
    assert decide(five, [Period(60, minute_503, 1, 1)] * 3, "OK")[0] == "ALARM"
    assert decide(five, [Period(60, minute_503, 1, 1), None, None], "ALARM")[0] == "OK"  # 5xx stopped
    assert decide(unhealthy, [Period(60, 60, 1, 1)] * 2, "OK")[0] == "ALARM"
    assert decide(unhealthy, [Period(60, 60, 1, 1), Period(60, 0, 0, 0)], "ALARM")[0] == "OK"
    assert decide(unhealthy, [None, None], "INSUFFICIENT_DATA")[0] == "OK"
