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
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from drctl.lab.access import LAB_ACCESS_KEY, LAB_SECRET_KEY
from drctl.lab.alarm_readback import AlarmReadback
from drctl.lab.alarms import AlarmClock
from drctl.lab.albs import LabBackend
from drctl.lab.capacity import Capacity
from drctl.lab.databases import Databases, port_role
from drctl.lab.dbendpoints import DbEndpoints
from drctl.lab.dns import LabZones
from drctl.lab.health import HealthChecks, HealthCheckStore
from drctl.lab.http import LabResponse, Middleware
from drctl.lab.signals import LAG_DIMENSIONS, Profile, Signals
from drctl.lab.transitions import Transitions


@dataclass
class Durations:
    """Modelled durations in seconds, by default of the magnitudes AWS documents (tests and demos set short ones:
    SHORT_DURATIONS).

    - switchover_s, failover_s: "Typically, the chosen secondary cluster assumes the primary role within a few
      minutes" (Aurora User Guide, Using switchover or failover in Amazon Aurora Global Database:
      https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html;
      RTO "in the order of minutes").
    - promote_s: a detached secondary takes "full read-write responsibilities in under a minute" (AWS
      Well-Architected DR workshop, Aurora: https://wellarchitectedlabs.com/reliability/disaster-recovery/
      workshop_4/5-failover/5.1-aurora/).
    - resync_s: the old primary's rebuild after a managed failover "can take a few minutes to several hours"
      (same user guide page); 30 minutes here.
    - retention_day_s: how long one day of backup retention lasts (the unplanned-failover snapshot is kept for
      the old primary's BackupRetentionPeriod days).
    - warmup_s: a new instance turning healthy behind the load balancer: the Terraform gives a new instance
      `health_check_grace_period = 120` s to boot (terraform/modules/region/app.tf), and its target group's
      health check turns it healthy after `healthy_threshold` 2 x `interval` 10 s (ALB target group health
      checks: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html);
      120 s in all is the lab's choice of magnitude (AWS documents no boot time).

    These are AWS seconds; the lab runs them times its time scale (`at_scale`, `drctl lab up --time-scale`).
    `drctl lab durations` / LabControl.set_durations set lab seconds directly.
    """

    switchover_s: float = 120.0
    failover_s: float = 120.0
    promote_s: float = 60.0
    warmup_s: float = 120.0
    resync_s: float = 1800.0
    retention_day_s: float = 86400.0

    @classmethod
    def at_scale(cls, time_scale: float, **lab_seconds: float) -> Durations:
        """AWS's magnitudes on the lab clock (times `time_scale`), with any given lab seconds on top."""
        aws = cls()
        scaled = {f.name: getattr(aws, f.name) * time_scale for f in fields(cls)}
        return cls(**{**scaled, **lab_seconds})


# Seconds-scale durations for tests, benches and the demo (the AWS magnitudes above would make each run minutes).
SHORT_DURATIONS: dict[str, float] = {
    "switchover_s": 1.5,
    "failover_s": 1.0,
    "promote_s": 1.0,
    "warmup_s": 0.5,
    "resync_s": 1.0,
}


class LabWorld:
    """The lab's view of the world, shared by the models: outages, app faults, durations, emulator clients."""

    def __init__(self, emulator_url: str, regions: tuple[str, str]) -> None:
        self.emulator_url = emulator_url
        self.regions: tuple[str, ...] = regions
        self.region_down: Callable[[str], bool] = lambda region: False
        self.app_faults: set[str] = set()
        self.durations = Durations()
        self.alarm_reader: Callable[[str, str], str | None] | None = None  # the lab's alarm states (alarms.py)
        self.alarm_since_reader: Callable[[str, str], float | None] | None = None  # when they last changed
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

    def _up_region(self) -> str:
        return next((r for r in self.regions if not self.is_region_down(r)), self.regions[0])

    def global_members(self) -> list[tuple[str, str, bool]]:
        """(global cluster id, member ARN, IsWriter) as the emulator has them (completed operations)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = self.client("rds", self._up_region()).describe_global_clusters()
        except (BotoCoreError, ClientError):
            return []
        return [
            (gc["GlobalClusterIdentifier"], m["DBClusterArn"], bool(m.get("IsWriter")))
            for gc in resp.get("GlobalClusters", [])
            for m in gc.get("GlobalClusterMembers", [])
        ]

    def backup_retention_days(self, cluster_arn: str) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        region = cluster_arn.split(":")[3]
        try:
            rds = self.client("rds", region)
            clusters = rds.describe_db_clusters(DBClusterIdentifier=cluster_arn)["DBClusters"]
        except (BotoCoreError, ClientError):
            return 1
        return int(clusters[0].get("BackupRetentionPeriod") or 1) if clusters else 1

    def create_cluster_snapshot(self, cluster_arn: str, snapshot_id: str) -> None:
        region, name = cluster_arn.split(":")[3], cluster_arn.rsplit(":", 1)[-1]
        self.client("rds", region).create_db_cluster_snapshot(
            DBClusterSnapshotIdentifier=snapshot_id, DBClusterIdentifier=name
        )

    def delete_cluster_snapshot(self, region: str, snapshot_id: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client("rds", region).delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=snapshot_id)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in ("DBClusterSnapshotNotFoundFault",):
                raise

    def alarm_changed_at(self, region: str, name: str) -> float | None:
        """When the lab's alarm last changed state (epoch seconds), None if unknown."""
        return self.alarm_since_reader(region, name) if self.alarm_since_reader is not None else None

    def alarm_state(self, region: str, name: str) -> str | None:
        """The alarm's StateValue as the lab evaluates it, None if it does not exist or cannot be read."""
        from botocore.exceptions import BotoCoreError, ClientError

        if self.alarm_reader is not None:
            try:
                return self.alarm_reader(region, name)
            except (BotoCoreError, ClientError):
                return None

        try:
            resp = self.client("cloudwatch", region).describe_alarms(AlarmNames=[name])
        except (BotoCoreError, ClientError):
            return None
        alarms = resp.get("MetricAlarms", []) + resp.get("CompositeAlarms", [])
        return str(alarms[0]["StateValue"]) if alarms else None


class ModelSet:
    """Everything the gateway plugs in from here."""

    def __init__(
        self,
        emulator_url: str,
        regions: tuple[str, str],
        home: Path,
        time_scale: float = 1.0,
        ports: Mapping[str, int] | None = None,
        databases: bool = False,
    ) -> None:
        self.dir = home / "models"
        self.time_scale = time_scale
        self.world = LabWorld(emulator_url, regions)
        self.world.durations = Durations.at_scale(time_scale)
        store = HealthCheckStore(self.dir / "health_checks.json", time_scale=time_scale)
        self.health = HealthChecks(store, self.world)
        self.alarms = AlarmClock(self.world, time_scale)
        self.world.alarm_reader = self.alarms.state
        self.world.alarm_since_reader = self.alarms.state_since
        self.transitions = Transitions(self.world)
        self.capacity = Capacity(self.world, self.dir / "capacity.json")
        self.signals = Signals(self.world, self.transitions, time_scale, target_health=self.capacity)
        self.signals.put_metric_data = self.alarms.put_metric_data
        # Real PostgreSQL behind the global clusters (drctl/lab/databases.py), when the lab has them.
        given = dict(ports or {}) if databases else {}
        fronts = {r: int(given[port_role(r)]) for r in regions if port_role(r) in given}
        self.databases = Databases(self.world, home, fronts)
        if fronts:
            self.signals.lag_source = self.databases
        # Their Aurora endpoints (cluster, reader, global writer): names the lab's DNS answers, listeners that lead
        # to the right server (drctl/lab/dbendpoints.py); per-lab addresses, salted with the lab's folder.
        self.db_endpoints = DbEndpoints(self.world, self.databases, str(home.absolute()))
        # Route53 evaluates continuously: keep LastKnownStatus and last failures current between reads.
        self.signals.on_tick = self._tick
        # The lab's authoritative DNS (drctl/lab/dns.py) answers from the zones and this health model.
        self.dns_zones = LabZones(self.world, self.health.store, self.db_endpoints.addresses)
        # The lab's load balancers' data plane (drctl/lab/albs.py) answers by this capacity model's target health.
        self.alb_backend = LabBackend(self.world, self.capacity)
        self.middlewares: list[Middleware] = [
            self.health, self.databases.middleware, self.db_endpoints.middleware, self.transitions, self.capacity,
            self.alarms, AlarmReadback(),
        ]  # fmt: skip
        self._load()

    @property
    def is_region_down(self) -> Callable[[str], bool]:
        return self.world.region_down

    @is_region_down.setter
    def is_region_down(self, fn: Callable[[str], bool]) -> None:
        self.world.region_down = fn

    def _tick(self) -> None:
        self.transitions.tick()
        self.health.lab_view()

    # lifecycle
    def start(self) -> None:
        self.signals.start()
        self.alarms.start()
        self.databases.start()
        self.db_endpoints.start()

    def stop(self) -> None:
        self.db_endpoints.stop()
        self.databases.stop()
        self.alarms.stop()
        self.signals.stop()

    def regions_changed(self) -> None:
        """An outage began or ended (the gateway calls this): the databases' front ports and WAL stream follow."""
        self.databases.apply_network()
        self.db_endpoints.refresh(reread=False)

    def reset(self) -> None:
        """The emulator was wiped: forget everything modelled about its resources, back to defaults."""
        self.health.store.clear()
        self.alarms.clear()
        self.transitions.clear()
        self.capacity.clear()
        self.world.app_faults.clear()
        self.world.durations = Durations.at_scale(self.time_scale)
        self.signals.profile = Profile()
        self.databases.set_delay(0.0)  # the servers stay (shared): the next global cluster's writer takes over
        self.signals.forget_topology()
        self._save()

    # persisted settings (health checks and capacity persist themselves)
    def _path(self) -> Path:
        return self.dir / "settings.json"

    def _load(self) -> None:
        if not self._path().exists():
            return
        data = json.loads(self._path().read_text())
        self.world.app_faults = set(data.get("app_faults", []))
        self.world.durations = Durations.at_scale(self.time_scale, **data.get("durations", {}))
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
        self.databases.set_delay(self.signals.profile.lag_ms)  # with databases: the WAL stream's real delay
        if "dimensions" in body:
            dims = str(body["dimensions"])
            if dims not in LAG_DIMENSIONS:
                raise ValueError(f"unknown dimensions {dims!r}; known: {', '.join(LAG_DIMENSIONS)}")
            self.signals.profile.lag_dimensions = dims
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

    def _set_capacity_limit(self, body: dict[str, Any]) -> dict[str, Any]:
        region = str(body["region"])
        if region not in self.world.regions:
            raise ValueError(f"unknown region {region!r}; the lab has {', '.join(self.world.regions)}")
        instances = body.get("instances")
        if instances is not None and (
            isinstance(instances, bool) or not isinstance(instances, int) or instances < 0
        ):
            raise ValueError(f"instances must be a whole number of at least 0, got {instances!r}")
        return {"capacity_limits": self.capacity.set_limit(region, instances)}

    def _health(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "lab": True,
            "health_checks": self.health.lab_view(),
            "app_faults": sorted(self.world.app_faults),
            "capacity_limits": dict(self.capacity.limits),
            "durations": asdict(self.world.durations),
            "transitions": self.transitions.view(),
            **self.transitions.rebuild_view(),
            "signals": self.signals.view(),
            "clock": self.alarms.view(),
        }

    def _clock(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"lab": True, **self.alarms.view()}

    def _signals(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.signals.view()

    def _databases(self, body: dict[str, Any]) -> dict[str, Any]:
        return {**self.databases.view(), "endpoints": self.db_endpoints.status()["endpoints"]}

    def _start_databases(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self.databases.front_ports:
            raise ValueError("this lab has no databases (started with --no-databases)")
        self.databases.provision()
        return self.databases.view()


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
    ("POST", "capacity-limit"): ModelSet._set_capacity_limit,
    ("GET", "health"): ModelSet._health,
    ("GET", "signals"): ModelSet._signals,
    ("GET", "clock"): ModelSet._clock,
    ("GET", "databases"): ModelSet._databases,
    ("POST", "databases/start"): ModelSet._start_databases,
}


def build_models(
    *,
    emulator_url: str,
    regions: tuple[str, str],
    home: Path,
    time_scale: float = 1.0,
    ports: Mapping[str, int] | None = None,
    databases: bool = False,
) -> ModelSet:
    """The gateway's entry point (drctl/lab/gateway.py)."""
    return ModelSet(emulator_url, regions, home, time_scale, ports, databases)
