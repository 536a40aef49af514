"""`drctl deploy --lab` end to end on the twin: the project's own terraform/ applied with progress, the stack file
written and read by `drctl status`; a second deploy changes nothing; after a writer swap, a redeploy still plans
nothing (no change to the global cluster, its members, or which record is PRIMARY)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from drctl.lab.runtime import lab_dir
from drctl.stack import load_stack

pytestmark = [
    pytest.mark.twin,
    pytest.mark.terraform,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed"),
]
DEPLOY_TIMEOUT_S = 900


def drctl(twin, *args: str, timeout: float = DEPLOY_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drctl", *args],
        env=twin.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_deploy_to_the_twin_then_redeploy_after_a_writer_swap(lab) -> None:
    shutil.rmtree(lab_dir(lab.home) / "terraform", ignore_errors=True)  # a fresh state for a fresh emulator

    started = time.monotonic()
    first = drctl(lab, "deploy", "--lab")
    assert first.returncode == 0, first.stderr[-3000:]
    print(f"first deploy: {time.monotonic() - started:.0f} s")
    assert "preflight: aurora-postgresql 16.8 supports global databases in both regions" in first.stderr
    assert "to create" in first.stderr and "/" in first.stderr  # plan summary and [done/total] progress
    stack = load_stack(lab.home / "stack.toml")
    assert set(stack.regions) == {"us-east-1", "us-west-2"}
    assert stack.aws.endpoints == lab.info.endpoints and stack.aws.static_access_key_id == "test"
    assert stack.primary.switch_alarm_region == "us-west-2" and stack.secondary.switch_alarm_region == "us-east-1"

    status = drctl(lab, "--debug", "status", "--stack", str(lab.home / "stack.toml"), timeout=120)
    assert status.returncode in (0, 3), status.stderr[-2000:]  # read and judged (ready, or not ready yet)

    second = drctl(lab, "deploy", "--lab")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "no changes" in second.stdout

    rds = lab.client("rds", "us-west-2")
    rds.switchover_global_cluster(
        GlobalClusterIdentifier=stack.global_cluster_id, TargetDbClusterIdentifier=stack.secondary.cluster_arn
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        gc = rds.describe_global_clusters(GlobalClusterIdentifier=stack.global_cluster_id)["GlobalClusters"][0]
        writer = next((m for m in gc["GlobalClusterMembers"] if m["IsWriter"]), {})
        if ":us-west-2:" in writer.get("DBClusterArn", ""):
            break
        time.sleep(1)
    else:
        pytest.fail("the switchover did not complete")

    third = drctl(lab, "deploy", "--lab")
    assert third.returncode == 0, third.stderr[-3000:]
    assert "preflight: us-west-2 writes now" in third.stderr
    assert "no changes" in third.stdout
