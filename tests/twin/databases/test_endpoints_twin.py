"""The lab's Aurora endpoints (drctl/lab/dbendpoints.py): the names DescribeDBClusters and DescribeGlobalClusters
return, resolved through the lab's DNS server, lead a plain PostgreSQL client to the right server at each moment:
the global writer endpoint to the current writer (after a switchover, the new one), a secondary's cluster
endpoint to a read-only server, and a region in outage refuses."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import psycopg
import pytest
from db_helpers import databases, failover, wait_databases

from drctl.cli.app import run

pytestmark = [pytest.mark.twin]


def resolve(twin: Any, name: str) -> tuple[str, int]:
    """`name`'s address as the lab's DNS server answers it (asked directly, like [route53] name_servers), TTL."""
    query = dns.message.make_query(name, dns.rdatatype.A)
    response = dns.query.udp(query, "127.0.0.1", port=int(twin.info.dns["port"]), timeout=2)
    [rrset] = response.answer
    [address] = [r.address for r in rrset]
    return str(address), int(rrset.ttl)


def endpoints(twin: Any) -> dict[str, Any]:
    """The endpoint names as the RDS API returns them through the lab's gateway (region -> cluster's)."""
    out: dict[str, Any] = {}
    for region in ("us-east-1", "us-west-2"):
        [cluster] = twin.client("rds", region).describe_db_clusters()["DBClusters"]
        out[region] = cluster
    [gc] = twin.client("rds", "us-east-1").describe_global_clusters()["GlobalClusters"]
    out["global"] = gc
    return out


def connect(twin: Any, stack: Path, name: str, port: int) -> psycopg.Connection[Any]:
    """A plain client: the name resolved through the lab's DNS, TLS-free, at the port the API reports."""
    creds = tomllib.loads(stack.read_text())["canary"]["static_credentials"]
    address, _ = resolve(twin, name)
    return psycopg.connect(
        host=name, hostaddr=address, port=port, dbname="postgres", user=creds["user"],
        password=creds["password"], autocommit=True, connect_timeout=3,
    )  # fmt: skip


def server_of(conn: psycopg.Connection[Any]) -> tuple[bool, int]:
    row = conn.execute("SELECT pg_is_in_recovery(), inet_server_port()").fetchone()
    assert row is not None
    return bool(row[0]), int(row[1])


def test_endpoints_lead_to_the_right_server_through_a_switchover_and_an_outage(
    db_seeded: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    twin, stack = db_seeded
    eps = endpoints(twin)
    east, west, gc = eps["us-east-1"], eps["us-west-2"], eps["global"]
    writer_endpoint = gc["Endpoint"]  # added by the lab where the emulator leaves it out; the global name first
    assert writer_endpoint.startswith(gc["GlobalClusterIdentifier"] + ".global-")
    assert east["Port"] == west["Port"] == 5432  # the emulator's Port, as it reports it (never rewritten)
    address, ttl = resolve(twin, writer_endpoint)
    assert address.startswith("127.") and address != "127.0.0.1" and ttl == 5
    names = (writer_endpoint, east["Endpoint"], west["Endpoint"])
    assert len({resolve(twin, e)[0] for e in names}) == 3, names
    view = databases(twin)
    server = {r: d["server_port"] for r, d in view["regions"].items()}
    listed = view["endpoints"][writer_endpoint]  # as `drctl lab status --json` shows it
    assert (listed["kind"], listed["address"], listed["port"]) == ("global", address, 5432) and listed["listening"]

    # Before: the global writer endpoint is us-east-1's writer; us-west-2's cluster endpoint is read-only.
    with connect(twin, stack, writer_endpoint, east["Port"]) as conn:
        assert server_of(conn) == (False, server["us-east-1"])
    with connect(twin, stack, east["ReaderEndpoint"], east["Port"]) as conn:  # no replicas: the primary
        assert server_of(conn) == (False, server["us-east-1"])
    with connect(twin, stack, west["Endpoint"], west["Port"]) as conn:
        assert server_of(conn) == (True, server["us-west-2"])

    rc, report = failover(capsys, stack, "--to", "secondary")
    assert rc == 0, report["_stderr"]
    wait_databases(twin, "us-west-2")  # the old writer rebuilt as a standby

    # After: the same global writer endpoint name reaches the new writer in us-west-2, which takes writes.
    with connect(twin, stack, writer_endpoint, west["Port"]) as conn:
        assert server_of(conn) == (False, server["us-west-2"])
        conn.execute("CREATE TABLE IF NOT EXISTS endpoint_probe (at timestamptz)")
        conn.execute("INSERT INTO endpoint_probe VALUES (now())")
    with connect(twin, stack, east["Endpoint"], east["Port"]) as conn:  # the old primary's: now read-only
        assert server_of(conn) == (True, server["us-east-1"])
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO endpoint_probe VALUES (now())")

    # drctl's canary, given only the global writer endpoint's name: resolved through the stack's [route53]
    # name_servers (the lab's DNS; the system resolver does not know it), it writes to the new writer.
    global_ep = f"{writer_endpoint}:{west['Port']}"
    assert tomllib.loads(stack.read_text())["canary"]["endpoint"] == global_ep
    capsys.readouterr()
    rc = run(["canary", "run", "--stack", str(stack), "--endpoint", global_ep, "--database", "postgres",
              "--duration", "0.5", "--json"])  # fmt: skip
    out = capsys.readouterr()
    assert out.out.strip(), out.err
    result = json.loads(out.out)
    assert rc == 0 and result["acked"] > 0 and result["missing"] == 0, result
    assert result["read_from"] == global_ep

    # An outage of us-east-1: its endpoints refuse; the global writer endpoint (us-west-2 writes) still answers.
    assert twin.cli("lab", "outage", "us-east-1").returncode == 0
    try:
        for name in (east["Endpoint"], east["ReaderEndpoint"]):
            with pytest.raises(psycopg.OperationalError, match="refused"):
                connect(twin, stack, name, east["Port"]).close()
        with connect(twin, stack, writer_endpoint, west["Port"]) as conn:
            assert server_of(conn) == (False, server["us-west-2"])
    finally:
        assert twin.cli("lab", "restore").returncode == 0
