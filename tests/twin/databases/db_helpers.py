"""Helpers of the lab-database twin tests."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from drctl.cli.app import run


def databases(twin: Any) -> dict[str, Any]:
    view: dict[str, Any] = twin.control.databases()
    return view


def wait_databases(twin: Any, writer: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """Until `writer` writes, the other region streams from it, and the lab has published a measured lag."""
    since = time.time()
    end = time.monotonic() + timeout_s
    view: dict[str, Any] = {}
    while time.monotonic() < end:
        view = databases(twin)
        roles = {r: d["role"] for r, d in view.get("regions", {}).items()}
        last = twin.control.signals().get("last_published") or {}
        measured = [r for r in last.get("rds", []) if r.get("source", "").startswith("measured")]
        if (
            view.get("writer") == writer
            and sorted(roles.values()) == ["standby", "writer"]
            and view.get("wal_stream") == "flowing"
            and float(last.get("ts", 0)) > since
            and measured
        ):
            return view
        time.sleep(0.2)
    raise AssertionError(f"the lab's databases did not settle with writer {writer}: {json.dumps(view)[:2000]}")


def failover(capsys: pytest.CaptureFixture[str], stack: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """`drctl failover --json` in process: exit code and the report (+ "_stderr")."""
    rc = run(["failover", "--stack", str(stack), "--yes", "--json", *args])
    captured = capsys.readouterr()
    report = json.loads(captured.out) if captured.out.strip() else {}
    return rc, {**report, "_stderr": captured.err}
