"""A real PostgreSQL for the canary's tests (tests/pg.py): one per worker, plus fresh ones for tests that
restart or kill theirs."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pg


@pytest.fixture(scope="session")
def pg_shared() -> Iterator[pg.PgServer]:
    server = pg.start_server()
    try:
        yield server
    finally:
        pg.remove(server)


@pytest.fixture
def pg_own() -> Iterator[pg.PgServer]:
    server = pg.start_server()
    try:
        yield server
    finally:
        pg.remove(server)


@pytest.fixture
def db_name(pg_shared: pg.PgServer, request: pytest.FixtureRequest) -> str:
    """A fresh database on the shared server, one per test."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    pg_shared.sql(f"DROP DATABASE IF EXISTS {name}")
    pg_shared.sql(f"CREATE DATABASE {name}")
    return name


@pytest.fixture
def canary_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DRCTL_", "PG"))}
    env.update(
        DRCTL_HOME=str(tmp_path / "home"), DRCTL_CANARY_USER=pg.SUPERUSER, DRCTL_CANARY_PASSWORD=pg.PASSWORD
    )
    return env
