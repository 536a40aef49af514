"""Transition durations: the lab shows AWS's transitional state after the emulator's instant switchover."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.parsers import create_parser

from drctl.lab.http import LabRequest, LabResponse
from drctl.lab.transitions import Transitions

EAST = "arn:aws:rds:us-east-1:000000000000:cluster:app-east"
WEST = "arn:aws:rds:us-west-2:000000000000:cluster:app-west"
NS = "http://rds.amazonaws.com/doc/2014-10-31/"


def _global_cluster(writer: str, failover_state: str = "", status: str = "available") -> str:
    members = "".join(
        f"<GlobalClusterMember><DBClusterArn>{arn}</DBClusterArn><Readers></Readers>"
        f"<IsWriter>{'true' if arn == writer else 'false'}</IsWriter></GlobalClusterMember>"
        for arn in (EAST, WEST)
    )
    return (
        f"<GlobalClusterIdentifier>app-global</GlobalClusterIdentifier><Status>{status}</Status>"
        f"{failover_state}<GlobalClusterMembers>{members}</GlobalClusterMembers>"
    )


def _state(src: str, dst: str, data_loss: bool) -> str:
    return (
        f"<FailoverState><Status>pending</Status><FromDbClusterArn>{src}</FromDbClusterArn>"
        f"<ToDbClusterArn>{dst}</ToDbClusterArn><IsDataLossAllowed>{str(data_loss).lower()}</IsDataLossAllowed>"
        "</FailoverState>"
    )


@dataclass
class Emulator:
    """Answers like ministack 1.5.33: the switch is complete at once; the response shows it as pending."""

    writer: str = EAST
    calls: list[str] = field(default_factory=list)

    def __call__(self, req: LabRequest) -> LabResponse:
        self.calls.append(req.operation)
        if req.operation in ("SwitchoverGlobalCluster", "FailoverGlobalCluster"):
            if req.params["TargetDbClusterIdentifier"] == self.writer:
                return LabResponse.xml(
                    400,
                    "<ErrorResponse><Error><Code>InvalidGlobalClusterStateFault</Code>"
                    "<Message>no secondary</Message></Error></ErrorResponse>",
                )
            data_loss = req.params.get("AllowDataLoss") == "true"
            src, self.writer = self.writer, req.params["TargetDbClusterIdentifier"]
            status = "failing-over" if data_loss else "switching-over"
            body = _global_cluster(src, _state(src, self.writer, data_loss), status)
            op = req.operation
            return LabResponse.xml(
                200,
                f'<{op}Response xmlns="{NS}"><{op}Result><GlobalCluster>{body}'
                f"</GlobalCluster></{op}Result></{op}Response>",
            )
        gc = _global_cluster(self.writer)
        body = f"<GlobalClusters><GlobalClusterMember>{gc}</GlobalClusterMember></GlobalClusters>"
        return LabResponse.xml(
            200,
            f'<DescribeGlobalClustersResponse xmlns="{NS}"><DescribeGlobalClustersResult>'
            f"{body}</DescribeGlobalClustersResult></DescribeGlobalClustersResponse>",
        )


@dataclass
class Durations:
    switchover_s: float = 0.4
    failover_s: float = 0.4
    promote_s: float = 0.4


@dataclass
class World:
    durations: Durations = field(default_factory=Durations)


def _req(operation: str, **params: str) -> LabRequest:
    return LabRequest("POST", "/", {}, {}, b"", "us-west-2", "us-west-2", "rds", operation, dict(params))


_RDS = botocore.session.get_session().get_service_model("rds")


def _parse(operation: str, resp: LabResponse) -> dict[str, Any]:
    """Through botocore's own parser, as drctl would see it."""
    shape = _RDS.operation_model(operation).output_shape
    raw = {"body": resp.body, "headers": resp.headers, "status_code": resp.status}
    parsed: dict[str, Any] = create_parser("query").parse(raw, shape)
    return parsed


def _describe(middleware: Transitions, emulator: Emulator) -> dict[str, Any]:
    resp = middleware(_req("DescribeGlobalClusters"), emulator)
    gc: dict[str, Any] = _parse("DescribeGlobalClusters", resp)["GlobalClusters"][0]
    return gc


def _writer(gc: dict[str, Any]) -> str:
    return str(next(m["DBClusterArn"] for m in gc["GlobalClusterMembers"] if m["IsWriter"]))


def test_switchover_shows_old_writer_and_failover_state_until_the_duration_ends() -> None:
    emulator, middleware = Emulator(), Transitions(World())
    resp = middleware(
        _req("SwitchoverGlobalCluster", GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=WEST),
        emulator,
    )
    assert resp.status == 200 and emulator.writer == WEST  # forwarded at once: completes even if the client dies

    gc = _describe(middleware, emulator)
    assert gc["Status"] == "switching-over" and _writer(gc) == EAST
    assert gc["FailoverState"] == {
        "Status": "pending",
        "FromDbClusterArn": EAST,
        "ToDbClusterArn": WEST,
        "IsDataLossAllowed": False,
    }
    assert middleware.apparent_writer("app-global") == EAST
    time.sleep(0.45)
    gc = _describe(middleware, emulator)
    assert gc["Status"] == "available" and _writer(gc) == WEST and "FailoverState" not in gc
    assert middleware.apparent_writer("app-global") is None


def test_a_second_switch_during_the_transition_is_refused_without_reaching_the_emulator() -> None:
    emulator, middleware = Emulator(), Transitions(World())
    params = {"GlobalClusterIdentifier": "app-global", "TargetDbClusterIdentifier": WEST, "AllowDataLoss": "true"}
    middleware(_req("FailoverGlobalCluster", **params), emulator)
    assert _describe(middleware, emulator)["Status"] == "failing-over"
    resp = middleware(
        _req("SwitchoverGlobalCluster", GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=EAST),
        emulator,
    )
    assert resp.status == 400 and b"InvalidGlobalClusterStateFault" in resp.body
    assert emulator.calls.count("SwitchoverGlobalCluster") == 0


def test_emulator_refusals_pass_through_and_start_nothing() -> None:
    emulator, middleware = Emulator(), Transitions(World())
    resp = middleware(
        _req("SwitchoverGlobalCluster", GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=EAST),
        emulator,
    )
    assert resp.status == 400
    assert middleware.view() == [] and _describe(middleware, emulator)["Status"] == "available"


def test_zero_duration_means_instant() -> None:
    emulator, middleware = Emulator(), Transitions(World(Durations(switchover_s=0)))
    middleware(
        _req("SwitchoverGlobalCluster", GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=WEST),
        emulator,
    )
    assert _writer(_describe(middleware, emulator)) == WEST
