"""Modelled durations and after-effects of the RDS global-database operations the emulator makes instant.

ministack completes SwitchoverGlobalCluster, FailoverGlobalCluster and RemoveFromGlobalCluster at once (its
response already shows the transitional state; the next describe shows the end state). The lab forwards the
operation immediately — so the emulator validates it with its own realistic faults, and it completes even if
the client dies right after sending it — and then shows what AWS documents, for the configured durations:

- FailoverState (RDS API reference, FailoverState:
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverState.html): `pending` while the two
  clusters are verified (the first third of the duration), then `switching-over` (SwitchoverGlobalCluster, or
  FailoverGlobalCluster without AllowDataLoss) or `failing-over` (FailoverGlobalCluster with AllowDataLoss), with
  FromDbClusterArn, ToDbClusterArn and IsDataLossAllowed; cleared when the operation completes. Meanwhile the
  old writer still reads IsWriter and a second operation is refused (InvalidGlobalClusterStateFault).
- RemoveFromGlobalCluster detaches the named member (the emulator does), which becomes a standalone writable
  cluster: `promoting`, then `available` with a writer instance; the primary stays the global writer
  (RDS API reference, RemoveFromGlobalCluster; aws-cli example remove-from-global-cluster).
- After a managed failover (AllowDataLoss) the old primary is rebuilt as a secondary once its region answers
  (Aurora User Guide, "Recovering an Amazon Aurora global database from an unplanned outage":
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html):
  SynchronizationStatus `pending-resync` until the rebuild ends ("a few minutes to several hours"), then
  `connected`. When its region answers, an `rds:unplanned-global-failover-<old primary>-<timestamp>` cluster
  snapshot appears (a system snapshot: SnapshotType `automated`), kept for the old primary's backup retention
  period and then deleted.
- Members that are not the global writer are read-only: their instances read IsClusterWriter false.

Pending transitions, rebuilds and snapshot expiries live in memory only: a restarted gateway shows the (already
completed) end state and keeps an unplanned-failover snapshot until it is deleted.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import urlencode
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from drctl.lab.http import Forward, LabRequest, LabResponse

RDS_NS = "http://rds.amazonaws.com/doc/2014-10-31/"
_N = f"{{{RDS_NS}}}"
SNAPSHOT_PREFIX = "rds:unplanned-global-failover-"
log = logging.getLogger(__name__)


class _Durations(Protocol):
    switchover_s: float
    failover_s: float
    promote_s: float
    resync_s: float
    retention_day_s: float


class _World(Protocol):
    @property
    def durations(self) -> _Durations: ...
    def is_region_down(self, region: str) -> bool: ...
    def global_members(self) -> list[tuple[str, str, bool]]: ...
    def backup_retention_days(self, cluster_arn: str) -> int: ...
    def create_cluster_snapshot(self, cluster_arn: str, snapshot_id: str) -> None: ...
    def delete_cluster_snapshot(self, region: str, snapshot_id: str) -> None: ...


def arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def arn_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class Pending:
    """One transition in progress (the emulator has already completed it)."""

    kind: str  # "switching-over" | "failing-over" | "promoting"
    target: str  # global cluster id, or the promoted cluster's ARN
    from_arn: str
    to_arn: str
    data_loss: bool
    started: float
    duration_s: float

    def active(self, now: float) -> bool:
        return now < self.started + self.duration_s

    def phase(self, now: float) -> str:
        """FailoverState.Status: `pending` while the clusters are verified, then the operation's own status."""
        return "pending" if now < self.started + self.duration_s / 3 else self.kind

    def view(self, now: float) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "phase": self.phase(now),
            "target": self.target,
            "from": self.from_arn,
            "to": self.to_arn,
            "data_loss_allowed": self.data_loss,
            "remaining_s": round(max(self.started + self.duration_s - now, 0.0), 3),
        }


@dataclass
class Rebuild:
    """The old primary of a managed failover, rebuilt as a secondary once its region answers."""

    global_cluster: str
    cluster_arn: str
    failed_at: float  # the point of failure (the failover call)
    not_before: float  # the failover completes first
    started: float | None = None  # when its region answered and the rebuild began
    resync_s: float = 0.0

    def view(self, now: float) -> dict[str, Any]:
        left = None if self.started is None else round(max(self.started + self.resync_s - now, 0.0), 3)
        return {"cluster": self.cluster_arn, "rebuilding": self.started is not None, "remaining_s": left}


@dataclass(frozen=True)
class FailoverSnapshot:
    snapshot_id: str
    region: str
    cluster_arn: str
    expires: float


def rds_error(code: str, message: str, status: int = 400) -> LabResponse:
    body = (
        f'<ErrorResponse xmlns="{RDS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return LabResponse.xml(status, body)


def _text(elem: ET.Element | None, path: str) -> str:
    found = elem.find(path) if elem is not None else None
    return (found.text or "").strip() if found is not None else ""


class Transitions:
    """Middleware for RDS: holds the appearance of a transition for its modelled duration, and models what a
    managed failover leaves behind (the old primary's rebuild and its point-of-failure snapshot)."""

    def __init__(self, world: _World) -> None:
        self.world = world
        self._lock = threading.Lock()
        self._pending: dict[str, Pending] = {}  # by global cluster id, or by cluster ARN for promotions
        self._rebuilds: dict[str, Rebuild] = {}  # by the old primary's ARN
        self._snapshots: dict[str, FailoverSnapshot] = {}  # by snapshot identifier

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
            self._rebuilds.clear()
            self._snapshots.clear()

    def active(self) -> dict[str, Pending]:
        now = time.time()
        with self._lock:
            for key in [k for k, p in self._pending.items() if not p.active(now)]:
                del self._pending[key]
            return dict(self._pending)

    def view(self) -> list[dict[str, Any]]:
        now = time.time()
        return [p.view(now) for p in self.active().values()]

    def rebuild_view(self) -> dict[str, Any]:
        self.tick()
        now = time.time()
        with self._lock:
            return {
                "rebuilds": [r.view(now) for r in self._rebuilds.values()],
                "snapshots": [
                    {"id": s.snapshot_id, "region": s.region, "expires_in_s": round(max(s.expires - now, 0), 3)}
                    for s in self._snapshots.values()
                ],
            }

    def apparent_writer(self, global_cluster_id: str) -> str | None:
        """The writer's ARN as the lab shows it while a switchover/failover is pending, else None."""
        pending = self.active().get(global_cluster_id)
        return pending.from_arn if pending and pending.kind != "promoting" else None

    def is_resyncing(self, cluster_arn: str) -> bool:
        """Is this member rebuilt after a managed failover (SynchronizationStatus pending-resync)?"""
        with self._lock:
            return cluster_arn in self._rebuilds

    # time passing: called on every RDS request and once a second by the signals thread
    def tick(self) -> None:
        now = time.time()
        durations = self.world.durations
        starting: list[Rebuild] = []
        expired: list[FailoverSnapshot] = []
        with self._lock:  # claim work under the lock: the signals thread and requests tick concurrently
            for r in list(self._rebuilds.values()):
                if r.started is None:
                    if now >= r.not_before and not self.world.is_region_down(arn_region(r.cluster_arn)):
                        r.started, r.resync_s = now, durations.resync_s
                        starting.append(r)
                elif now >= r.started + r.resync_s:
                    del self._rebuilds[r.cluster_arn]
            for snap in list(self._snapshots.values()):
                if now >= snap.expires and not self.world.is_region_down(snap.region):
                    del self._snapshots[snap.snapshot_id]
                    expired.append(snap)
        for r in starting:
            self._snapshot_old_primary(r, now, durations)
        for snap in expired:
            try:
                self.world.delete_cluster_snapshot(snap.region, snap.snapshot_id)
            except Exception as e:  # never fail the request that happened to tick
                log.warning("lab: could not delete expired snapshot %s: %s", snap.snapshot_id, e)

    def _snapshot_old_primary(self, r: Rebuild, now: float, durations: _Durations) -> None:
        """The old primary's region answers: snapshot the old volume at the point of failure (AWS *attempts* it;
        a failure here leaves no snapshot, as on AWS), then the rebuild runs for resync_s."""
        stamp = time.strftime("%Y-%m-%d-%H-%M", time.gmtime(r.failed_at))
        snapshot_id = f"{SNAPSHOT_PREFIX}{arn_name(r.cluster_arn)}-{stamp}"
        try:
            days = self.world.backup_retention_days(r.cluster_arn)
            self.world.create_cluster_snapshot(r.cluster_arn, snapshot_id)
        except Exception as e:
            log.warning("lab: no unplanned-failover snapshot of %s: %s", r.cluster_arn, e)
        else:
            expires = now + max(days, 1) * durations.retention_day_s
            with self._lock:
                self._snapshots[snapshot_id] = FailoverSnapshot(
                    snapshot_id, arn_region(r.cluster_arn), r.cluster_arn, expires
                )
        if r.resync_s <= 0:
            with self._lock:
                self._rebuilds.pop(r.cluster_arn, None)

    def __call__(self, req: LabRequest, forward: Forward) -> LabResponse:
        if req.service != "rds":
            return forward(req)
        self.tick()
        op = req.operation
        if op in ("SwitchoverGlobalCluster", "FailoverGlobalCluster", "RemoveFromGlobalCluster"):
            return self._start(req, forward)
        if op == "DescribeGlobalClusters" and (self.active() or self._rebuilds):
            return self._rewrite(forward(req), self._rewrite_global_clusters)
        if op == "DescribeDBClusters":
            return self._rewrite(forward(req), self._rewrite_db_clusters)
        if op == "DescribeDBClusterSnapshots" and self._snapshots:
            return self._describe_snapshots(req, forward)
        if op == "CopyDBClusterSnapshot":
            return self._copy_snapshot(req, forward)
        return forward(req)

    def _start(self, req: LabRequest, forward: Forward) -> LabResponse:
        gc_id = req.params.get("GlobalClusterIdentifier", "")
        busy = self.active().get(gc_id)
        if busy is not None:
            return rds_error(
                "InvalidGlobalClusterStateFault",
                f"Global cluster {gc_id} is {busy.kind}; wait until the current operation completes.",
            )
        resp = forward(req)
        if resp.status != 200:
            return resp
        result = ET.fromstring(resp.body).find(f".//{_N}GlobalCluster")
        durations = self.world.durations
        now = time.time()
        if req.operation == "RemoveFromGlobalCluster":
            cluster = req.params.get("DbClusterIdentifier", "")
            pending = Pending("promoting", cluster, cluster, cluster, False, now, durations.promote_s)
            key = cluster
        else:
            # FailoverGlobalCluster with AllowDataLoss is a failover; without it (or with Switchover) a switchover.
            data_loss = req.operation == "FailoverGlobalCluster" and (
                req.params.get("AllowDataLoss", "").lower() == "true"
                or _text(result, f"{_N}FailoverState/{_N}IsDataLossAllowed") == "true"
            )
            kind = "failing-over" if data_loss else "switching-over"
            pending = Pending(
                kind,
                _text(result, f"{_N}GlobalClusterIdentifier") or gc_id,
                _text(result, f"{_N}FailoverState/{_N}FromDbClusterArn"),
                _text(result, f"{_N}FailoverState/{_N}ToDbClusterArn"),
                data_loss,
                now,
                durations.failover_s if data_loss else durations.switchover_s,
            )
            key = pending.target
            if data_loss and pending.from_arn:
                with self._lock:
                    self._rebuilds[pending.from_arn] = Rebuild(
                        pending.target, pending.from_arn, now, now + pending.duration_s
                    )
        if pending.duration_s > 0:
            with self._lock:
                self._pending[key] = pending
        return resp

    @staticmethod
    def _rewrite(resp: LabResponse, rewrite: Any) -> LabResponse:
        if resp.status != 200:
            return resp
        root = ET.fromstring(resp.body)
        rewrite(root)
        resp.body = ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=RDS_NS)
        return resp

    def _rewrite_global_clusters(self, root: ET.Element) -> None:
        now = time.time()
        pending = self.active()
        with self._lock:
            resyncing = set(self._rebuilds)
        for gc in root.iterfind(f".//{_N}GlobalClusters/*"):
            for member in gc.iterfind(f"{_N}GlobalClusterMembers/*"):
                if _text(member, f"{_N}DBClusterArn") in resyncing:
                    _set(member, "SynchronizationStatus", "pending-resync")
            p = pending.get(_text(gc, f"{_N}GlobalClusterIdentifier"))
            if p is None or p.kind == "promoting":
                continue
            _set(gc, "Status", p.kind)
            for member in gc.iterfind(f"{_N}GlobalClusterMembers/*"):
                writer = _text(member, f"{_N}DBClusterArn") == p.from_arn
                _set(member, "IsWriter", "true" if writer else "false")
            for old in gc.findall(f"{_N}FailoverState"):
                gc.remove(old)
            state = ET.SubElement(gc, f"{_N}FailoverState")
            for tag, value in (
                ("Status", p.phase(now)),
                ("FromDbClusterArn", p.from_arn),
                ("ToDbClusterArn", p.to_arn),
                ("IsDataLossAllowed", "true" if p.data_loss else "false"),
            ):
                ET.SubElement(state, f"{_N}{tag}").text = value

    def _rewrite_db_clusters(self, root: ET.Element) -> None:
        promoting = {k for k, p in self.active().items() if p.kind == "promoting"}
        readers = self._read_only_members() | promoting
        for cluster in root.iterfind(f".//{_N}DBClusters/*"):
            names = {_text(cluster, f"{_N}DBClusterIdentifier"), _text(cluster, f"{_N}DBClusterArn")}
            if names & promoting:
                _set(cluster, "Status", "promoting")
            if names & readers:  # a secondary (or a cluster still promoting) has no writer instance
                for member in cluster.iterfind(f"{_N}DBClusterMembers/*"):
                    _set(member, "IsClusterWriter", "false")

    def _read_only_members(self) -> set[str]:
        """ARNs of global members that are not the writer as the lab shows it."""
        members = self.world.global_members()
        if not members:
            return set()
        shown = {gc: self.apparent_writer(gc) for gc, _, _ in members}
        return {arn for gc, arn, writer in members if not (arn == shown[gc] if shown[gc] else writer)}

    def _describe_snapshots(self, req: LabRequest, forward: Forward) -> LabResponse:
        """The unplanned-failover snapshots are system snapshots: SnapshotType `automated` (the emulator only
        knows manual ones), and a SnapshotType filter sees them as such."""
        wanted = req.params.get("SnapshotType", "")
        if wanted == "automated" and req.form:
            form = {k: v for k, v in req.form.items() if k != "SnapshotType"}
            req.body = urlencode(form, doseq=True).encode()
            req.params = {k: v for k, v in req.params.items() if k != "SnapshotType"}
        resp = forward(req)
        if resp.status != 200:
            return resp
        ours = set(self._snapshots)
        root = ET.fromstring(resp.body)
        for parent in root.iterfind(f".//{_N}DBClusterSnapshots"):
            for snap in list(parent):
                automated = _text(snap, f"{_N}DBClusterSnapshotIdentifier") in ours
                if automated:
                    _set(snap, "SnapshotType", "automated")
                if (wanted == "automated" and not automated) or (wanted == "manual" and automated):
                    parent.remove(snap)
        resp.body = ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=RDS_NS)
        return resp

    def _copy_snapshot(self, req: LabRequest, forward: Forward) -> LabResponse:
        """CopyDBClusterSnapshot, which ministack lacks (InvalidAction): a manual snapshot of the source
        snapshot's cluster under the target identifier, tags included (RDS API reference,
        CopyDBClusterSnapshot: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CopyDBClusterSnapshot.html)."""
        source = req.params.get("SourceDBClusterSnapshotIdentifier", "")
        source_id = source.split(":cluster-snapshot:", 1)[-1]
        described = forward(
            _rds_call(req, "DescribeDBClusterSnapshots", {"DBClusterSnapshotIdentifier": source_id})
        )
        if described.status != 200:
            return described
        found = ET.fromstring(described.body).find(f".//{_N}DBClusterSnapshots/*")
        if found is None:
            return rds_error("DBClusterSnapshotNotFoundFault", f"DBClusterSnapshot {source} not found.", 404)
        params = {
            "DBClusterSnapshotIdentifier": req.params.get("TargetDBClusterSnapshotIdentifier", ""),
            "DBClusterIdentifier": _text(found, f"{_N}DBClusterIdentifier"),
            **{k: v for k, v in req.params.items() if k.startswith("Tags.")},
        }
        created = forward(_rds_call(req, "CreateDBClusterSnapshot", params))
        if created.status != 200:
            return created
        root = ET.fromstring(created.body)
        root.tag = f"{_N}CopyDBClusterSnapshotResponse"
        for result in root.iterfind(f"{_N}CreateDBClusterSnapshotResult"):
            result.tag = f"{_N}CopyDBClusterSnapshotResult"
        for snap in root.iterfind(f".//{_N}DBClusterSnapshot"):
            _set(snap, "SourceDBClusterSnapshotArn", _text(found, f"{_N}DBClusterSnapshotArn"))
        created.body = ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=RDS_NS)
        return created


def _rds_call(req: LabRequest, operation: str, params: dict[str, str]) -> LabRequest:
    """Another RDS query call in the same request's envelope (the lab's own, never logged)."""
    form = {"Action": operation, "Version": "2014-10-31", **params}
    return replace(req, body=urlencode(form).encode(), operation=operation, params=dict(params), query={})


def _set(elem: ET.Element, tag: str, value: str) -> None:
    child = elem.find(f"{_N}{tag}")
    if child is None:
        child = ET.SubElement(elem, f"{_N}{tag}")
    child.text = value
