"""The lab's load balancers' data plane (drctl/lab/albs.py): what an ALB answers, by the ELB docs, from the
capacity model's target health; listeners on the ALB's loopback addresses that close in an outage."""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from drctl.lab.albs import ELB_503_BODY, Answer, LabBackend, LoadBalancer, LoadBalancerServer, route
from drctl.lab.capacity import Capacity
from drctl.lab.dns import alb_addresses

REGION = "us-west-2"
ALB = f"arn:aws:elasticloadbalancing:{REGION}:000000000000:loadbalancer/app/web/1"
TG = f"arn:aws:elasticloadbalancing:{REGION}:000000000000:targetgroup/web/2"
DNS_NAME = f"web-1.{REGION}.elb.amazonaws.com."


@dataclass
class Durations:
    warmup_s: float = 0.0


@dataclass
class World:
    """The emulator calls the backend and capacity make, answered from fields."""

    regions: tuple[str, ...] = (REGION,)
    instances: list[str] = field(default_factory=lambda: ["i-1", "i-2"])
    durations: Durations = field(default_factory=Durations)
    down: bool = False
    failing: bool = False
    listeners: bool = True

    def is_region_down(self, region: str) -> bool:
        return self.down

    def app_failing(self, region: str) -> bool:
        return self.failing

    def client(self, service: str, region: str) -> Any:
        return self

    def describe_listeners(self, **_: Any) -> dict[str, Any]:
        if not self.listeners:
            return {"Listeners": []}
        return {"Listeners": [{"DefaultActions": [{"Type": "forward", "TargetGroupArn": TG}]}]}

    def describe_target_groups(self, **_: Any) -> dict[str, Any]:
        return {"TargetGroups": [{"TargetGroupArn": TG, "Port": 80, "HealthCheckPath": "/health"}]}

    def describe_target_health(self, **_: Any) -> dict[str, Any]:
        return {"TargetHealthDescriptions": []}  # nothing registered by hand: the ASG's instances only

    def describe_auto_scaling_groups(self, **_: Any) -> dict[str, Any]:
        insts = [{"InstanceId": i, "LifecycleState": "InService"} for i in self.instances]
        return {"AutoScalingGroups": [{"AutoScalingGroupName": "web", "Instances": insts}]}


@pytest.fixture
def world_backend(tmp_path: Path) -> tuple[World, Capacity, LabBackend]:
    world = World()
    capacity = Capacity(world, tmp_path / "capacity.json")
    capacity.links = {REGION: {"web": [TG]}}
    return world, capacity, LabBackend(world, capacity)


LB = LoadBalancer(REGION, ALB, DNS_NAME)


def test_route_follows_the_elb_troubleshooting_guide() -> None:
    assert route([("/health", ["unhealthy", "healthy"])]) == "healthy"  # only to the healthy targets
    assert route([("/health", [])]) == "no-targets"  # HTTP 503: no registered targets
    assert route([]) == "no-targets"
    assert route([("/health", ["unhealthy", "initial"])]) == "fail-open"  # only unhealthy: routed to them
    assert route([("/health", ["initial"])]) == "not-in-service"  # not in service before one passed check


def test_answers_from_the_capacity_models_target_health(world_backend) -> None:
    world, capacity, backend = world_backend
    assert capacity.target_counts(REGION, TG) == {"healthy": 2, "unhealthy": 0, "initial": 0}
    assert backend.answer(LB, "/health") == Answer(200, b"OK (lab target)\n", "target")
    assert backend.answer(LB, "/other").status == 404  # the lab's target serves its health check page only

    world.failing = True  # app fault: targets fail their checks with 503; the ALB fails open to them
    assert capacity.target_counts(REGION, TG) == {"healthy": 0, "unhealthy": 2, "initial": 0}
    assert backend.answer(LB, "/health") == Answer(
        503, b"Service Unavailable (lab target failing its health checks)\n", "target"
    )

    world.failing, world.instances = False, []  # no registered targets: the load balancer's own 503
    assert backend.answer(LB, "/health") == Answer(503, ELB_503_BODY, "elb")

    world.instances, world.durations.warmup_s = ["i-3"], 60.0  # just launched, still registering: not in service
    capacity._note_instances(REGION)
    assert capacity.target_counts(REGION, TG) == {"healthy": 0, "unhealthy": 0, "initial": 1}
    assert backend.answer(LB, "/health").status == 503

    world.listeners = False  # no listener: nothing accepts the request
    assert backend.answer(LB, "/health").close


class FakeBackend:
    def __init__(self) -> None:
        self.down = False
        self.lbs = [LB]

    def load_balancers(self) -> list[LoadBalancer]:
        return list(self.lbs)

    def is_region_down(self, region: str) -> bool:
        return self.down

    def answer(self, lb: LoadBalancer, path: str) -> Answer:
        return Answer(200, f"{lb.dns_name} {path}".encode(), "target")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(address: str, port: int) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(address, port, timeout=2)
    try:
        conn.request("GET", "/health", headers={"Host": "app.lab.drctl.test"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_listeners_on_the_alb_addresses_close_in_an_outage() -> None:
    backend = FakeBackend()
    server = LoadBalancerServer(free_port(), backend, refresh_s=60)
    server.start()
    try:
        status = server.status()
        if status["problems"]:
            pytest.fail(f"this OS would not bind the lab's 127/8 addresses: {status['problems']}")
        addresses = alb_addresses(DNS_NAME)
        assert status["listening"] == {DNS_NAME.rstrip("."): sorted(addresses)}
        assert all(a.startswith("127.") and a != "127.0.0.1" for a in addresses)
        for address in addresses:
            assert get(address, server.port) == (200, f"{DNS_NAME} /health".encode())
        with pytest.raises(ConnectionRefusedError):  # not on 127.0.0.1: only where the DNS points
            get("127.0.0.1", server.port)

        backend.down = True  # `drctl lab outage us-west-2`: the gateway refreshes at once
        server.refresh(reread=False)
        assert server.status()["listening"] == {}
        for address in addresses:
            with pytest.raises(ConnectionRefusedError):
                get(address, server.port)

        backend.down = False  # restored: listening again
        server.refresh(reread=False)
        assert get(addresses[0], server.port)[0] == 200

        backend.lbs = []  # deleted (or the lab reset): its listeners go
        server.refresh()
        assert server.status()["listening"] == {}
        with pytest.raises(ConnectionRefusedError):
            get(addresses[0], server.port)
    finally:
        server.stop()
    with pytest.raises(ConnectionRefusedError):
        get(alb_addresses(DNS_NAME)[0], server.port)
