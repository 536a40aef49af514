"""Promotion under ambiguity, proved by reading the twin (its emulator state and request log), not drctl's
output: a FailoverGlobalCluster whose answer is lost reaches AWS once; one that keeps failing never leads to a
detach without --allow-detach, and with it to exactly one; afterwards status names the split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from failover_helpers import GLOBAL_ID, failover, writer_region

from drctl.errors import ExitCode
from drctl.journal.events import StateObserved
from drctl.journal.log import RunLog

UNPLANNED = ("--to", "us-west-2", "--mode", "unplanned", "--allow-data-loss")


def _sent(twin: Any, operation: str) -> int:
    return sum(1 for r in twin.control.requests() if r.get("operation") == operation)


def _members(twin: Any, region: str = "us-west-2") -> dict[str, bool]:
    gc = twin.client("rds", region).describe_global_clusters(GlobalClusterIdentifier=GLOBAL_ID)["GlobalClusters"][
        0
    ]
    return {m["DBClusterArn"].split(":")[3]: bool(m["IsWriter"]) for m in gc["GlobalClusterMembers"]}


def _observed(report: dict[str, Any]) -> list[StateObserved]:
    return RunLog.read(Path(report["journal"])).of(StateObserved)


def test_a_lost_answer_reaches_aws_once_and_ends_with_a_managed_failover(fast, home, capsys) -> None:
    twin, stack = fast
    twin.control.set_faults(lose_answer=["FailoverGlobalCluster"])
    rc, report = failover(capsys, stack, *UNPLANNED, "--allow-detach")
    twin.control.set_faults()
    assert rc == ExitCode.OK, report["_stderr"]
    assert _sent(twin, "FailoverGlobalCluster") == 1
    assert _sent(twin, "RemoveFromGlobalCluster") == 0
    assert writer_region(twin) == "us-west-2"
    assert _members(twin) == {"us-west-2": True, "us-east-1": False}  # the old primary is still a member
    observed = _observed(report)
    assert observed and observed[0].verdict.startswith("FailoverGlobalCluster accepted"), observed


def test_failing_promotions_never_detach_without_consent_and_once_with_it(fast, home, capsys) -> None:
    twin, stack = fast
    with Path(stack).open("a") as f:
        f.write("\n[failover]\ndetach_after_s = 2\n")
    twin.control.set_faults(fail=["FailoverGlobalCluster"])
    rc, first = failover(capsys, stack, *UNPLANNED)
    assert rc == ExitCode.FAILED, first["_stderr"]
    assert "--allow-detach" in first["_stderr"]
    assert _sent(twin, "FailoverGlobalCluster") >= 2 and _sent(twin, "RemoveFromGlobalCluster") == 0
    assert writer_region(twin) == "us-east-1"

    rc, second = failover(capsys, stack, "--resume", first["run_id"], "--allow-detach")
    twin.control.set_faults()
    assert rc == ExitCode.OK, second["_stderr"]
    assert _sent(twin, "RemoveFromGlobalCluster") == 1
    # AWS after a detach: the target stands alone and writes; the old primary is still the global writer.
    assert _members(twin) == {"us-east-1": True}
    (west,) = twin.client("rds", "us-west-2").describe_db_clusters(DBClusterIdentifier="drctl-lab-usw2")[
        "DBClusters"
    ]
    assert not west.get("GlobalClusterIdentifier")
    assert any(m["IsClusterWriter"] for m in west["DBClusterMembers"])

    status = twin.cli("status", "--json", "--stack", str(stack))
    assert status.returncode == ExitCode.NOT_READY, status.stderr
    shown = json.loads(status.stdout)
    assert shown["standalone_writers"] == ["us-west-2"] and shown["writer_region"] == "us-east-1"
    assert shown["reasons"][0].startswith("split:")
    assert shown["regions"]["us-west-2"]["role"] == "standalone writer"

    rc, back = failover(capsys, stack, "--to", "us-east-1")  # a planned failback is refused, never a no-op
    assert rc == ExitCode.REFUSED and "split" in back["_stderr"], back
