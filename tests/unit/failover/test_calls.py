"""The dry run lists the very calls a run sends: compared call for call on a recording fake of the clients."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore import xform_name

from drctl.aws.calls import ApiCall
from drctl.failover import steps
from drctl.failover.context import Run
from drctl.failover.lock import RunLock
from drctl.failover.plan import PLANNED, Facts, Request, plan_calls
from drctl.stack import Stack, load_stack

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "stack.example.toml"


class Recorded:
    """A boto3-client look-alike: every method call is recorded as (service, region, method, params)."""

    def __init__(self, service: str, region: str, log: list[tuple[str, str, str, dict[str, Any]]]) -> None:
        self.service, self.region, self.log = service, region, log

    def __getattr__(self, method: str) -> Any:
        def call(**params: Any) -> dict[str, Any]:
            self.log.append((self.service, self.region, method, params))
            return {"ResponseMetadata": {"RequestId": f"req-{len(self.log)}"}}

        return call


class RecordingClients:
    def __init__(self) -> None:
        self.log: list[tuple[str, str, str, dict[str, Any]]] = []

    def client(self, service: str, region: str) -> Recorded:
        return Recorded(service, region, self.log)


def as_sent(call: ApiCall) -> tuple[str, str, str, dict[str, Any]]:
    return (call.service, call.region, xform_name(call.operation), call.params)


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.setenv("DRCTL_HOME", str(tmp_path))
    return load_stack(EXAMPLE)


def test_the_lock_calls_a_run_sends_are_the_ones_the_dry_run_lists(stack: Stack) -> None:
    target = stack.resolve_region("secondary")
    req = Request(to_region=target.name, from_region=stack.other(target.name).name, mode=PLANNED)
    clients = RecordingClients()
    lock = RunLock(stack, clients, target, "20261202T120000Z-ab12")

    listed = plan_calls(stack, req, Facts(), lock.item)
    lock.acquire()
    lock.release()

    by_op = {c.operation: c for c in listed if c.service == "dynamodb"}
    assert clients.log == [as_sent(by_op["PutItem"]), as_sent(by_op["DeleteItem"])]
    # The release is conditional on this run holding the lock, in the listing as in the call sent.
    release = clients.log[1][3]
    assert release["ConditionExpression"] == "run_id = :run"
    assert release["ExpressionAttributeValues"] == {":run": {"S": "20261202T120000Z-ab12"}}
    assert listed[0] is by_op["PutItem"] and listed[-1] is by_op["DeleteItem"]  # first and last


def test_the_flip_step_sends_what_the_dry_run_lists(stack: Stack) -> None:
    target = stack.resolve_region("secondary")
    req = Request(to_region=target.name, from_region=stack.other(target.name).name, mode=PLANNED)
    clients = RecordingClients()
    facts = Facts(target_drained=False)
    run = Run(
        stack=stack,
        req=req,
        clients=clients,
        single_shot=clients,
        journal=SimpleNamespace(append=lambda event: event),  # type: ignore[arg-type]  # milestones only
        run_id="20261202T120000Z-ab12",
        deadline=time.monotonic() + 60,
        progress=lambda _m: None,
        facts=facts,
    )
    result = steps.flip(run)
    listed = [c for c in plan_calls(stack, req, facts, None) if c.service == "cloudwatch"]
    assert [c[2] for c in clients.log] == ["put_metric_data", "set_alarm_state"]
    assert clients.log == [as_sent(c) for c in listed]
    assert [c["request_id"] for c in result["calls"]] == ["req-1", "req-2"]
