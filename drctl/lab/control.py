"""LabControl: a client of the lab admin API (`/_lab/...`, JSON over loopback HTTP; stdlib only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from drctl.errors import DrctlError, ExitCode


class LabControl:
    """Inject outages, latency, faults and model settings into a running lab; read its request log."""

    def __init__(self, admin_url: str, *, timeout: float = 30.0) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.timeout = timeout

    # gateway
    def status(self) -> dict[str, Any]:
        return self._call("GET", "status")

    def outage(self, region: str, *, route53: bool = False) -> dict[str, Any]:
        """Close `region`'s endpoint (connections refused); with `route53`, the global endpoint too."""
        return self._call("POST", "outage", {"region": region, "route53": route53})

    def restore(self, region: str | None = None) -> dict[str, Any]:
        """Reopen `region`'s endpoint (and the global one if it went down with it); None: every endpoint."""
        return self._call("POST", "restore", {"region": region} if region else {})

    def set_latency(self, ms: float, jitter_ms: float = 0.0) -> dict[str, Any]:
        return self._call("POST", "latency", {"ms": ms, "jitter_ms": jitter_ms})

    def set_faults(
        self,
        throttle_rate: float = 0.0,
        error_rate: float = 0.0,
        *,
        fail: list[str] | None = None,
        lose_answer: list[str] | None = None,
    ) -> dict[str, Any]:
        """Rates of throttling and 500s over all calls; per operation: `fail` answers InternalFailure without
        acting, `lose_answer` acts on the call and then drops the connection unanswered. Replaces all faults."""
        body = {
            "throttle_rate": throttle_rate,
            "error_rate": error_rate,
            "fail": list(fail or []),
            "lose_answer": list(lose_answer or []),
        }
        return self._call("POST", "faults", body)

    def requests(self) -> list[dict[str, Any]]:
        """The gateway's request log: ts, port_role, region, service, operation, status (+ params if mutating)."""
        rows = self._call("GET", "requests")["requests"]
        assert isinstance(rows, list)
        return rows

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def reset(self) -> None:
        """Wipe the emulator, reset the models, restore every endpoint, clear faults, latency and the log."""
        self._call("POST", "reset")

    # models (drctl/lab/models.py)
    def set_app_fault(self, region: str, failing: bool = True) -> dict[str, Any]:
        return self._call("POST", "app-fault", {"region": region, "failing": failing})

    def set_capacity_limit(self, region: str, instances: int | None) -> dict[str, Any]:
        """Cap the instances each Auto Scaling group in `region` can launch (InsufficientInstanceCapacity);
        None lifts the cap."""
        return self._call("POST", "capacity-limit", {"region": region, "instances": instances})

    def set_durations(self, **seconds: float) -> dict[str, Any]:
        """switchover_s, failover_s, promote_s, warmup_s, resync_s, retention_day_s (drctl/lab/models.py)."""
        return self._call("POST", "durations", dict(seconds))

    def set_lag(self, ms: float, dimensions: str | None = None) -> dict[str, Any]:
        """The published lag; `dimensions`: source-region (as AWS, the default), cluster, or both."""
        body: dict[str, Any] = {"ms": ms}
        if dimensions is not None:
            body["dimensions"] = dimensions
        return self._call("POST", "lag", body)

    def set_backlog(self, operations: int, bytes_: int) -> dict[str, Any]:
        return self._call("POST", "backlog", {"operations": operations, "bytes": bytes_})

    def clock(self) -> dict[str, Any]:
        """The lab's time scale and alarm states, and recent alarm evaluations (drctl/lab/alarms.py)."""
        return self._call("GET", "clock")

    def signals(self) -> dict[str, Any]:
        """The simulated-signal profile and the last round published (drctl/lab/signals.py)."""
        return self._call("GET", "signals")

    def databases(self) -> dict[str, Any]:
        """The lab's PostgreSQL servers: each region's front port, role and writer (drctl/lab/databases.py)."""
        return self._call("GET", "databases")

    def start_databases(self) -> dict[str, Any]:
        """Start the lab's databases now, without waiting for a global cluster."""
        return self._call("POST", "databases/start", {})

    def health(self) -> dict[str, Any]:
        """The lab's view of every Route53 health check (incl. CALCULATED)."""
        return self._call("GET", "health")

    def _call(self, method: str, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.admin_url}/_lab/{name}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            detail = _error_detail(e)
            raise DrctlError(f"lab refused {method} /_lab/{name}: {detail}", code=ExitCode.LAB) from e
        except (urllib.error.URLError, OSError) as e:
            raise DrctlError(
                f"the lab does not answer at {self.admin_url}", code=ExitCode.LAB, hint="start it: drctl lab up"
            ) from e
        if not isinstance(payload, dict):
            raise DrctlError(f"lab answered {method} /_lab/{name} with non-JSON-object", code=ExitCode.LAB)
        return payload


def _error_detail(e: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(e.read() or b"{}")
    except ValueError:
        body = {}
    return str(body.get("error") or body.get("message") or f"HTTP {e.code}") if isinstance(body, dict) else str(e)
