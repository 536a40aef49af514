"""Fixtures for the lab's real databases: the db_twin (tests/conftest.py), reset and seeded per test; its
PostgreSQL servers are shared (the seed's global cluster makes the emulator's writer the databases' writer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from db_helpers import wait_databases

from drctl.lab.models import SHORT_DURATIONS


@pytest.fixture
def db_seeded(db_twin: Any, tmp_path: Path) -> tuple[Any, Path]:
    from drctl.lab.seed import seed_topology

    db_twin.control.reset()
    db_twin.control.set_durations(**SHORT_DURATIONS)
    db_twin.control.set_lag(0)
    stack = seed_topology(db_twin.info, tmp_path)
    wait_databases(db_twin, "us-east-1")
    db_twin.control.clear_requests()
    return db_twin, stack
