"""`drctl canary` bad input against a real PostgreSQL: each a one-line error and a documented exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pg

TIMEOUT_S = 60


def drctl(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drctl", *args], env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )


def start_drctl(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "drctl", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def acks(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "acks.jsonl").read_text().splitlines()]


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("drctl: error: "), lines[0]
    assert "Traceback" not in done.stderr
    return lines[0]


def test_an_unreachable_endpoint_is_one_line_and_exit_6(tmp_path: Path, canary_env: dict[str, str]) -> None:
    port = pg.PgServer(tmp_path).port  # a free port: nothing listens there
    done = drctl("canary", "run", "--endpoint", f"127.0.0.1:{port}", "--database", "postgres", env=canary_env)
    assert done.returncode == 6
    assert "does not answer" in one_line_error(done)


def test_a_read_only_server_is_refused_with_exit_7_and_nothing_written(
    pg_shared: pg.PgServer, db_name: str, canary_env: dict[str, str]
) -> None:
    pg_shared.sql(f"ALTER DATABASE {db_name} SET default_transaction_read_only = on")
    done = drctl("canary", "run", "--endpoint", pg_shared.endpoint, "--database", db_name, env=canary_env)
    assert done.returncode == 7
    assert "read-only" in one_line_error(done)
    assert not pg_shared.sql("SELECT 1 FROM pg_tables WHERE tablename = 'drctl_canary'", db_name)


def test_a_wrong_password_is_exit_5_and_never_echoed(pg_shared: pg.PgServer, canary_env: dict[str, str]) -> None:
    env = {**canary_env, "DRCTL_CANARY_PASSWORD": "not-the-password-81c2"}
    done = drctl("canary", "run", "--endpoint", pg_shared.endpoint, "--database", "postgres", env=env)
    assert done.returncode == 5
    line = one_line_error(done)
    assert "rejected user 'postgres'" in line and "not-the-password-81c2" not in done.stderr + done.stdout


def test_a_canary_table_of_another_shape_is_refused_and_kept(
    pg_shared: pg.PgServer, db_name: str, canary_env: dict[str, str]
) -> None:
    pg_shared.sql("CREATE TABLE drctl_canary (id int PRIMARY KEY, note text)", db_name)
    pg_shared.sql("INSERT INTO drctl_canary VALUES (1, 'keep me')", db_name)
    done = drctl("canary", "run", "--endpoint", pg_shared.endpoint, "--database", db_name, env=canary_env)
    assert done.returncode == 7
    assert "another shape (id integer, note text)" in one_line_error(done)
    assert pg_shared.sql("SELECT id, note FROM drctl_canary", db_name) == [(1, "keep me")]
