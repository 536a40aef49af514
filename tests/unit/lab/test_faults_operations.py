"""Per-operation lab faults: `fail` answers InternalFailure without acting; `lose_answer` acts, then marks the
answer to be dropped by the server."""

from __future__ import annotations

import pytest

from drctl.lab.faults import DROP_HEADER, Faults, operations
from drctl.lab.http import LabRequest, LabResponse


def _req(operation: str) -> LabRequest:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    body = f"Action={operation}&Version=2014-10-31".encode()
    return LabRequest("POST", "/", {}, headers, body, "us-west-2", "us-west-2", "rds", operation, {})


def test_failing_and_lost_answers_per_operation() -> None:
    faults = Faults(("us-east-1", "us-west-2"))
    faults.set_operations(fail={"SwitchoverGlobalCluster"}, lose_answer={"FailoverGlobalCluster"})
    acted: list[str] = []

    def emulator(req: LabRequest) -> LabResponse:
        acted.append(req.operation)
        return LabResponse.xml(200, "<ok/>")

    failed = faults.inject_errors(_req("SwitchoverGlobalCluster"), emulator)
    assert failed.status == 500 and b"InternalFailure" in failed.body and acted == []

    lost = faults.inject_errors(_req("FailoverGlobalCluster"), emulator)
    assert acted == ["FailoverGlobalCluster"] and DROP_HEADER in lost.headers

    plain = faults.inject_errors(_req("DescribeGlobalClusters"), emulator)
    assert plain.status == 200 and DROP_HEADER not in plain.headers
    assert faults.status()["faults"]["lose_answer"] == ["FailoverGlobalCluster"]

    faults.clear()
    assert faults.inject_errors(_req("SwitchoverGlobalCluster"), emulator).status == 200
    assert faults.status()["faults"]["fail"] == []


@pytest.mark.parametrize("bad", ["FailoverGlobalCluster", ["Failover Global"], [1]])
def test_operation_lists_are_validated(bad: object) -> None:
    with pytest.raises(ValueError, match="operation names"):
        operations(bad)
