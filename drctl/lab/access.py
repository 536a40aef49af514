"""How a client reaches the twin: its static test credentials, its account id, the stack file's [aws] table.

Facts of the twin, defined here once; the lab's own clients, its seed and `drctl deploy --lab` (which sits above
the lab and imports them) all use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

LAB_ACCESS_KEY = "test"
LAB_SECRET_KEY = "test"
LAB_ACCOUNT_ID = "000000000000"


def lab_aws_section(endpoints: Mapping[str, str]) -> dict[str, Any]:
    """The stack file's [aws] table for the twin: its endpoints and static test credentials."""
    return {
        "endpoints": dict(endpoints),
        "static_credentials": {"access_key_id": LAB_ACCESS_KEY, "secret_access_key": LAB_SECRET_KEY},
        "account_id": LAB_ACCOUNT_ID,
    }


def name_servers_section(dns: Mapping[str, Any]) -> dict[str, Any]:
    """The stack file's [route53] name_servers for the lab's DNS server: ask it, not the system resolver."""
    return {"name_servers": [f"{dns['host']}:{dns['port']}"]} if dns else {}


LAB_HEALTH_PATH = "/health"  # the lab's target groups' health check path (terraform's health_check_path default)


def probe_section(http: Mapping[str, Any], record_name: str, path: str = LAB_HEALTH_PATH) -> dict[str, Any]:
    """The stack file's [probe] table for the lab: GET the record name on the lab's load balancer port, so the
    "target serving" probe is on by default in the lab (the lab's listeners are HTTP only)."""
    if not http or not record_name:
        return {}
    return {"probe": {"url": f"http://{record_name.rstrip('.')}:{http['port']}{path}"}}


def canary_section(
    databases: Mapping[str, Mapping[str, Any]], lab_dir: Path, writer_endpoint: str = ""
) -> dict[str, Any]:
    """The stack file's [canary] table for the lab's databases (drctl/lab/databases.py): the global writer
    endpoint first when known (`writer_endpoint`, "name:port", resolved through [route53] name_servers: the
    lab's DNS), then the regions' front ports (the writer is the one that accepts writes), the lab's static
    database credentials, and the canary on for every `drctl failover`, so each lab run reports the ground truth
    beside the estimate. Empty when the lab runs no databases."""
    from drctl.lab.databases import DATABASE, credentials

    creds = credentials(lab_dir)
    if not databases or creds is None:
        return {}
    return {
        "canary": {
            **({"endpoint": writer_endpoint} if writer_endpoint else {}),
            "endpoints": {region: f"{d['host']}:{d['port']}" for region, d in databases.items()},
            "database": DATABASE,
            "on_failover": True,
            "static_credentials": {"user": creds.user, "password": creds.password},
        }
    }
