"""RPO of a run, labelled with where it comes from, and drctl's own process age (the start of the RTO clock).

RPO: planned switchovers are lossless (0, measured: AWS promotes only once the target has caught up); an
unplanned failover's RPO is an estimate, a lower bound: the last lag sample (per-minute, up to minutes old)
says how far behind the secondary was then, and the secondary cannot know what the primary committed later.
The RTO split into phases: drctl.journal.phases.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from drctl.failover.plan import PLANNED


def measure_rpo(mode: str, sample: dict[str, Any] | None, preflight_lag: dict[str, Any] | None) -> dict[str, Any]:
    rpo = _database_rpo(mode, (sample or {}).get("lag") or preflight_lag)
    s3 = (sample or {}).get("s3")
    if s3:
        rpo["s3_backlog"] = s3
        if s3.get("operations_pending") is not None:
            ops, size = s3["operations_pending"], s3.get("bytes_pending") or 0
            rpo["evidence"] += (
                f"; S3 replication backlog {ops:g} objects / {size:g} bytes in {s3.get('bucket')} "
                f"at {s3.get('timestamp')}"
            )
    return rpo


def _database_rpo(mode: str, lag: dict[str, Any] | None) -> dict[str, Any]:
    if mode == PLANNED:
        seen = (
            f"lag was {lag['value_ms']:g} ms ({lag['metric']} at {lag['timestamp']})" if lag else "no lag sample"
        )
        return {
            "rpo_s": 0.0,
            "source": "switchover (lossless: the target is promoted only once caught up)",
            "evidence": f"SwitchoverGlobalCluster; {seen} when it was sent",
            "estimate": False,
        }
    if not lag:
        return {
            "rpo_s": None,
            "source": "unknown: no lag sample near the promotion",
            "evidence": "",
            "estimate": True,
        }
    return {
        "rpo_s": round(float(lag["value_ms"]) / 1000.0, 3),
        "source": f"estimate (a lower bound) from {lag['metric']} of {lag['cluster_id']} in {lag['region']}",
        "evidence": f"last lag sample {lag['value_ms']:g} ms at {lag['timestamp']} (age {lag['age_s']:g} s when "
        "read); it cannot see what the old primary committed after replication stopped or after the sample",
        "estimate": True,
        "basis": {
            "metric": lag["metric"],
            "value_ms": lag["value_ms"],
            "timestamp": lag["timestamp"],
            "age_s": lag["age_s"],
            "cannot_see": "commits on the old primary after the sample or after replication stopped",
        },
    }


def process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc; None elsewhere), so RTO includes drctl's own start-up
    when drctl is the process — not when it runs inside another one (tests calling the CLI in process)."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    if not (argv0.name == "drctl" or (argv0.name == "__main__.py" and argv0.parent.name == "drctl")):
        return None
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"))  # field 22: starttime in ticks
    except (OSError, ValueError, IndexError):
        return None
