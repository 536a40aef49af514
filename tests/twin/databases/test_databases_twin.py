"""The lab's real PostgreSQL servers behind its global clusters (drctl/lab/databases.py), driven by drctl's own
failover through the RDS API, with the canary on (the lab's stack file turns it on): a planned switchover loses
no acknowledged transaction (counted on the new writer with a plain client), an unplanned failover with a WAL
delay well above the commit interval loses some, in a window the delay explains; an outage refuses connections."""

from __future__ import annotations

import json
import time
import tomllib
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


def seqs_on(twin: Any, stack: Path, region: str, run_id: str) -> set[int]:
    with connect(addresses(twin), stack, region) as conn:
        rows = conn.execute("SELECT seq FROM drctl_canary WHERE run_id = %s", (run_id,)).fetchall()
    return {int(r[0]) for r in rows}


def canary_acks(home: Path, run_id: str) -> dict[int, tuple[float, float]]:
    """Every commit the run's canary saw acknowledged: sequence number -> (sent, acknowledged), epoch seconds."""
    [acks] = home.rglob(f"runs/{run_id}/canary/acks.jsonl")
    lines = [json.loads(line) for line in acks.read_text().splitlines() if line.strip()]
    return {int(e["seq"]): (float(e["sent"]), float(e["t"])) for e in lines if e.get("k") == "ack"}


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
    # What was lost is what was still in the WAL stream when the lab cut it: every commit sent less than `delay`
    # before the cut (its WAL left the writer after it was sent, and the proxy holds it back `delay`: it cannot
    # have arrived), and nothing much older. Judged from the cut, not from the canary's last acknowledgement: on
    # a loaded machine the canary may stall before the cut, and what it sent then has had longer to arrive.
    [brk] = truth["outages"]
    assert truth["last_missing_seq"] == brk["from_seq"], truth  # the loss ends at the break
    [cut] = [op for op in databases(twin)["operations"] if op["what"] == "failover"]
    delay_s = delay_ms / 1000
    acked = canary_acks(home, report["run_id"])
    present = seqs_on(twin, stack, "us-west-2", report["run_id"])
    lost = {seq: acked_at for seq, (_, acked_at) in acked.items() if seq not in present}
    assert len(lost) == truth["missing"], truth
    in_flight = {seq for seq, (sent, _) in acked.items() if cut["cut_at"] - delay_s < sent <= cut["cut_at"]}
    assert in_flight and in_flight <= set(lost), (cut, sorted(in_flight - set(lost)))
    # The proxy's sender may trail what is due by a moment on a loaded machine: what was due then is lost too.
    assert min(lost.values()) > cut["cut_at"] - delay_s - 0.5, (cut, lost)
    window = truth["missing_window_s"]
    assert window <= delay_s + 0.5, truth
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
