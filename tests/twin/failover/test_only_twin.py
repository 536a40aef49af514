"""`drctl failover --only database|traffic` on the twin: each part alone, its guards, and AWS read back (boto3)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from failover_helpers import (
    GLOBAL_ID,
    drctl,
    failover,
    finish,
    lab_healthy,
    mutations,
    promotions,
    run_id_of,
    writer_region,
)

from drctl.cli.app import run
from drctl.errors import ExitCode
from drctl.journal.log import RunLog
from drctl.stack import load_stack

pytestmark = [pytest.mark.twin]
LOCK_ONLY = {("dynamodb", "PutItem"), ("dynamodb", "DeleteItem")}  # the run lock's write and release


def switch_state(twin: Any, stack: Path, drained: str = "us-east-1") -> str:
    """The drained region's switch alarm, read from CloudWatch where it lives (the other region)."""
    region = load_stack(stack).regions[drained]
    cw = twin.client("cloudwatch", region.switch_alarm_region)
    (alarm,) = cw.describe_alarms(AlarmNames=[region.switch_alarm_name])["MetricAlarms"]
    return str(alarm["StateValue"])


def puts(twin: Any) -> list[dict[str, Any]]:
    return [r for r in twin.control.requests() if r.get("operation") == "PutMetricData"]


def steps_run(report: dict[str, Any]) -> set[str]:
    return set(RunLog.read(Path(report["journal"])).done)


def test_database_only_then_traffic_only_moves_each_part_alone(fast, home, capsys) -> None:
    twin, stack = fast
    rc, db = failover(capsys, stack, "--to", "secondary", "--only", "database")
    assert rc == ExitCode.OK, db
    assert db["outcome"] == "completed" and db["only"] == "database"
    assert db["parts"] == {"database": True, "traffic": False}
    assert db["message"] == "us-west-2 writes; traffic still goes to us-east-1 (--only database)"
    assert writer_region(twin) == "us-west-2"  # read from AWS, not from drctl
    assert [p["operation"] for p in promotions(twin)] == ["SwitchoverGlobalCluster"]
    # No traffic change: no switch datapoint, no scaling, the switch alarm still OK, both records healthy.
    assert {(r["service"], r["operation"]) for r in mutations(twin)} == {
        ("rds", "SwitchoverGlobalCluster"),
        *LOCK_ONLY,
    }
    assert switch_state(twin, stack) != "ALARM"
    assert lab_healthy(twin, stack) == {"us-east-1": True, "us-west-2": True}
    assert "flip" not in steps_run(db) and "capacity" not in steps_run(db) and "promote" in steps_run(db)
    stays = [w for w in db["warnings"] if w.startswith("--only database: traffic still goes to us-east-1")]
    assert stays and "read-only secondary" in stays[0] and "WARNING: --only database" in db["_stderr"]
    assert db["verification"]["writer"]["verdict"] == "verified"
    # Its RTO ends when the target writes (users never moved), from the promotion step's own reads.
    assert db["rto_source"].startswith(
        "database writable: DescribeGlobalClusters + DescribeDBClusters in us-west-2"
    )
    assert "database only: users still reach us-east-1" in db["rto_source"]
    assert db["verification"]["traffic"]["verdict"] == "not moved (--only database)"
    assert "dns" not in db["verification"] and db["verification"]["fencing"]["verdict"] == "verified"
    md = (Path(db["journal"]).parent / "report.md").read_text()
    assert "database only: promotion, traffic not moved" in md
    # What the runbook tells the operator to expect from `drctl status` now.
    run(["status", "--json", "--stack", str(stack)])
    status = json.loads(capsys.readouterr().out)
    assert (status["writer_region"], status["serving_region"]) == ("us-west-2", "us-east-1")
    assert "Route53 answers us-east-1 but the writer is us-west-2" in status["warnings"]

    # A second --only database is a no-op that says how to move the traffic.
    rc, again = failover(capsys, stack, "--to", "secondary", "--only", "database")
    assert rc == ExitCode.OK and again["outcome"] == "no-op" and "--only traffic" in again["message"]

    twin.control.clear_requests()
    rc, tr = failover(capsys, stack, "--to", "secondary", "--only", "traffic")
    assert rc == ExitCode.OK, tr
    assert tr["outcome"] == "completed" and tr["parts"] == {"database": False, "traffic": True}
    assert promotions(twin) == [] and writer_region(twin) == "us-west-2"  # no promotion
    assert switch_state(twin, stack) == "ALARM"
    assert lab_healthy(twin, stack) == {"us-east-1": False, "us-west-2": True}
    assert tr["verification"]["traffic"]["verdict"] == "verified"
    assert tr["verification"]["dns"]["verdict"] == "verified"
    assert tr["verification"]["writer"]["verdict"] == "verified" and "fencing" not in tr["verification"]
    assert tr["rpo"]["source"] == "no promotion in this run"
    assert {"flip", "capacity", "verify"} <= steps_run(tr) and "promote" not in steps_run(tr)
    assert not any("--force-traffic" in w for w in tr["warnings"])

    # Traffic already there: nothing to flip.
    rc, again = failover(capsys, stack, "--to", "secondary", "--only", "traffic")
    assert (
        rc == ExitCode.OK
        and again["outcome"] == "no-op"
        and "traffic already goes to us-west-2" in again["message"]
    )

    assert run(["runs", "--json"]) == ExitCode.OK
    listed = {r["run_id"]: r["only"] for r in json.loads(capsys.readouterr().out)}
    assert listed[db["run_id"]] == "database" and listed[tr["run_id"]] == "traffic"


def test_traffic_to_a_region_whose_database_does_not_write_is_refused_unless_forced(fast, home, capsys) -> None:
    twin, stack = fast
    rc, refused = failover(capsys, stack, "--to", "secondary", "--only", "traffic")
    assert rc == ExitCode.REFUSED and refused["outcome"] == "refused", refused["_stderr"]
    last = refused["_stderr"].strip().splitlines()[-1]
    assert last.startswith("drctl: error: preflight refused the failover: us-west-2's database does not write")
    assert "--force-traffic" in last and "--only database" in last
    assert {(r["service"], r["operation"]) for r in mutations(twin)} <= LOCK_ONLY  # nothing of the stack
    assert switch_state(twin, stack) != "ALARM" and writer_region(twin) == "us-east-1"
    assert lab_healthy(twin, stack) == {"us-east-1": True, "us-west-2": True}

    rc, forced = failover(capsys, stack, "--to", "secondary", "--only", "traffic", "--force-traffic")
    assert rc == ExitCode.OK, forced
    assert forced["outcome"] == "completed" and promotions(twin) == []
    assert writer_region(twin) == "us-east-1"  # the database did not move...
    assert switch_state(twin, stack) == "ALARM"  # ... the traffic did
    assert lab_healthy(twin, stack) == {"us-east-1": False, "us-west-2": True}
    # Loudly: on stderr before the run, in the report's warnings and verification, in the journal and report.md.
    assert "WARNING: --force-traffic" in forced["_stderr"]
    assert any(w.startswith("--force-traffic: sending traffic to us-west-2") for w in forced["warnings"])
    assert forced["verification"]["writer"]["verdict"] == "NOT WRITING (--force-traffic)"
    log = RunLog.read(Path(forced["journal"]))
    assert log.header.request["force_traffic"] is True and log.header.request["only"] == "traffic"
    assert log.results["flip"]["writer_reread"]["target_writes"] is False  # re-read right before the flip
    md = (Path(forced["journal"]).parent / "report.md").read_text()
    assert "traffic only: flip, no promotion" in md and "--force-traffic: sending traffic" in md
    run(["status", "--json", "--stack", str(stack)])
    status = json.loads(capsys.readouterr().out)
    assert (status["writer_region"], status["serving_region"]) == ("us-east-1", "us-west-2")
    assert "Route53 answers us-west-2 but the writer is us-east-1" in status["warnings"]


def test_the_writer_is_read_again_right_before_the_flip(fast, home, capsys, monkeypatch) -> None:
    """Preflight saw us-west-2 writing; by the flip another operator has switched it back: refused, no flip."""
    twin, stack = fast
    rc, _ = failover(capsys, stack, "--to", "secondary", "--only", "database")
    assert rc == ExitCode.OK and writer_region(twin) == "us-west-2"
    from drctl.failover import steps

    real_capacity = steps.capacity
    primary_arn = load_stack(stack).primary.cluster_arn

    def capacity_then_someone_switches_back(run_: Any) -> dict[str, Any]:
        twin.client("rds", "us-east-1").switchover_global_cluster(
            GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=primary_arn
        )
        end = time.monotonic() + 30
        while writer_region(twin) != "us-east-1":
            assert time.monotonic() < end, "the switchover back did not complete"
            time.sleep(0.2)
        return real_capacity(run_)

    monkeypatch.setattr(steps, "capacity", capacity_then_someone_switches_back)
    twin.control.clear_requests()
    rc, report = failover(capsys, stack, "--to", "secondary", "--only", "traffic")
    assert rc == ExitCode.REFUSED and report["outcome"] == "refused", report["_stderr"]
    assert "us-west-2's database does not write (us-east-1 writes): traffic not moved" in report["_stderr"]
    assert puts(twin) == [] and switch_state(twin, stack) != "ALARM"
    assert lab_healthy(twin, stack) == {"us-east-1": True, "us-west-2": True}


def test_dry_runs_show_each_part_and_send_nothing(fast, home, capsys) -> None:
    twin, stack = fast

    def dry(*args: str) -> tuple[int, dict[str, Any]]:
        rc = run(["failover", "--stack", str(stack), "--to", "secondary", "--dry-run", "--json", *args])
        return rc, json.loads(capsys.readouterr().out)

    rc, db = dry("--only", "database")
    ops = [c["operation"] for c in db["calls"]]
    assert rc == ExitCode.OK and db["only"] == "database" and db["parts"]["traffic"] is False
    assert "SwitchoverGlobalCluster" in ops and "PutMetricData" not in ops and "UpdateAutoScalingGroup" not in ops
    assert any("traffic still goes to us-east-1" in w for w in db["facts"]["warnings"])

    rc, tr = dry("--only", "traffic")
    assert rc == ExitCode.REFUSED and any("does not write" in r for r in tr["facts"]["refusals"])
    rc, forced = dry("--only", "traffic", "--force-traffic")
    ops = [c["operation"] for c in forced["calls"]]
    assert rc == ExitCode.OK and "PutMetricData" in ops and "SwitchoverGlobalCluster" not in ops
    # The text a person reads (runbooks/traffic-only-drain.md shows it).
    rc = run(["failover", "--stack", str(stack), "--to", "secondary", "--dry-run", "--only", "traffic"])
    lines = capsys.readouterr().out.splitlines()
    assert rc == ExitCode.REFUSED
    assert lines[0] == "dry run of a planned failover us-east-1 → us-west-2 (traffic only: flip, no promotion)"
    assert "NO  target database writes: us-east-1 writes (DescribeGlobalClusters in us-west-2)" in lines
    assert any(line.startswith("refused: us-west-2's database does not write") for line in lines)
    assert mutations(twin) == [] and not (home / "runs").exists()
    assert writer_region(twin) == "us-east-1" and switch_state(twin, stack) != "ALARM"


def test_regional_outage_database_then_traffic_never_calls_the_failed_region(fast, home, capsys) -> None:
    twin, stack = fast
    twin.control.outage("us-east-1", route53=True)
    twin.control.clear_requests()
    rc, db = failover(
        capsys, stack, "--to", "us-west-2", "--only", "database", "--mode", "unplanned", "--allow-data-loss"
    )
    assert rc == ExitCode.OK, db
    rc, tr = failover(capsys, stack, "--to", "us-west-2", "--only", "traffic", "--mode", "unplanned")
    assert rc == ExitCode.OK, tr
    log = twin.control.requests()
    assert not [r for r in log if r.get("port_role") in ("us-east-1", "global") or r.get("region") == "us-east-1"]
    assert [p["operation"] for p in promotions(twin)] == ["FailoverGlobalCluster"]
    assert switch_state(twin, stack) == "ALARM"
    assert tr["verification"]["traffic"]["verdict"] == "switch-thrown"
    twin.control.restore()
    assert writer_region(twin) == "us-west-2"


def _killed_then_resumed(home: Path, stack: Path, part: str, point: str) -> dict[str, Any]:
    """`failover --to secondary --only PART` killed (-9) at POINT, then `--resume`d: the resumed run's report."""
    argv = ("failover", "--stack", str(stack), "--to", "secondary", "--only", part, "--yes")
    rc, _, err = finish(drctl(home, *argv, kill_at=point))
    assert rc == -9, err
    rc, out, err = finish(drctl(home, "failover", "--resume", run_id_of(home), "--yes", "--json"))
    assert rc == ExitCode.OK, err
    report: dict[str, Any] = json.loads(out)
    assert report["outcome"] == "completed" and report["only"] == part
    return report


def test_a_resumed_run_moves_only_the_part_it_was_started_for(fast, home) -> None:
    """kill -9 mid-promotion of `--only database`, then mid-flip of `--only traffic`: each --resume finishes its
    own part from the journal (the request's `only` is in the run header), promotes once, flips nothing more."""
    twin, stack = fast
    _killed_then_resumed(home, stack, "database", "promote:sent")
    assert writer_region(twin) == "us-west-2" and [p["operation"] for p in promotions(twin)] == [
        "SwitchoverGlobalCluster"
    ]
    assert puts(twin) == [] and switch_state(twin, stack) != "ALARM"  # the resume did not move the traffic

    tr = _killed_then_resumed(home, stack, "traffic", "flip:after")
    assert "promote" not in steps_run(tr)
    assert len(promotions(twin)) == 1 and writer_region(twin) == "us-west-2"
    assert switch_state(twin, stack) == "ALARM"
    assert lab_healthy(twin, stack) == {"us-east-1": False, "us-west-2": True}
