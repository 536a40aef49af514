"""The lab's real PostgreSQL servers behind its global clusters (drctl/lab/databases.py), driven by drctl's own
failover through the RDS API, with the canary on (the lab's stack file turns it on): a planned switchover loses
no acknowledged transaction (counted on the new writer with a plain client), an unplanned failover with a WAL
delay well above the commit interval loses some, in a window the delay explains; an outage refuses connections."""

from __future__ import annotations

import json
import time
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from db_helpers import databases, failover, wait_databases

from drctl.cli.app import run

pytestmark = [pytest.mark.twin]


def lab_credentials(stack: Path) -> dict[str, str]:
    creds: dict[str, str] = tomllib.loads(stack.read_text())["canary"]["static_credentials"]
    return creds


def addresses(twin: Any) -> dict[str, Any]:
    """Each region's database as `drctl lab status --json` names it (host, port, role, writer)."""
    status = json.loads(twin.cli("lab", "status", "--json", check=True).stdout)
    regions: dict[str, Any] = status["databases"]["regions"]
    return regions


def connect(where: dict[str, Any], stack: Path, region: str) -> psycopg.Connection[Any]:
    """A plain client to `region`'s database, at the host and port the lab's status names."""
    db = where[region]
    creds = lab_credentials(stack)
    return psycopg.connect(
        host=db["host"], port=db["port"], dbname="postgres", user=creds["user"], password=creds["password"],
        autocommit=True, connect_timeout=3,
    )  # fmt: skip


def count_rows(twin: Any, stack: Path, region: str, run_id: str) -> int:
    with connect(addresses(twin), stack, region) as conn:
        row = conn.execute("SELECT count(*) FROM drctl_canary WHERE run_id = %s", (run_id,)).fetchone()
        assert row is not None
        return int(row[0])


def test_lab_status_names_each_regions_database_and_the_writer(db_seeded: Any) -> None:
    twin, stack = db_seeded
    status = json.loads(twin.cli("lab", "status", "--json", check=True).stdout)
    dbs = status["databases"]
    assert dbs["writer"] == "us-east-1"
    assert {r: (d["host"], d["role"], d["writer"]) for r, d in dbs["regions"].items()} == {
        "us-east-1": ("127.0.0.1", "writer", True),
        "us-west-2": ("127.0.0.1", "standby", False),
    }
    assert lab_credentials(stack)["password"] not in twin.cli("lab", "status").stdout + json.dumps(status)
    where = dbs["regions"]
    with connect(where, stack, "us-east-1") as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
    with connect(where, stack, "us-west-2") as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)


def test_planned_switchover_loses_no_acknowledged_transaction(
    db_seeded: Any, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    twin, stack = db_seeded
    rc, report = failover(capsys, stack, "--to", "secondary")  # the lab's stack runs the canary on failover
    assert rc == 0, report["_stderr"]
    truth = report["canary"]
    assert truth["acked"] > 20 and truth["missing"] == 0, truth
    view = wait_databases(twin, "us-west-2")
    assert view["regions"]["us-east-1"]["role"] == "standby"  # the old writer rebuilt as a standby
    rows = count_rows(twin, stack, "us-west-2", report["run_id"])  # plain psycopg, on the new writer
    assert rows == truth["acked"] + truth["unacked_present"]
    assert truth["longest_outage_s"] is not None and truth["longest_outage_s"] > 0  # writes paused, then resumed


def test_unplanned_failover_with_wal_delay_loses_the_delayed_window(
    db_seeded: Any, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    twin, stack = db_seeded
    delay_ms = 1500.0  # the canary commits every 50 ms: about 30 commits in flight
    assert twin.cli("lab", "set-lag", f"{delay_ms:g}ms").returncode == 0
    published = 0.0
    end = time.monotonic() + 30
    while time.monotonic() < end and published < delay_ms * 0.8:  # the lab's heartbeat commits once a second
        rds = (twin.control.signals().get("last_published") or {}).get("rds", [])
        published = max([r["lag_ms"] for r in rds if r.get("source", "").startswith("measured")] or [0.0])
        time.sleep(0.1)
    assert published >= delay_ms * 0.8, f"measured lag {published} ms with a {delay_ms:g} ms WAL delay"
    rc, report = failover(capsys, stack, "--to", "secondary", "--mode", "unplanned", "--allow-data-loss")
    assert rc == 0, report["_stderr"]
    truth = report["canary"]
    assert truth["missing"] > 0, truth
    # What was lost is what was still in the WAL stream: the commits acknowledged during the last `delay` before
    # the writer stopped (or since the canary began, if that is shorter), and nothing older.
    [brk] = truth["outages"]
    assert truth["last_missing_seq"] == brk["from_seq"], truth  # the loss ends at the break
    first_ack = datetime.fromisoformat(truth["first_ack_at"]).timestamp()
    in_stream_s = min(delay_ms / 1000, brk["from_t"] - first_ack)
    window = truth["missing_window_s"]
    assert in_stream_s - 0.3 <= window <= delay_ms / 1000 + 0.1, truth
    assert report["rpo_s"] >= window, report["rpo"]  # here the measured-lag estimate bounds the truth
    rows = count_rows(twin, stack, "us-west-2", report["run_id"])
    assert rows == truth["acked"] - truth["missing"] + truth["unacked_present"]
    view = wait_databases(twin, "us-west-2")  # the managed failover's rebuild: the old writer, a standby
    assert view["regions"]["us-east-1"]["role"] == "standby"
    assert run(["report", report["run_id"]]) == 0
    text = capsys.readouterr().out
    lost = f"| RPO (canary, measured) | {truth['missing']} of {truth['acked']} acknowledged transactions lost"
    assert lost in text and "| Write outage (canary, measured) |" in text


def test_a_region_in_outage_refuses_database_connections(db_seeded: Any) -> None:
    twin, stack = db_seeded
    where = addresses(twin)
    assert twin.cli("lab", "outage", "us-east-1").returncode == 0
    try:
        with pytest.raises(psycopg.OperationalError, match="refused"):
            connect(where, stack, "us-east-1").close()
        with connect(where, stack, "us-west-2") as conn:  # the other region answers
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert databases(twin)["wal_stream"] == "cut"
    finally:
        assert twin.cli("lab", "restore").returncode == 0
    with connect(where, stack, "us-east-1") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_detached_secondary_becomes_a_standalone_writer(db_seeded: Any) -> None:
    twin, stack = db_seeded
    rds = twin.client("rds", "us-west-2")
    arn = rds.describe_db_clusters(DBClusterIdentifier="drctl-lab-usw2")["DBClusters"][0]["DBClusterArn"]
    rds.remove_from_global_cluster(GlobalClusterIdentifier="drctl-lab-global", DbClusterIdentifier=arn)
    end = time.monotonic() + 30
    while time.monotonic() < end and databases(twin)["regions"]["us-west-2"]["role"] != "standalone":
        time.sleep(0.2)
    view = databases(twin)
    assert view["regions"]["us-west-2"]["role"] == "standalone", view
    assert view["writer"] == "us-east-1"  # the primary stays the global writer: two writers now
    where = {r: {"host": "127.0.0.1", "port": d["port"]} for r, d in view["regions"].items()}
    for region in ("us-east-1", "us-west-2"):
        with connect(where, stack, region) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS split (region text)")
            conn.execute("INSERT INTO split VALUES (%s)", (region,))


def test_after_a_managed_failover_the_old_writer_is_rebuilt_when_its_region_recovers(db_seeded: Any) -> None:
    twin, _ = db_seeded
    rds = twin.client("rds", "us-west-2")
    arn = rds.describe_db_clusters(DBClusterIdentifier="drctl-lab-usw2")["DBClusters"][0]["DBClusterArn"]
    assert twin.cli("lab", "outage", "us-east-1").returncode == 0
    try:
        rds.failover_global_cluster(
            GlobalClusterIdentifier="drctl-lab-global", TargetDbClusterIdentifier=arn, AllowDataLoss=True
        )
        end = time.monotonic() + 30
        while time.monotonic() < end and databases(twin)["writer"] != "us-west-2":
            time.sleep(0.2)
        time.sleep(2)  # a few of the lab's reconcile ticks: nothing is rebuilt while its region is down
        view = databases(twin)
        assert view["writer"] == "us-west-2" and view["regions"]["us-east-1"]["role"] == "stale", view
    finally:
        assert twin.cli("lab", "restore").returncode == 0
    view = wait_databases(twin, "us-west-2")
    assert view["regions"]["us-east-1"]["role"] == "standby"
