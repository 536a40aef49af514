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
        f"<IsWriter>{'true' if arn == writer else 'false'}</IsWriter>"
        "<SynchronizationStatus>connected</SynchronizationStatus></GlobalClusterMember>"
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
    resync_s: float = 0.4
    retention_day_s: float = 0.3


@dataclass
class World:
    """The lab world as Transitions sees it: outages, the emulator's global members and snapshot calls."""

    durations: Durations = field(default_factory=Durations)
    down: set[str] = field(default_factory=set)
    emulator: Emulator | None = None
    retention_days: int = 2
    snapshots: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def is_region_down(self, region: str) -> bool:
        return region in self.down

    def global_members(self) -> list[tuple[str, str, bool]]:
        writer = self.emulator.writer if self.emulator else EAST
        return [("app-global", arn, arn == writer) for arn in (EAST, WEST)]

    def backup_retention_days(self, cluster_arn: str) -> int:
        return self.retention_days

    def create_cluster_snapshot(self, cluster_arn: str, snapshot_id: str) -> None:
        self.snapshots.append(snapshot_id)

    def delete_cluster_snapshot(self, region: str, snapshot_id: str) -> None:
        self.deleted.append(snapshot_id)


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


def _phases(middleware: Transitions, emulator: Emulator, until_s: float) -> list[str]:
    """FailoverState.Status as it changes, sampled every 50 ms ("" once it is cleared)."""
    seen: list[str] = []
    deadline = time.monotonic() + until_s
    while time.monotonic() < deadline:
        status = _describe(middleware, emulator).get("FailoverState", {}).get("Status", "")
        if not seen or seen[-1] != status:
            seen.append(status)
        time.sleep(0.05)
    return seen


def test_failover_state_goes_pending_then_the_operation_status_per_operation() -> None:
    emulator = Emulator()
    middleware = Transitions(World(emulator=emulator))
    middleware(
        _req("SwitchoverGlobalCluster", GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=WEST),
        emulator,
    )
    assert _phases(middleware, emulator, 0.6) == ["pending", "switching-over", ""]

    middleware(
        _req(
            "FailoverGlobalCluster",
            GlobalClusterIdentifier="app-global",
            TargetDbClusterIdentifier=EAST,
            AllowDataLoss="true",
        ),
        emulator,
    )
    gc = _describe(middleware, emulator)
    assert gc["FailoverState"]["IsDataLossAllowed"] is True and gc["FailoverState"]["FromDbClusterArn"] == WEST
    assert _phases(middleware, emulator, 0.6) == ["pending", "failing-over", ""]


def _sync(middleware: Transitions, emulator: Emulator, arn: str) -> str:
    gc = _describe(middleware, emulator)
    return str(next(m for m in gc["GlobalClusterMembers"] if m["DBClusterArn"] == arn)["SynchronizationStatus"])


def test_managed_failover_rebuilds_the_old_primary_once_its_region_answers_and_snapshots_it() -> None:
    emulator = Emulator()
    world = World(emulator=emulator, down={"us-east-1"})
    middleware = Transitions(world)
    params = {"GlobalClusterIdentifier": "app-global", "TargetDbClusterIdentifier": WEST, "AllowDataLoss": "true"}
    middleware(_req("FailoverGlobalCluster", **params), emulator)
    time.sleep(0.5)  # the failover completed; the old primary's region is still down
    assert _writer(_describe(middleware, emulator)) == WEST
    assert _sync(middleware, emulator, EAST) == "pending-resync" and world.snapshots == []
    assert middleware.is_resyncing(EAST)

    world.down.clear()  # the region answers: point-of-failure snapshot, then the rebuild
    assert _sync(middleware, emulator, EAST) == "pending-resync"
    assert len(world.snapshots) == 1 and world.snapshots[0].startswith("rds:unplanned-global-failover-app-east-")
    time.sleep(0.45)
    assert _sync(middleware, emulator, EAST) == "connected" and not middleware.is_resyncing(EAST)
    assert _sync(middleware, emulator, WEST) == "connected"

    # kept for the old primary's retention (2 days x 0.3 s), then deleted
    assert world.deleted == []
    time.sleep(0.25)
    middleware.tick()
    assert world.deleted == world.snapshots


def test_a_switchover_rebuilds_nothing() -> None:
    emulator = Emulator()
    world = World(emulator=emulator)
    middleware = Transitions(world)
    middleware(
        _req("SwitchoverGlobalCluster", GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=WEST),
        emulator,
    )
    time.sleep(0.45)
    assert _sync(middleware, emulator, EAST) == "connected" and world.snapshots == []


def _snapshots_response(*ids: str) -> LabResponse:
    snaps = "".join(
        f"<DBClusterSnapshot><DBClusterSnapshotIdentifier>{i}</DBClusterSnapshotIdentifier>"
        "<SnapshotType>manual</SnapshotType></DBClusterSnapshot>"
        for i in ids
    )
    return LabResponse.xml(
        200,
        f'<DescribeDBClusterSnapshotsResponse xmlns="{NS}"><DescribeDBClusterSnapshotsResult>'
        f"<DBClusterSnapshots>{snaps}</DBClusterSnapshots></DescribeDBClusterSnapshotsResult>"
        "</DescribeDBClusterSnapshotsResponse>",
    )


def test_the_unplanned_failover_snapshot_reads_as_automated_and_filters_as_such() -> None:
    emulator = Emulator()
    world = World(emulator=emulator, durations=Durations(failover_s=0, resync_s=0))
    middleware = Transitions(world)
    params = {"GlobalClusterIdentifier": "app-global", "TargetDbClusterIdentifier": WEST, "AllowDataLoss": "true"}
    middleware(_req("FailoverGlobalCluster", **params), emulator)
    middleware.tick()
    (ours,) = world.snapshots
    sent: list[LabRequest] = []

    def snapshots(req: LabRequest) -> LabResponse:
        sent.append(req)
        return _snapshots_response(ours, "kept-by-hand")

    def describe(**params: str) -> dict[str, str]:
        resp = middleware(_req("DescribeDBClusterSnapshots", **params), snapshots)
        parsed = _parse("DescribeDBClusterSnapshots", resp)["DBClusterSnapshots"]
        return {s["DBClusterSnapshotIdentifier"]: s["SnapshotType"] for s in parsed}

    assert describe() == {ours: "automated", "kept-by-hand": "manual"}
    assert describe(SnapshotType="automated") == {ours: "automated"}
    assert describe(SnapshotType="manual") == {"kept-by-hand": "manual"}


def _clusters_response() -> LabResponse:
    clusters = "".join(
        f"<DBCluster><DBClusterIdentifier>{arn.rsplit(':', 1)[-1]}</DBClusterIdentifier>"
        f"<DBClusterArn>{arn}</DBClusterArn><Status>available</Status><DBClusterMembers><DBClusterMember>"
        "<DBInstanceIdentifier>i-1</DBInstanceIdentifier><IsClusterWriter>true</IsClusterWriter>"
        "</DBClusterMember></DBClusterMembers></DBCluster>"
        for arn in (EAST, WEST)
    )
    return LabResponse.xml(
        200,
        f'<DescribeDBClustersResponse xmlns="{NS}"><DescribeDBClustersResult><DBClusters>{clusters}'
        "</DBClusters></DescribeDBClustersResult></DescribeDBClustersResponse>",
    )


def test_secondaries_have_no_writer_instance_and_a_detached_cluster_is_promoting_then_writable() -> None:
    emulator = Emulator()
    world = World(emulator=emulator)
    middleware = Transitions(world)

    def clusters() -> dict[str, tuple[str, bool]]:
        resp = middleware(_req("DescribeDBClusters"), lambda req: _clusters_response())
        return {
            c["DBClusterArn"]: (c["Status"], c["DBClusterMembers"][0]["IsClusterWriter"])
            for c in _parse("DescribeDBClusters", resp)["DBClusters"]
        }

    assert clusters() == {EAST: ("available", True), WEST: ("available", False)}

    def detach(req: LabRequest) -> LabResponse:  # the emulator detaches the named member
        op = req.operation
        return LabResponse.xml(
            200,
            f'<{op}Response xmlns="{NS}"><{op}Result><GlobalCluster>'
            "<GlobalClusterIdentifier>app-global</GlobalClusterIdentifier>"
            f"</GlobalCluster></{op}Result></{op}Response>",
        )

    world.global_members = lambda: [("app-global", EAST, True)]  # type: ignore[method-assign]
    middleware(
        _req("RemoveFromGlobalCluster", GlobalClusterIdentifier="app-global", DbClusterIdentifier=WEST), detach
    )
    assert clusters() == {EAST: ("available", True), WEST: ("promoting", False)}
    time.sleep(0.45)
    assert clusters() == {EAST: ("available", True), WEST: ("available", True)}


def test_a_failed_snapshot_attempt_still_rebuilds_and_never_fails_the_request() -> None:
    emulator = Emulator()
    world = World(emulator=emulator, durations=Durations(failover_s=0, resync_s=0.3))

    def refuse(cluster_arn: str, snapshot_id: str) -> None:
        raise RuntimeError("DBClusterNotFoundFault")

    world.create_cluster_snapshot = refuse  # type: ignore[method-assign]
    middleware = Transitions(world)
    params = {"GlobalClusterIdentifier": "app-global", "TargetDbClusterIdentifier": WEST, "AllowDataLoss": "true"}
    middleware(_req("FailoverGlobalCluster", **params), emulator)
    assert _sync(middleware, emulator, EAST) == "pending-resync"  # the describe answers despite the failure
    assert middleware.rebuild_view()["snapshots"] == []
    time.sleep(0.35)
    assert _sync(middleware, emulator, EAST) == "connected"
