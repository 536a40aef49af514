"""The demo's re-sync step on the twin: a detached old primary is re-created as a secondary (lab only)."""

from __future__ import annotations

from typing import Any

import pytest

from drctl.aws import rds
from drctl.aws.clients import ClientFactory
from drctl.demo.story import _resync
from drctl.stack import load_stack

pytestmark = [pytest.mark.twin]


def test_a_detached_cluster_is_re_added_and_a_member_is_left_alone(seeded: Any) -> None:
    twin, stack_path = seeded
    stack = load_stack(str(stack_path))
    clients = ClientFactory(stack.aws)
    west = stack.regions["us-west-2"]
    said: list[str] = []

    _resync(clients, stack, "us-west-2", said.append)  # a connected secondary: nothing to do
    assert "nothing to re-add" in said[-1]

    twin.client("rds", "us-west-2").remove_from_global_cluster(
        GlobalClusterIdentifier=stack.global_cluster_id, DbClusterIdentifier=west.cluster_arn
    )
    gc = rds.describe_global_cluster(clients.client("rds", "us-west-2"), stack.global_cluster_id)
    assert gc.member_in("us-west-2") is None

    _resync(clients, stack, "us-west-2", said.append)
    assert "re-created as a secondary" in said[-1]
    gc = rds.describe_global_cluster(clients.client("rds", "us-west-2"), stack.global_cluster_id)
    member = gc.member_in("us-west-2")
    assert member is not None and not member.is_writer
    assert gc.writer is not None and gc.writer.region == "us-east-1"
