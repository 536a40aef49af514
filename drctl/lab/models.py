"""The lab gateway's models: what no emulator models (health checks, transition durations, target health,
simulated signals), plugged into the gateway's chain after fault injection and before the emulator.

Contract with drctl/lab/gateway.py: `build_models(...)` returns a ModelSet with `.middlewares`, `.admin()`
for the model endpoints under /_lab/, `.start()`/`.stop()` for the signals thread and `.reset()` after an
emulator reset. The gateway sets `models.is_region_down` (a callable: is this region in outage?) so the
models see outages; until it does, no region is down.

Model state that must survive a gateway restart lives as JSON under `<home>/models/`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from drctl.lab.access import LAB_ACCESS_KEY, LAB_SECRET_KEY
from drctl.lab.alarm_readback import AlarmReadback
from drctl.lab.capacity import Capacity
from drctl.lab.dns import LabZones
from drctl.lab.health import HealthChecks, HealthCheckStore
from drctl.lab.http import LabResponse, Middleware
from drctl.lab.signals import Profile, Signals
from drctl.lab.transitions import Transitions


@dataclass
class Durations:
    """Modelled durations in seconds (scaled down from AWS's minutes)."""

    switchover_s: float = 3.0
    failover_s: float = 3.0
    promote_s: float = 3.0
    warmup_s: float = 3.0


class LabWorld:
    """The lab's view of the world, shared by the models: outages, app faults, durations, emulator clients."""

    def __init__(self, emulator_url: str, regions: tuple[str, str]) -> None:
        self.emulator_url = emulator_url
        self.regions: tuple[str, ...] = regions
        self.region_down: Callable[[str], bool] = lambda region: False
        self.app_faults: set[str] = set()
        self.durations = Durations()
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}

    def is_region_down(self, region: str) -> bool:
        return self.region_down(region)

    def app_failing(self, region: str) -> bool:
        return region in self.app_faults

    def client(self, service: str, region: str) -> Any:
        """A boto3 client straight to the emulator (lab-only code: no gateway faults, no drctl factory)."""
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                import boto3
                import botocore.config

                config = botocore.config.Config(
                    connect_timeout=2, read_timeout=10, retries={"mode": "standard", "max_attempts": 2}
                )
                self._clients[key] = boto3.session.Session().client(
                    service,
                    region_name=region,
                    endpoint_url=self.emulator_url,
                    aws_access_key_id=LAB_ACCESS_KEY,
                    aws_secret_access_key=LAB_SECRET_KEY,
                    config=config,
                )
            return self._clients[key]

    def alarm_state(self, region: str, name: str) -> str | None:
        """The alarm's StateValue in the emulator, None if it does not exist or cannot be read."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = self.client("cloudwatch", region).describe_alarms(AlarmNames=[name])
        except (BotoCoreError, ClientError):
            return None
        alarms = resp.get("MetricAlarms", []) + resp.get("CompositeAlarms", [])
        return str(alarms[0]["StateValue"]) if alarms else None


class ModelSet:
    """Everything the gateway plugs in from here."""

    def __init__(self, emulator_url: str, regions: tuple[str, str], home: Path) -> None:
        self.dir = home / "models"
        self.world = LabWorld(emulator_url, regions)
        self.health = HealthChecks(HealthCheckStore(self.dir / "health_checks.json"), self.world)
        self.transitions = Transitions(self.world)
        self.capacity = Capacity(self.world, self.dir / "capacity.json")
        self.signals = Signals(self.world, self.transitions)
        # Route53 evaluates continuously: keep LastKnownStatus and last failures current between reads.
        self.signals.on_tick = self.health.lab_view
        # The lab's authoritative DNS (drctl/lab/dns.py) answers from the zones and this health model.
        self.dns_zones = LabZones(self.world, self.health.store)
        self.middlewares: list[Middleware] = [self.health, self.transitions, self.capacity, AlarmReadback()]
        self._load()

    @property
    def is_region_down(self) -> Callable[[str], bool]:
        return self.world.region_down

    @is_region_down.setter
    def is_region_down(self, fn: Callable[[str], bool]) -> None:
        self.world.region_down = fn

    # lifecycle
    def start(self) -> None:
        self.signals.start()

    def stop(self) -> None:
        self.signals.stop()

    def reset(self) -> None:
        """The emulator was wiped: forget everything modelled about its resources, back to defaults."""
        self.health.store.clear()
        self.transitions.clear()
        self.capacity.clear()
        self.world.app_faults.clear()
        self.world.durations = Durations()
        self.signals.profile = Profile()
        self._save()

    # persisted settings (health checks and capacity persist themselves)
    def _path(self) -> Path:
        return self.dir / "settings.json"

    def _load(self) -> None:
        if not self._path().exists():
            return
        data = json.loads(self._path().read_text())
        self.world.app_faults = set(data.get("app_faults", []))
        self.world.durations = Durations(**data.get("durations", {}))
        self.signals.profile = Profile(**data.get("profile", {}))

    def _save(self) -> None:
        data = {
            "app_faults": sorted(self.world.app_faults),
            "durations": asdict(self.world.durations),
            "profile": asdict(self.signals.profile),
        }
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self._path().with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self._path())

    # admin API
    def admin(self, method: str, path: str, body: dict[str, Any]) -> LabResponse | None:
        name = path.removeprefix("/_lab/").strip("/")
        handler = _ADMIN.get((method, name))
        if handler is None:
            return None
        try:
            result = handler(self, body)
        except (KeyError, TypeError, ValueError) as e:
            return LabResponse.json(400, {"error": f"{type(e).__name__}: {e}"})
        return LabResponse.json(200, result)

    def _set_lag(self, body: dict[str, Any]) -> dict[str, Any]:
        self.signals.profile.lag_ms = _non_negative(body["ms"], "ms")
        self._save()
        return self.signals.view()

    def _set_backlog(self, body: dict[str, Any]) -> dict[str, Any]:
        profile = self.signals.profile
        profile.backlog_operations = _non_negative(body.get("operations", 0), "operations")
        profile.backlog_bytes = _non_negative(body.get("bytes", 0), "bytes")
        profile.replication_latency_s = _non_negative(body.get("latency_s", 0), "latency_s")
        self._save()
        return self.signals.view()

    def _set_app_fault(self, body: dict[str, Any]) -> dict[str, Any]:
        region = str(body["region"])
        if region not in self.world.regions:
            raise ValueError(f"unknown region {region!r}; the lab has {', '.join(self.world.regions)}")
        if body.get("failing", True):
            self.world.app_faults.add(region)
        else:
            self.world.app_faults.discard(region)
        self._save()
        return {"app_faults": sorted(self.world.app_faults)}

    def _set_durations(self, body: dict[str, Any]) -> dict[str, Any]:
        known = {f.name for f in fields(Durations)}
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown duration {sorted(unknown)[0]!r}; known: {', '.join(sorted(known))}")
        for key, value in body.items():
            setattr(self.world.durations, key, _non_negative(value, key))
        self._save()
        return {"durations": asdict(self.world.durations)}

    def _health(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "lab": True,
            "health_checks": self.health.lab_view(),
            "app_faults": sorted(self.world.app_faults),
            "durations": asdict(self.world.durations),
            "transitions": self.transitions.view(),
            "signals": self.signals.view(),
        }

    def _signals(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.signals.view()


def _non_negative(value: Any, name: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError(f"{name} must not be negative")
    return number


_ADMIN: dict[tuple[str, str], Callable[[ModelSet, dict[str, Any]], dict[str, Any]]] = {
    ("POST", "lag"): ModelSet._set_lag,
    ("POST", "backlog"): ModelSet._set_backlog,
    ("POST", "app-fault"): ModelSet._set_app_fault,
    ("POST", "durations"): ModelSet._set_durations,
    ("GET", "health"): ModelSet._health,
    ("GET", "signals"): ModelSet._signals,
}


def build_models(*, emulator_url: str, regions: tuple[str, str], home: Path) -> ModelSet:
    """The gateway's entry point (drctl/lab/gateway.py)."""
    return ModelSet(emulator_url, regions, home)
