"""`failover --only database|traffic`: which calls each part plans, and what it says (no AWS: pure logic)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from drctl.failover.lock import RunLock
from drctl.failover.plan import DATABASE_ONLY, PLANNED, TRAFFIC_ONLY, UNPLANNED, Facts, Request, plan_calls
from drctl.failover.preflight import traffic_stays_warning
from drctl.failover.render import dry_run_json, report_text
from drctl.failover.runner import DryRun, RunReport, _completed, _confirm_text
from drctl.stack import load_stack

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "stack.example.toml"


@pytest.fixture
def stack() -> Any:
    return load_stack(EXAMPLE)


def _req(only: str = "", mode: str = PLANNED, to: str = "us-west-2") -> Request:
    other = {"us-east-1": "us-west-2", "us-west-2": "us-east-1"}[to]
    return Request(to_region=to, from_region=other, mode=mode, only=only)


def _ops(stack: Any, req: Request, facts: Facts) -> list[str]:
    lock = RunLock(stack, object(), stack.regions[req.to_region], "r").item  # type: ignore[arg-type]
    return [c.operation for c in plan_calls(stack, req, facts, lock)]


def test_each_part_plans_only_its_own_calls(stack: Any) -> None:
    facts = Facts(wanted_capacity=4, target_desired=2, target_max=4, snapshots_to_keep=[])
    assert _ops(stack, _req(), facts) == [
        *("PutItem", "UpdateAutoScalingGroup", "SwitchoverGlobalCluster", "PutMetricData", "DeleteItem")
    ]
    # database: the promotion only (no scaling: traffic does not move, no flip)
    assert _ops(stack, _req(DATABASE_ONLY), facts) == ["PutItem", "SwitchoverGlobalCluster", "DeleteItem"]
    # traffic: capacity for the load and the flip, no promotion
    assert _ops(stack, _req(TRAFFIC_ONLY), facts) == [
        *("PutItem", "UpdateAutoScalingGroup", "PutMetricData", "DeleteItem")
    ]
    unplanned_db = _ops(stack, replace(_req(DATABASE_ONLY, UNPLANNED), allow_detach=True), facts)
    assert unplanned_db == ["PutItem", "FailoverGlobalCluster", "RemoveFromGlobalCluster", "DeleteItem"]


def test_snapshots_are_kept_only_by_a_run_that_promotes(stack: Any) -> None:
    facts = Facts(snapshots_to_keep=["rds:unplanned-global-failover-x"])
    back = "us-east-1"
    assert "CopyDBClusterSnapshot" in _ops(stack, _req(DATABASE_ONLY, to=back), facts)
    assert "CopyDBClusterSnapshot" not in _ops(stack, _req(TRAFFIC_ONLY, to=back), facts)


def test_traffic_only_leaves_a_source_that_is_drained_already(stack: Any) -> None:
    assert "PutMetricData" in _ops(stack, _req(TRAFFIC_ONLY), Facts(source_drained=False))
    assert _ops(stack, _req(TRAFFIC_ONLY), Facts(source_drained=True)) == ["PutItem", "DeleteItem"]
    # traffic back to the primary: un-drain it only if its switch is thrown
    back = _req(TRAFFIC_ONLY, to="us-east-1")
    assert _ops(stack, back, Facts(target_drained=True)) == ["PutItem", "PutMetricData", "DeleteItem"]
    assert _ops(stack, back, Facts(target_drained=False)) == ["PutItem", "DeleteItem"]


def test_parts_in_words_prompts_and_reports(stack: Any) -> None:
    assert _req().parts == "database and traffic"
    assert _req(DATABASE_ONLY).moves_database and not _req(DATABASE_ONLY).moves_traffic
    assert _req(TRAFFIC_ONLY).moves_traffic and not _req(TRAFFIC_ONLY).moves_database
    assert Request.from_dict(_req(TRAFFIC_ONLY).to_dict()).only == TRAFFIC_ONLY  # survives the journal
    text = _confirm_text(_req(DATABASE_ONLY), [])
    assert "(database only: promotion, no traffic change)" in text and "Traffic stays in us-east-1." in text
    forced = _confirm_text(replace(_req(TRAFFIC_ONLY, UNPLANNED), force_traffic=True), [])
    assert "--force-traffic" in forced and "WILL BE LOST" not in forced  # no promotion, no data loss

    warning = traffic_stays_warning(_req(DATABASE_ONLY))
    assert warning.startswith("--only database: traffic still goes to us-east-1")
    assert "read-only secondary" in warning and "--only traffic" in warning
    assert (
        _completed(_req(DATABASE_ONLY), {})
        == "us-west-2 writes; traffic still goes to us-east-1 (--only database)"
    )

    report = RunReport("r", "completed", "us-east-1", "us-west-2", PLANNED, only=TRAFFIC_ONLY)
    assert report.to_json()["only"] == "traffic" and report.to_json()["parts"] == {
        "database": False,
        "traffic": True,
    }
    assert RunReport("r", "completed", "a", "b", PLANNED).to_json()["only"] is None
    out = io.StringIO()
    report_text(report, out)
    assert "(traffic only: flip, no promotion)" in out.getvalue().splitlines()[0]


def test_the_dry_run_json_says_which_parts_would_run(stack: Any) -> None:
    import json

    out = io.StringIO()
    dry_run_json(DryRun(Facts(), [], req=_req(DATABASE_ONLY)), out)
    data = json.loads(out.getvalue())
    assert data["only"] == "database" and data["parts"] == {"database": True, "traffic": False}


def test_nothing_to_flip_is_a_no_op_only_when_the_switches_were_read(stack: Any) -> None:
    from drctl.failover.preflight import _nothing_to_flip

    there = Facts(source_drained=True, target_drained=False)
    _nothing_to_flip(stack, _req(TRAFFIC_ONLY), there)
    assert there.noop and there.noop_reason == (
        "traffic already goes to us-west-2: us-east-1's switch is thrown, us-west-2's switch is not thrown; "
        "nothing to flip"
    )
    # Traffic back to the primary in unplanned mode: its switch lives in the secondary's region, not called.
    unread = Facts(target_drained=None)
    _nothing_to_flip(stack, _req(TRAFFIC_ONLY, UNPLANNED, to="us-east-1"), unread)
    assert not unread.noop and "cannot tell whether us-east-1 is drained" in unread.refusals[0]
