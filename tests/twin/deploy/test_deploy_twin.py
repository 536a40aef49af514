"""`drctl deploy --lab` end to end on the twin: the project's own terraform/ applied with progress, the stack file
written and read by `drctl status`; a second deploy changes nothing; after a writer swap, a redeploy still plans
nothing (no change to the global cluster, its members, or which record is PRIMARY); then `drctl destroy`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest

from drctl.errors import ExitCode
from drctl.lab.runtime import lab_dir
from drctl.stack import load_stack

pytestmark = [
    pytest.mark.twin,
    pytest.mark.terraform,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed"),
]
DEPLOY_TIMEOUT_S = 900
STATUS_POLL_S = 30.0  # the lab publishes lag samples every second once it sees the global cluster
SECRET = "SENTINEL-twin-password-9e8d7c"


def drctl(twin, *args: str, timeout: float = DEPLOY_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drctl", *args],
        env=twin.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_deploy_to_the_twin_then_redeploy_after_a_writer_swap(lab, monkeypatch, capsys) -> None:
    from drctl.cli.app import run
    from drctl.deploy import core

    shutil.rmtree(lab_dir(lab.home) / "terraform", ignore_errors=True)  # a fresh state for a fresh emulator

    # The first deploy runs in-process with a known password, to look for it everywhere afterwards.
    monkeypatch.setattr(core.secrets, "token_urlsafe", lambda n: SECRET)
    for key, value in lab.env.items():
        monkeypatch.setenv(key, value)
    started = time.monotonic()
    rc = run(["deploy", "--lab"])
    first = capsys.readouterr()
    assert rc == 0, first.err[-3000:]
    print(f"first deploy: {time.monotonic() - started:.0f} s")
    assert "preflight: aurora-postgresql 16.8 supports global databases in both regions" in first.err
    assert "to create" in first.err and "/" in first.err  # plan summary and [done/total] progress
    assert SECRET not in first.out + first.err
    # drctl's files: state, plan file, var file, CLI config, lab logs, the gateway's request log. (The emulator's
    # own storage plays AWS, which does hold the password.)
    aws_side = {".terraform", "emulator-state", "ministack-venv"}
    for path in lab.home.rglob("*"):
        if path.is_file() and not aws_side & set(path.parts):
            assert SECRET.encode() not in path.read_bytes(), path
    state = (lab_dir(lab.home) / "terraform" / "terraform.tfstate").read_text()
    assert '"master_password": null' in state and '"master_password_wo": null' in state
    stack = load_stack(lab.home / "stack.toml")
    assert set(stack.regions) == {"us-east-1", "us-west-2"}
    assert stack.aws.endpoints == lab.info.endpoints and stack.aws.static_access_key_id == "test"
    assert stack.primary.switch_alarm_region == "us-west-2" and stack.secondary.switch_alarm_region == "us-east-1"

    # The deployed stack is ready as soon as the lab has published the secondary's first lag samples (until
    # then status rightly says "not ready", exit 3): drctl reads the Terraform-made stack as a user would.
    end = time.monotonic() + STATUS_POLL_S
    while True:
        status = drctl(lab, "status", "--json", "--stack", str(lab.home / "stack.toml"), timeout=120)
        report = json.loads(status.stdout)
        if report["ready"] or time.monotonic() > end:
            break
        time.sleep(1)
    assert status.returncode == ExitCode.OK and report["reasons"] == [], status.stdout[-2000:]
    assert report["writer_region"] == "us-east-1" and report["serving_region"] == "us-east-1"

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

    # Destroy after the failover: the writer is now the member Terraform removes first.
    gone = drctl(lab, "destroy", "--lab", "--yes")
    assert gone.returncode == 0, gone.stderr[-3000:]
    assert "detaching reader" in gone.stderr
    assert not rds.describe_db_clusters()["DBClusters"]
