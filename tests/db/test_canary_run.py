"""`drctl canary run|check` against a real PostgreSQL (tests/pg.py): counts, loss, outage, bad input, secrets."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pg
import psycopg

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


def _until_rows(server: pg.PgServer, count: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if int(str(server.sql("SELECT count(*) FROM drctl_canary")[0][0])) >= count:
                return
        except psycopg.errors.UndefinedTable:  # the canary has not created it yet
            pass
        assert time.monotonic() < deadline, f"the canary wrote fewer than {count} rows in {timeout_s} s"
        time.sleep(0.1)


def test_kill_mid_run_every_acknowledged_commit_is_present_and_the_outage_spans_the_restart(
    pg_own: pg.PgServer, canary_env: dict[str, str]
) -> None:
    proc = start_drctl(
        "canary", "run", "--endpoint", pg_own.endpoint, "--database", "postgres", "--duration", "6", "--json",
        env=canary_env,
    )  # fmt: skip
    _until_rows(pg_own, 3)  # the canary is writing (its start-up takes longer on a loaded machine)
    pg_own.kill()
    killed_at = time.time()  # the server is gone: no commit can be acknowledged after this
    time.sleep(1.0)
    restarting_at = time.time()  # no commit can be acknowledged before the server is asked to start
    pg_own.start()
    out, err = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode == 0, err
    result = json.loads(out)
    folder = Path(result["folder"])
    log = acks(folder)
    acked = {e["seq"] for e in log if e["k"] == "ack"}
    failed = {e["seq"] for e in log if e["k"] == "fail"}
    rows = {int(r[0]) for r in pg_own.sql(f"SELECT seq FROM drctl_canary WHERE run_id = '{result['run_id']}'")}
    assert acked and failed, "the kill must break at least one insert"
    assert acked <= rows  # every acknowledged commit survived the crash
    assert rows - acked <= failed  # anything else is an attempt whose acknowledgement was not seen
    assert result["acked"] == len(acked) and result["missing"] == 0
    assert result["unacked_present"] == len(rows - acked)
    [outage] = result["outages"]
    assert outage["from_seq"] < min(failed) and outage["to_seq"] > max(failed)
    from_t = next(e["t"] for e in log if e.get("seq") == outage["from_seq"])
    to_t = next(e["t"] for e in log if e.get("seq") == outage["to_seq"])
    assert from_t <= killed_at and to_t >= restarting_at
    assert outage["duration_s"] == round(to_t - from_t, 3)


def test_a_simulated_loss_is_reported_with_its_count_and_window(
    pg_shared: pg.PgServer, db_name: str, canary_env: dict[str, str]
) -> None:
    done = drctl(
        "canary", "run", "--endpoint", pg_shared.endpoint, "--database", db_name, "--duration", "1.5",
        "--rate", "40", "--json", env=canary_env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["missing"] == 0 and result["acked"] >= 20
    run_id, folder = result["run_id"], Path(result["folder"])
    pg_shared.sql(f"DELETE FROM drctl_canary WHERE run_id = '{run_id}' AND seq BETWEEN 5 AND 9", db_name)
    checked = drctl("canary", "check", "--run", run_id, "--json", env=canary_env)
    assert checked.returncode == 0, checked.stderr
    loss = json.loads(checked.stdout)
    t = {e["seq"]: e["t"] for e in acks(folder) if e["k"] == "ack"}
    assert (loss["missing"], loss["first_missing_seq"], loss["last_missing_seq"]) == (5, 5, 9)
    assert loss["missing_window_s"] == round(t[9] - t[5], 3)
    assert loss["outages"] == []
    text = drctl("canary", "check", "--run", run_id, env=canary_env)
    assert "RPO (canary, measured): 5 of" in text.stdout and "seq 5-9" in text.stdout


def test_the_password_is_in_no_file_written_nor_in_any_process_argument(
    pg_shared: pg.PgServer, db_name: str, canary_env: dict[str, str], tmp_path: Path
) -> None:
    """Credentials from the stack file (the lab's path): not in the environment, argv, or anything written."""
    example = Path(__file__).resolve().parents[2] / "examples" / "stack.example.toml"
    stack = tmp_path / "stack.toml"
    stack.write_text(
        example.read_text()
        + f'\n[canary]\nendpoints = ["{pg_shared.endpoint}"]\ndatabase = "{db_name}"\nrate = 25\n'
        + f'[canary.static_credentials]\nuser = "{pg.SUPERUSER}"\npassword = "{pg.PASSWORD}"\n'
    )
    env = {k: v for k, v in canary_env.items() if not k.startswith("DRCTL_CANARY_")}
    proc = start_drctl("canary", "run", "--stack", str(stack), "--duration", "2", "--json", env=env)
    time.sleep(1.2)
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    environ = Path(f"/proc/{proc.pid}/environ").read_bytes()
    out, err = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert result["acked"] > 0 and result["rate_requested_per_s"] == 25
    secret = pg.PASSWORD.encode()
    assert secret not in cmdline and secret not in environ
    assert secret not in (out + err).encode()
    written = [p for p in Path(env["DRCTL_HOME"]).rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"acks.jsonl", "canary.json", "canary-check.json"}
    for path in written:
        assert secret not in path.read_bytes(), path
    meta = json.loads((Path(result["folder"]) / "canary.json").read_text())
    assert meta["credentials"] == "stack file [canary.static_credentials]"
