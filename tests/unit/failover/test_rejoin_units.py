"""Pure parts of `drctl rejoin`: ids, the calls a dry run shows, the secondary's parameters, resume checks,
and a rejoin journal read back by the report model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drctl.aws import rds_actions
from drctl.errors import ConfigError
from drctl.failover import rejoin
from drctl.failover.rejoin import RejoinFacts, RejoinRequest
from drctl.journal.events import RunFinished, RunStarted, StepEnded, StepStarted
from drctl.journal.log import Journal, new_run_id
from drctl.report.model import build_model
from drctl.stack import load_stack

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "stack.example.toml"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DRCTL_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def stack() -> Any:
    return load_stack(EXAMPLE)


def facts_for(stack: Any, req: RejoinRequest, *, old_in_global: bool = True) -> RejoinFacts:
    old = stack.regions[req.old_region]
    return RejoinFacts(
        global_cluster_id=stack.global_cluster_id,
        writer_cluster_arn=stack.regions[req.writer_region].cluster_arn,
        old_cluster_id=old.cluster_id,
        old_cluster_arn=old.cluster_arn,
        old_in_global=old_in_global,
        engine="aurora-postgresql",
        engine_version="16.8",
        kms_key_id="arn:aws:kms:us-east-1:123456789012:key/east",
        snapshot_id=rejoin.snapshot_id_for(old.cluster_id, "20261129T121500Z-ab12"),
        old_config={
            "subnet_group": "db-east",
            "security_groups": ["sg-1"],
            "instances": [
                {"id": "r1", "class": "db.r6g.xlarge", "writer": False},
                {"id": "w1", "class": "db.r6g.large", "writer": True},
            ],
        },
    )


def test_snapshot_id_is_a_valid_manual_snapshot_id() -> None:
    snap = rejoin.snapshot_id_for("payments_use1", "20261129T121500Z-ab12")
    assert snap == "drctl-rejoin-payments-use1-20261129t121500z-ab12"
    assert snap[0].isalpha() and "--" not in snap and not snap.endswith("-")


def test_the_writer_must_be_a_region_of_the_stack(stack: Any) -> None:
    req = rejoin.request_for(stack, "secondary")
    assert (req.writer_region, req.old_region) == (stack.secondary.name, stack.primary.name)
    with pytest.raises(ConfigError, match="unknown region"):
        rejoin.request_for(stack, "eu-west-9")


def test_the_dry_run_lists_every_mutating_call_in_order(stack: Any) -> None:
    req = rejoin.request_for(stack, stack.secondary.name)
    calls = rejoin.plan_calls(stack, req, facts_for(stack, req), None)
    assert [c.operation for c in calls] == [
        "CreateDBClusterSnapshot",
        "RemoveFromGlobalCluster",
        "DeleteGlobalCluster",
        "CreateGlobalCluster",
        "DeleteDBInstance",
        "DeleteDBInstance",
        "DeleteDBCluster",
        "CreateDBCluster",
        "CreateDBInstance",
    ]
    by_op = {c.operation: c for c in calls}
    writer, old = stack.secondary, stack.primary
    assert by_op["CreateGlobalCluster"].region == writer.name
    assert by_op["CreateGlobalCluster"].params == {
        "GlobalClusterIdentifier": stack.global_cluster_id,
        "SourceDBClusterIdentifier": writer.cluster_arn,
    }
    assert {c.region for c in calls if c.operation != "CreateGlobalCluster"} == {old.name}
    assert by_op["DeleteDBCluster"].params["SkipFinalSnapshot"] is True
    # The new secondary's instance is the old writer instance's id and class.
    assert by_op["CreateDBInstance"].params["DBInstanceIdentifier"] == "w1"
    assert by_op["CreateDBInstance"].params["DBInstanceClass"] == "db.r6g.large"
    # Without the old cluster in the global database, there is nothing to remove.
    assert "RemoveFromGlobalCluster" not in [
        c.operation for c in rejoin.plan_calls(stack, req, facts_for(stack, req, old_in_global=False), None)
    ]


def test_the_secondary_is_encrypted_with_its_own_regions_key_and_configured_like_the_old_one() -> None:
    call = rds_actions.create_secondary_cluster(
        "us-east-1",
        "app-use1",
        "app-global",
        "aurora-postgresql",
        "16.8",
        "arn:aws:kms:us-east-1:1:key/k",
        {"subnet_group": "db", "security_groups": ["sg-1"], "parameter_group": "pg", "port": 5432},
    )
    params = call.params
    assert (call.operation, call.region) == ("CreateDBCluster", "us-east-1")
    assert params == {
        "DBClusterIdentifier": "app-use1",
        "GlobalClusterIdentifier": "app-global",
        "Engine": "aurora-postgresql",
        "EngineVersion": "16.8",
        "StorageEncrypted": True,
        "KmsKeyId": "arn:aws:kms:us-east-1:1:key/k",
        "DBSubnetGroupName": "db",
        "VpcSecurityGroupIds": ["sg-1"],
        "DBClusterParameterGroupName": "pg",
        "Port": 5432,
    }
    assert "MasterUserPassword" not in params  # a secondary inherits credentials: none in journals


def _journal(command: str) -> Journal:
    run_id = new_run_id()
    return Journal.create(
        RunStarted(
            run_id=run_id,
            request={"writer_region": "us-west-2", "old_region": "us-east-1"},
            from_region="us-east-1",
            to_region="us-west-2",
            mode=command,
            command=command,
        )
    )


def test_resume_refuses_an_unknown_or_foreign_run(home: Path) -> None:
    with pytest.raises(ConfigError, match="no run"):
        rejoin.open_for_resume("20260101T000000Z-0000")
    failover_run = _journal("failover")
    with pytest.raises(ConfigError, match="a failover run, not a rejoin") as e:
        rejoin.open_for_resume(failover_run.run_id)
    assert e.value.hint and "drctl failover --resume" in e.value.hint


def test_a_rejoin_journal_makes_a_report_and_a_report_model(home: Path) -> None:
    j = _journal("rejoin")
    j.append(StepStarted(step="reform"))
    call = {"operation": "CreateGlobalCluster", "service": "rds", "region": "us-west-2", "request_id": "r-1"}
    j.append(
        StepEnded(
            step="reform",
            outcome="ok",
            elapsed_s=0.5,
            calls=[call, {**call, "operation": "DescribeGlobalClusters"}],
        )
    )
    j.append(StepEnded(step="verify", outcome="ok", elapsed_s=0.1, result={"writer": "us-west-2", "split": False}))
    report = rejoin.build_report(j.read(), "completed", "done")
    assert [c["operation"] for c in report.calls] == ["CreateGlobalCluster"]
    assert report.to_json()["command"] == "rejoin" and report.verification["writer"] == "us-west-2"
    j.append(RunFinished(outcome="completed", report=report.to_json()))
    model = build_model(j.read())
    assert model.outcome == "completed" and model.after.writer == "us-west-2"
    assert [c.operation for c in model.calls] == ["CreateGlobalCluster"]
    json.dumps(report.to_json())
