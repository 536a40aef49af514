"""terraform/ applied to a twin of its own; the writer swapped under it; a redeploy still plans nothing; then
`drctl destroy --lab` detaches the member Terraform removes first. (Its own module and stack, so it runs beside
test_deploy_and_demo.py on another worker.)"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from deployed_lab import Applied, applied_lab, drctl

from drctl.lab.runtime import LabInfo, lab_info
from drctl.stack import load_stack

pytestmark = [
    pytest.mark.terraform,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed"),
]


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory, lab_tools: Any) -> Iterator[Applied]:
    with applied_lab(tmp_path_factory.mktemp("redeployed") / "home", lab_tools) as applied:
        yield applied


def writer_region(rds: Any, global_id: str) -> str:
    gc = rds.describe_global_clusters(GlobalClusterIdentifier=global_id)["GlobalClusters"][0]
    return next((m["DBClusterArn"].split(":")[3] for m in gc["GlobalClusterMembers"] if m["IsWriter"]), "")


def test_redeploy_after_a_writer_swap_plans_nothing_then_destroy(applied: Applied, lab_tools: Any) -> None:
    assert applied.first.returncode == 0, applied.first.stderr[-3000:]
    home = applied.home
    info: LabInfo | None = lab_info(home)
    assert info is not None
    stack = load_stack(applied.stack_path)
    rds = lab_tools.boto3_client(info, "rds", "us-west-2")
    assert writer_region(rds, stack.global_cluster_id) == "us-east-1"
    rds.switchover_global_cluster(
        GlobalClusterIdentifier=stack.global_cluster_id, TargetDbClusterIdentifier=stack.secondary.cluster_arn
    )
    deadline = time.monotonic() + 120
    while writer_region(rds, stack.global_cluster_id) != "us-west-2":
        assert time.monotonic() < deadline, "the switchover did not complete"
        time.sleep(1)

    again = drctl(home, lab_tools, "deploy", "--lab", "--stack", str(applied.stack_path))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "preflight: us-west-2 writes now" in again.stderr
    assert "no changes" in again.stdout

    # Destroy after the failover: the writer is now the member Terraform removes first.
    gone = drctl(home, lab_tools, "destroy", "--lab", "--yes")
    assert gone.returncode == 0, gone.stderr[-3000:]
    assert "detaching reader" in gone.stderr
    assert not rds.describe_db_clusters()["DBClusters"]
