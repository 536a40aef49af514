"""Failover building blocks without the twin: journal, local lock, plan rules, RPO/RTO, promotion fallback."""

from __future__ import annotations

import io
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from drctl.errors import DrctlError, ExitCode
from drctl.failover import steps
from drctl.failover.lock import RunLock
from drctl.failover.measure import measure_rpo
from drctl.failover.plan import INVERT, PLANNED, UNPLANNED, Facts, Request, flip_calls, plan_calls
from drctl.failover.render import report_text
from drctl.failover.runner import RunReport
from drctl.stack import load_stack

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "stack.example.toml"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DRCTL_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def stack() -> Any:
    return load_stack(EXAMPLE)


# ------------------------------------------------------------------------------------------------- lock


def test_local_lock_stops_a_second_run_but_not_its_own_resume(home: Path, stack: Any) -> None:
    target = stack.regions["us-west-2"]
    no_table = type(target)(**{**target.__dict__, "lock_table": ""})  # local lock only
    first = RunLock(stack, object(), no_table, "20261129T121500Z-aaaa")  # type: ignore[arg-type]
    first.acquire()
    with pytest.raises(DrctlError) as e:
        RunLock(stack, object(), no_table, "20261129T121600Z-bbbb").acquire()  # type: ignore[arg-type]
    assert e.value.code == ExitCode.LOCKED and "20261129T121500Z-aaaa" in e.value.message
    RunLock(stack, object(), no_table, "20261129T121500Z-aaaa").acquire()  # type: ignore[arg-type]
    first.release()
    assert not first.local_path.exists()


# ------------------------------------------------------------------------------------------------- plan


def _req(to: str, mode: str = PLANNED, flip: str = "switch") -> Request:
    other = {"us-east-1": "us-west-2", "us-west-2": "us-east-1"}[to]
    return Request(to_region=to, from_region=other, mode=mode, flip_method=flip)


def test_failover_drains_the_source_from_the_target_region(stack: Any) -> None:
    calls = flip_calls(stack, _req("us-west-2"), target_drained=False)
    assert [(c.operation, c.region) for c in calls] == [
        ("PutMetricData", "us-west-2"),
        ("SetAlarmState", "us-west-2"),
    ]
    assert calls[0].params["MetricData"][0]["Dimensions"] == [{"Name": "Region", "Value": "us-east-1"}]
    assert calls[1].params["StateValue"] == "ALARM"


def test_failback_undrains_the_primary_and_leaves_the_secondary_record_alone(stack: Any) -> None:
    calls = flip_calls(stack, _req("us-east-1"), target_drained=True)
    assert [(c.operation, c.params.get("StateValue")) for c in calls] == [
        ("PutMetricData", None),
        ("SetAlarmState", "OK"),
    ]
    assert calls[0].params["MetricData"][0]["Value"] == 0


def test_invert_fallback_holds_the_source_out_with_an_unmeetable_threshold(stack: Any) -> None:
    calls = flip_calls(stack, _req("us-west-2", flip=INVERT), target_drained=False, target_inverted=False)
    primary = stack.primary.health_check_id
    # Never Inverted: an inverted check turns healthy again when its region dies.
    assert [(c.service, c.operation, c.params) for c in calls] == [
        ("route53", "UpdateHealthCheck", {"HealthCheckId": primary, "HealthThreshold": 256})
    ]
    back = flip_calls(
        stack, _req("us-east-1", flip=INVERT), target_drained=False, target_held_out=True, target_children=2
    )
    assert [c.params for c in back] == [{"HealthCheckId": primary, "HealthThreshold": 2}]
    # A check an older drctl inverted is put right on failback too.
    legacy = flip_calls(stack, _req("us-east-1", flip=INVERT), target_drained=False, target_inverted=True)
    assert [c.params for c in legacy] == [{"HealthCheckId": primary, "Inverted": False}]


def test_unplanned_plan_calls_only_the_target_region(stack: Any) -> None:
    facts = Facts(wanted_capacity=4, target_desired=2, target_max=3)
    lock = RunLock(stack, object(), stack.regions["us-west-2"], "r").item  # type: ignore[arg-type]
    calls = plan_calls(stack, _req("us-west-2", UNPLANNED), facts, lock)
    assert {c.region for c in calls} == {"us-west-2"}
    ops = [c.operation for c in calls]
    assert ops[0] == "PutItem" and ops[-1] == "DeleteItem"
    assert "FailoverGlobalCluster" in ops and "RemoveFromGlobalCluster" not in ops  # no detach without consent
    with_consent = plan_calls(stack, replace(_req("us-west-2", UNPLANNED), allow_detach=True), facts, lock)
    (detach,) = [c for c in with_consent if c.operation == "RemoveFromGlobalCluster"]
    assert detach.region == "us-west-2" and "only if" in detach.why
    assert detach.params["DbClusterIdentifier"] == stack.regions["us-west-2"].cluster_arn  # the named member
    scale = next(c for c in calls if c.operation == "UpdateAutoScalingGroup")
    assert scale.params == {"AutoScalingGroupName": "payments-prod-usw2", "DesiredCapacity": 4, "MaxSize": 4}


# ------------------------------------------------------------------------------------------------ measure


def test_rpo_planned_is_zero_with_evidence_and_unplanned_is_the_lag() -> None:
    lag = {
        "metric": "AuroraGlobalDBRPOLag",
        "value_ms": 2480.0,
        "timestamp": "2026-11-29T12:00:00+00:00",
        "age_s": 0.4,
        "cluster_id": "c",
        "region": "us-west-2",
    }
    planned = measure_rpo(PLANNED, {"lag": lag}, None)
    assert planned["rpo_s"] == 0.0 and "2480 ms" in planned["evidence"]
    unplanned = measure_rpo(UNPLANNED, {"lag": lag}, None)
    assert unplanned["rpo_s"] == 2.48 and "AuroraGlobalDBRPOLag" in unplanned["source"]
    assert measure_rpo(UNPLANNED, {"lag": None}, None)["rpo_s"] is None


def test_text_report_shows_phases_rpo_and_rto() -> None:
    report = RunReport(
        run_id="20261129T121500Z-ab12",
        outcome="completed",
        from_region="us-east-1",
        to_region="us-west-2",
        mode="planned",
        rpo={"rpo_s": 0.0, "source": "switchover", "evidence": "lag was 12 ms"},
        rto_s=7.25,
        rto_source="run clock",
        phases=[{"name": "promotion", "seconds": 5.0, "steps": ["promote"]}],
        critical_path_s=6.0,
    )
    out = io.StringIO()
    report_text(report, out)
    text = out.getvalue()
    assert (
        "promotion" in text and "RPO (measured): 0 s" in text and "RTO: 7.25 s" in text and "lag was 12 ms" in text
    )


# ------------------------------------------------------------------------------------ promotion (fakes)


def _client_error(code: str, op: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, op)


class FakeRds:
    """A target-region RDS whose global control path is down: detach-and-promote is the only way."""

    def __init__(self, arn: str) -> None:
        self.arn = arn
        self.sent: list[str] = []
        self.status = "available"

    def describe_global_clusters(self, **_: Any) -> dict[str, Any]:
        raise _client_error("InternalFailure", "DescribeGlobalClusters")

    def failover_global_cluster(self, **_: Any) -> dict[str, Any]:
        self.sent.append("FailoverGlobalCluster")
        raise _client_error("InternalFailure", "FailoverGlobalCluster")

    def remove_from_global_cluster(self, **kw: Any) -> dict[str, Any]:
        assert kw["DbClusterIdentifier"] == self.arn
        self.sent.append("RemoveFromGlobalCluster")
        self.status = "promoting"
        threading.Timer(0.3, lambda: setattr(self, "status", "available")).start()
        return {"ResponseMetadata": {"RequestId": "req-1"}}

    def describe_db_clusters(self, **_: Any) -> dict[str, Any]:
        return {"DBClusters": [{"DBClusterIdentifier": "c", "Status": self.status, "EngineVersion": "16.8"}]}


class FakeClients:
    def __init__(self, rds: FakeRds) -> None:
        self.rds = rds

    def client(self, service: str, region: str) -> Any:
        assert (service, region) == ("rds", "us-west-2"), (service, region)
        return self.rds


class FakeJournal:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.run_id = "r"

    def append(self, event: Any) -> Any:
        self.records.append(event.to_record())
        return event


def _run(stack: Any, clients: Any, journal: Any, **req: Any) -> steps.Run:
    return steps.Run(
        stack=stack,
        req=replace(_req("us-west-2", UNPLANNED), **req),
        clients=clients,
        single_shot=clients,
        journal=journal,
        run_id="20261129T121500Z-ab12",
        deadline=time.monotonic() + 20,
        progress=lambda _: None,
    )


@pytest.fixture
def quick_rereads(monkeypatch: pytest.MonkeyPatch) -> None:
    from drctl.failover import promote

    monkeypatch.setattr(promote, "REREAD_EVERY_S", 0.02)


def _window(stack: Any, seconds: float) -> Any:
    from drctl.stack import FailoverSettings

    return replace(stack, failover=FailoverSettings(detach_after_s=seconds))


def test_no_detach_without_consent_however_long_the_global_path_is_down(stack: Any, quick_rereads: None) -> None:
    rds = FakeRds(stack.regions["us-west-2"].cluster_arn)
    journal = FakeJournal()
    with pytest.raises(DrctlError) as e:
        steps.promote(_run(_window(stack, 0.3), FakeClients(rds), journal))
    assert e.value.code == ExitCode.FAILED and "--allow-detach" in (e.value.hint or "")
    assert "RemoveFromGlobalCluster" not in rds.sent and len(rds.sent) >= 2
    observed = [r for r in journal.records if r["event"] == "observed"]
    assert len(observed) >= 5 and all("no transition" in r["verdict"] for r in observed)


def test_with_consent_one_detach_only_after_rereads_over_the_window(stack: Any, quick_rereads: None) -> None:
    rds = FakeRds(stack.regions["us-west-2"].cluster_arn)
    journal = FakeJournal()
    started = time.monotonic()
    result = steps.promote(_run(_window(stack, 0.5), FakeClients(rds), journal, allow_detach=True))
    assert time.monotonic() - started >= 0.5
    assert rds.sent.count("RemoveFromGlobalCluster") == 1 and rds.sent[0] == "FailoverGlobalCluster"
    assert rds.sent.count("FailoverGlobalCluster") >= 2  # never one failed send
    assert result["detached"] is True
    assert [r["operation"] for r in journal.records if r["event"] == "sent"] == ["RemoveFromGlobalCluster"]
    decided = [r for r in journal.records if r["event"] == "observed" and r["what"] == "global path"]
    assert len(decided) == 1 and "detach" in decided[0]["verdict"]


class LostAnswerRds(FakeRds):
    """FailoverGlobalCluster is accepted (FailoverState appears, then the target writes) but the answer is lost."""

    def __init__(self, arn: str) -> None:
        super().__init__(arn)
        self.state: dict[str, Any] | None = None
        self.writer = "arn:aws:rds:us-east-1:111111111111:cluster:old"

    def describe_global_clusters(self, **_: Any) -> dict[str, Any]:
        members = [
            {"DBClusterArn": self.writer, "IsWriter": True},
            *([] if self.writer == self.arn else [{"DBClusterArn": self.arn, "IsWriter": False}]),
        ]
        if self.writer == self.arn:
            members.append({"DBClusterArn": "arn:aws:rds:us-east-1:111111111111:cluster:old", "IsWriter": False})
        gc = {"GlobalClusterIdentifier": "g", "Status": "available", "GlobalClusterMembers": members}
        if self.state:
            gc["FailoverState"] = self.state
        return {"GlobalClusters": [gc]}

    def failover_global_cluster(self, **kw: Any) -> dict[str, Any]:
        from botocore.exceptions import ReadTimeoutError

        self.sent.append("FailoverGlobalCluster")
        self.state = {"Status": "pending", "ToDbClusterArn": kw["TargetDbClusterIdentifier"]}

        def done() -> None:
            self.state, self.writer = None, self.arn

        threading.Timer(0.3, done).start()
        raise ReadTimeoutError(endpoint_url="https://rds.us-west-2.amazonaws.com")


def test_a_lost_answer_is_resolved_by_a_reread_and_never_sent_twice(stack: Any, quick_rereads: None) -> None:
    rds = LostAnswerRds(stack.regions["us-west-2"].cluster_arn)
    journal = FakeJournal()
    result = steps.promote(_run(stack, FakeClients(rds), journal, allow_detach=True))
    assert rds.sent == ["FailoverGlobalCluster"]
    assert result["detached"] is False and result["after"]["writer_region"] == "us-west-2"
    (sent,) = [r for r in journal.records if r["event"] == "sent"]
    assert sent["operation"] == "FailoverGlobalCluster" and sent["accepted"] == "seen on re-read"
    first_read = next(r for r in journal.records if r["event"] == "observed")
    assert first_read["state"]["transition_to_target"] is True


def test_promotion_already_sent_is_never_sent_again(stack: Any) -> None:
    rds = FakeRds(stack.regions["us-west-2"].cluster_arn)
    rds.status = "promoting"
    threading.Timer(0.3, lambda: setattr(rds, "status", "available")).start()
    clients = FakeClients(rds)
    run = steps.Run(
        stack=stack,
        req=_req("us-west-2", UNPLANNED),
        clients=clients,
        single_shot=clients,
        journal=FakeJournal(),  # type: ignore[arg-type]
        run_id="r",
        deadline=time.monotonic() + 10,
        progress=lambda _: None,
        promotion_sent_before=True,
        promotion_detached_before=True,
    )
    steps.promote(run)
    assert rds.sent == []


class FakeSnapshots:
    def __init__(self) -> None:
        self.snapshots = ["rds:unplanned-global-failover-payments-prod-use1-2026-11-29-12-00"]
        self.copies: list[dict[str, Any]] = []

    def describe_db_cluster_snapshots(self, **_: Any) -> dict[str, Any]:
        return {"DBClusterSnapshots": [{"DBClusterSnapshotIdentifier": s} for s in self.snapshots]}

    def copy_db_cluster_snapshot(self, **kw: Any) -> dict[str, Any]:
        self.copies.append(kw)
        self.snapshots.append(kw["TargetDBClusterSnapshotIdentifier"])
        return {}


def test_failback_keeps_the_snapshot_once(stack: Any) -> None:
    fake = FakeSnapshots()

    class Clients:
        def client(self, service: str, region: str) -> Any:
            assert (service, region) == ("rds", "us-east-1")
            return fake

    facts = Facts(snapshots_to_keep=[fake.snapshots[0]])
    run = steps.Run(
        stack=stack,
        req=_req("us-east-1"),
        clients=Clients(),
        single_shot=Clients(),
        journal=FakeJournal(),  # type: ignore[arg-type]
        run_id="20261129T121500Z-ab12",
        deadline=time.monotonic() + 10,
        progress=lambda _: None,
        facts=facts,
    )
    first = steps.keep_snapshots(run)
    again = steps.keep_snapshots(run)  # a resumed run does not copy twice
    assert len(fake.copies) == 1
    copy = fake.copies[0]
    assert copy["TargetDBClusterSnapshotIdentifier"] == "drctl-keep-ugf-payments-prod-use1-2026-11-29-12-00"
    assert {"Key": "drctl:run", "Value": "20261129T121500Z-ab12"} in copy["Tags"]
    assert [k["already"] for k in first["kept"] + again["kept"]] == [False, True]
