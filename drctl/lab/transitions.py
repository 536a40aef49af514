"""Modelled durations for the RDS transitions the emulator makes instant.

ministack completes SwitchoverGlobalCluster, FailoverGlobalCluster and RemoveFromGlobalCluster at once (its
response already shows the transitional state; the next describe shows the end state). The lab forwards the
operation immediately — so the emulator validates it with its own realistic faults, and it completes even if
the client dies right after sending it — and then, for the configured duration, shows the transition the way
AWS does: DescribeGlobalClusters keeps the old writer with Status "switching-over"/"failing-over" and a
FailoverState; a promoted (detached) cluster reads "promoting" in DescribeDBClusters. A second switchover or
failover of the same global cluster meanwhile is refused with InvalidGlobalClusterStateFault, as on AWS.
Pending transitions live in memory only: a restarted gateway shows the (already completed) end state.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from drctl.lab.http import Forward, LabRequest, LabResponse

RDS_NS = "http://rds.amazonaws.com/doc/2014-10-31/"
_N = f"{{{RDS_NS}}}"


class _Durations(Protocol):
    switchover_s: float
    failover_s: float
    promote_s: float


class _World(Protocol):
    @property
    def durations(self) -> _Durations: ...


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

    def view(self, now: float) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "from": self.from_arn,
            "to": self.to_arn,
            "data_loss_allowed": self.data_loss,
            "remaining_s": round(max(self.started + self.duration_s - now, 0.0), 3),
        }


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
    """Middleware for RDS: holds the appearance of a transition for its modelled duration."""

    def __init__(self, world: _World) -> None:
        self.world = world
        self._lock = threading.Lock()
        self._pending: dict[str, Pending] = {}  # by global cluster id, or by cluster ARN for promotions

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def active(self) -> dict[str, Pending]:
        now = time.time()
        with self._lock:
            for key in [k for k, p in self._pending.items() if not p.active(now)]:
                del self._pending[key]
            return dict(self._pending)

    def view(self) -> list[dict[str, Any]]:
        now = time.time()
        return [p.view(now) for p in self.active().values()]

    def apparent_writer(self, global_cluster_id: str) -> str | None:
        """The writer's ARN as the lab shows it while a switchover/failover is pending, else None."""
        pending = self.active().get(global_cluster_id)
        return pending.from_arn if pending and pending.kind != "promoting" else None

    def __call__(self, req: LabRequest, forward: Forward) -> LabResponse:
        if req.service != "rds":
            return forward(req)
        op = req.operation
        if op in ("SwitchoverGlobalCluster", "FailoverGlobalCluster", "RemoveFromGlobalCluster"):
            return self._start(req, forward)
        if op == "DescribeGlobalClusters" and self.active():
            return self._rewrite(forward(req), self._rewrite_global_clusters)
        if op == "DescribeDBClusters" and self.active():
            return self._rewrite(forward(req), self._rewrite_db_clusters)
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
        if req.operation == "RemoveFromGlobalCluster":
            cluster = req.params.get("DbClusterIdentifier", "")
            pending = Pending("promoting", cluster, cluster, cluster, False, time.time(), durations.promote_s)
            key = cluster
        else:
            data_loss = _text(result, f"{_N}FailoverState/{_N}IsDataLossAllowed") == "true"
            kind = "failing-over" if data_loss else "switching-over"
            pending = Pending(
                kind,
                _text(result, f"{_N}GlobalClusterIdentifier") or gc_id,
                _text(result, f"{_N}FailoverState/{_N}FromDbClusterArn"),
                _text(result, f"{_N}FailoverState/{_N}ToDbClusterArn"),
                data_loss,
                time.time(),
                durations.failover_s if data_loss else durations.switchover_s,
            )
            key = pending.target
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
        for gc in root.iterfind(f".//{_N}GlobalClusters/*"):
            p = pending.get(_text(gc, f"{_N}GlobalClusterIdentifier"))
            if p is None or p.kind == "promoting":
                continue
            status = gc.find(f"{_N}Status")
            if status is not None:
                status.text = p.kind
            for member in gc.iterfind(f"{_N}GlobalClusterMembers/*"):
                writer = member.find(f"{_N}IsWriter")
                if writer is not None:
                    writer.text = "true" if _text(member, f"{_N}DBClusterArn") == p.from_arn else "false"
            for old in gc.findall(f"{_N}FailoverState"):
                gc.remove(old)
            state = ET.SubElement(gc, f"{_N}FailoverState")
            phase = "pending" if now < p.started + p.duration_s / 3 else "failing-over"
            for tag, value in (
                ("Status", phase),
                ("FromDbClusterArn", p.from_arn),
                ("ToDbClusterArn", p.to_arn),
                ("IsDataLossAllowed", "true" if p.data_loss else "false"),
            ):
                ET.SubElement(state, f"{_N}{tag}").text = value

    def _rewrite_db_clusters(self, root: ET.Element) -> None:
        promoting = {k for k, p in self.active().items() if p.kind == "promoting"}
        for cluster in root.iterfind(f".//{_N}DBClusters/*"):
            names = {_text(cluster, f"{_N}DBClusterIdentifier"), _text(cluster, f"{_N}DBClusterArn")}
            status = cluster.find(f"{_N}Status")
            if names & promoting and status is not None:
                status.text = "promoting"
