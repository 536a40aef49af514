"""Fixtures for the failover tests: a private DRCTL_HOME and a fast, warmed, seeded twin."""

from __future__ import annotations

import pytest
from failover_helpers import wait_for_lag


@pytest.fixture
def fast(seeded):
    """The seeded twin with short modelled durations, warmed until the first lag samples exist."""
    twin, stack = seeded
    twin.control.set_durations(switchover_s=1.5, failover_s=1.0, promote_s=1.0, warmup_s=0.5, resync_s=1.0)
    twin.control.set_lag(200)
    wait_for_lag(twin)
    twin.control.clear_requests()
    return twin, stack
