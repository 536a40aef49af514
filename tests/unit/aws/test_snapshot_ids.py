"""Which snapshots drctl owes a copy, and the manual id it keeps each as (CopyDBClusterSnapshot's rules)."""

from __future__ import annotations

import re

import pytest

from drctl.aws.rds import KEEP_PREFIX, keep_snapshot_id, owed_snapshots

VALID = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*(?<!-)$")  # a letter first, no "--", no trailing "-"


@pytest.mark.parametrize(
    "snapshot",
    [
        "rds:unplanned-global-failover-payments-prod-use1-2026-11-29-12-00",
        "rds:unplanned-global-failover-" + "a-very-long-cluster-name-" * 4 + "2026-11-29-12-00",
        "rds:unplanned-global-failover-x--y-",
    ],
)
def test_keep_ids_are_valid_manual_snapshot_ids_and_stable(snapshot: str) -> None:
    keep = keep_snapshot_id(snapshot)
    assert len(keep) <= 63 and VALID.match(keep), keep
    assert keep.startswith(KEEP_PREFIX) and keep == keep_snapshot_id(snapshot)


def test_long_ids_that_share_a_prefix_keep_apart() -> None:
    base = "rds:unplanned-global-failover-" + "c" * 60
    assert keep_snapshot_id(base + "-1") != keep_snapshot_id(base + "-2")


def test_owed_are_the_unplanned_failover_snapshots_without_a_kept_copy() -> None:
    a = "rds:unplanned-global-failover-app-2026-11-29-12-00"
    b = "rds:unplanned-global-failover-app-2026-11-30-08-00"
    ids = [a, b, keep_snapshot_id(a), "rds:app-2026-11-29", "manual-before-upgrade"]
    assert owed_snapshots(ids) == [b]
    assert owed_snapshots([keep_snapshot_id(a)]) == []
