"""`drctl rejoin --writer R`: the way back after a detach-and-promote.

RemoveFromGlobalCluster makes the detached cluster T a standalone writer while the old primary P stays the writer
of the global database G (RDS API reference, RemoveFromGlobalCluster:
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RemoveFromGlobalCluster.html). Two writers: a
split. Rejoin keeps T as the writer and rebuilds the global database around it:

  snapshot_old      CreateDBClusterSnapshot of P (evidence of what was written to P after the split), available
  leave_old_global  RemoveFromGlobalCluster(G, P)
  delete_old_global DeleteGlobalCluster(G) once it has no members (API_DeleteGlobalCluster)
  reform            CreateGlobalCluster(G, SourceDBClusterIdentifier=T's ARN): T writes (API_CreateGlobalCluster)
  retire_old        delete P's instances and cluster, no final snapshot (snapshot_old is it; only once available)
  readd_old         CreateDBCluster in P's region with GlobalClusterIdentifier=G, configured like P (read and
                    journaled by the preflight), encrypted with P's region's own KMS key; plus one instance
  verify            one global database G, T its writer, P's region a secondary member; no standalone writer

Every step re-reads AWS first and does only what is still needed, so `--resume` may re-run any unfinished step.
The run takes the failover run lock (a rejoin and a failover never run at once) and is journaled like one.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drctl.aws import rds, rds_actions
from drctl.aws.calls import ApiCall
from drctl.aws.clients import ClientFactory
from drctl.aws.errors import error_code, to_drctl_error
from drctl.errors import ConfigError, DrctlError, ExitCode
from drctl.failover.lock import RunLock
from drctl.failover.plan import CheckedFacts
from drctl.failover.recorder import CallRecorder, RecordingFactory
from drctl.failover.stepping import RunEnded, ctrl_c, run_step
from drctl.failover.waiting import Interrupted, NotYet, wait_until
from drctl.journal.events import RunFinished, RunResumed, RunStarted, StepEnded
from drctl.journal.log import Journal, RunLog, new_run_id
from drctl.models import GlobalCluster
from drctl.stack import Stack

COMMAND = "rejoin"
STEPS = (
    "snapshot_old",
    "leave_old_global",
    "delete_old_global",
    "reform",
    "retire_old",
    "readd_old",
    "verify",
)
# Each wait is bounded. On AWS a cluster snapshot, a cluster deletion or a new secondary take minutes (a new
# secondary copies the whole volume across regions: up to hours for large databases).
WAIT_S = float(os.environ.get("DRCTL_REJOIN_WAIT_S", "7200"))
MAX_ATTEMPTS = 8

Progress = Callable[[str], None]
Confirm = Callable[[str], bool]


@contextlib.contextmanager
def aws_errors(action: str, region: str) -> Iterator[None]:
    """AWS errors of the reads inside become one-line typed errors naming the action and its region."""
    try:
        yield
    except (ClientError, BotoCoreError) as e:
        raise to_drctl_error(e, action=action, region=region) from e


# ------------------------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class RejoinRequest:
    writer_region: str
    old_region: str
    stack_path: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RejoinRequest:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass
class RejoinFacts(CheckedFacts):
    """What the read-only preflight found; journaled (the old cluster's configuration included)."""

    global_cluster_id: str = ""
    writer_cluster_arn: str = ""
    old_cluster_id: str = ""
    old_cluster_arn: str = ""
    global_members: list[str] = field(default_factory=list)
    old_in_global: bool = False
    old_is_global_writer: bool = False
    engine: str = ""
    engine_version: str = ""
    kms_key_id: str = ""
    snapshot_id: str = ""
    old_config: dict[str, Any] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class RejoinReport:
    run_id: str
    outcome: str  # completed | no-op | refused | locked | failed | interrupted | aborted
    writer_region: str
    old_region: str
    global_cluster_id: str
    message: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    snapshot_id: str = ""
    verification: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    journal: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"command": COMMAND, **asdict(self)}


@dataclass(frozen=True)
class RejoinDryRun:
    facts: RejoinFacts
    calls: list[ApiCall]


def snapshot_id_for(cluster_id: str, run_id: str) -> str:
    """A manual snapshot id (letters, digits, hyphens; starts with a letter) naming the cluster and the run."""
    return f"drctl-rejoin-{cluster_id}-{run_id}".lower().replace("_", "-")


def request_for(stack: Stack, writer: str) -> RejoinRequest:
    """`writer` must be a region (or role) of the stack: a one-line CONFIG error otherwise."""
    target = stack.resolve_region(writer)
    return RejoinRequest(target.name, stack.other(target.name).name, str(stack.source or ""))


def make_clients(stack: Stack) -> tuple[CallRecorder, RecordingFactory]:
    recorder = CallRecorder()
    attempts = max(stack.aws.max_attempts, MAX_ATTEMPTS)
    return recorder, RecordingFactory(ClientFactory(stack.aws, max_attempts=attempts), recorder)


def refuse(facts: RejoinFacts) -> DrctlError:
    return DrctlError(
        "; ".join(facts.refusals), code=ExitCode.REFUSED, hint="nothing was changed; see `drctl status`"
    )


# ------------------------------------------------------------------------------------------- preflight


def run_preflight(clients: Any, stack: Stack, req: RejoinRequest, run_id: str) -> RejoinFacts:
    """Read-only: G exists, the writer region's cluster is a standalone writer, the old cluster can go."""
    facts = RejoinFacts(global_cluster_id=stack.global_cluster_id)
    writer, old = stack.regions[req.writer_region], stack.regions[req.old_region]
    facts.writer_cluster_arn, facts.old_cluster_id = writer.cluster_arn, old.cluster_id
    rds_w, rds_o = clients.client("rds", writer.name), clients.client("rds", old.name)
    G = stack.global_cluster_id
    with aws_errors("rds:DescribeGlobalClusters", writer.name):
        gc = rds.find_global_cluster(rds_w, G)
    with aws_errors("rds:DescribeDBClusters", writer.name):
        t = rds.find_cluster(rds_w, writer.cluster_id, writer.name)
    if gc is None:
        facts.refusals.append(
            f"not split: global cluster {G} does not exist (to continue a rejoin that stopped, "
            "`drctl rejoin --resume RUN_ID`; list runs with `drctl runs`)"
        )
        return facts
    facts.global_members = [m.cluster_arn for m in gc.members]
    facts.engine, facts.engine_version = gc.engine, gc.engine_version
    if t is None:
        facts.refusals.append(f"not split: {writer.cluster_id} does not exist in {writer.name}")
        return facts
    if not t.standalone_writer:
        if t.global_cluster_id:
            where = f"a member of {t.global_cluster_id}"
        elif not t.has_writer_instance:
            where = f"{t.status}, no writer instance"
        else:
            where = t.status
        facts.refusals.append(
            f"not split: {writer.cluster_id} in {writer.name} is not a standalone writer ({where})"
        )
        return facts
    facts.check("writer is standalone", True, f"{writer.cluster_id} in {writer.name} writes outside {G}")
    member = gc.member_in(old.name)
    facts.old_in_global = member is not None
    facts.old_is_global_writer = bool(member and member.is_writer)
    others = [m.cluster_arn for m in gc.members if m.region != old.name]
    if others:
        facts.refusals.append(f"{G} has members other than {old.cluster_id}: {', '.join(others)}")
    with aws_errors("rds:DescribeDBClusters", old.name):
        p = rds.find_cluster(rds_o, old.cluster_id, old.name)
        if p is None:
            facts.refusals.append(f"{old.cluster_id} does not exist in {old.name}: nothing to rejoin")
            return facts
        facts.old_config = rds.cluster_config(rds_o, old.cluster_id)
    facts.old_cluster_arn = str(facts.old_config.get("arn") or old.cluster_arn)
    facts.check(
        "old cluster read",
        True,
        f"{old.cluster_id} in {old.name}: {p.status}, "
        + (f"{'writer' if facts.old_is_global_writer else 'member'} of {G}" if member else f"outside {G}"),
    )
    if facts.old_config.get("deletion_protection"):
        facts.refusals.append(
            f"{old.cluster_id} has deletion protection: it cannot be retired (turn it off with "
            "ModifyDBCluster --no-deletion-protection once you have decided to give it up)"
        )
    facts.kms_key_id = old.kms_key_arn or _same_region_key(facts.old_config, old.name)
    if not facts.kms_key_id:
        facts.refusals.append(
            f"no KMS key for {old.name} in the stack file (regions.{old.name}.kms_key_arn): an encrypted "
            "cross-region secondary needs a key of its own region"
        )
    facts.snapshot_id = snapshot_id_for(old.cluster_id, run_id)
    if t.engine_version and gc.engine_version and t.engine_version != gc.engine_version:
        facts.warnings.append(
            f"{writer.cluster_id} runs {t.engine_version}, {G} reported {gc.engine_version}: the re-added "
            "secondary takes the re-formed global database's version"
        )
    return facts


def _same_region_key(config: dict[str, Any], region: str) -> str:
    key = str(config.get("kms_key_id", ""))
    return key if rds.arn_region(key) == region else ""


# ------------------------------------------------------------------------------------------ the calls


def plan_calls(stack: Stack, req: RejoinRequest, facts: RejoinFacts, lock: RunLock | None) -> list[ApiCall]:
    """Every mutating call a rejoin would make, in order: the same ApiCall objects the steps send."""
    writer, old = stack.regions[req.writer_region], stack.regions[req.old_region]
    G = stack.global_cluster_id
    lock_put, lock_release = lock.calls() if lock is not None and writer.lock_table else (None, None)
    calls: list[ApiCall] = []
    if lock_put is not None:
        calls.append(lock_put.because("take the run lock (the same lock a failover takes)"))
    calls.append(
        _snapshot_call(stack, req, facts, "<run id>").because(
            "keep the old writer's data (anything written to it after the split); wait until available"
        )
    )
    if facts.old_in_global:
        calls.append(
            rds_actions.remove_member(old.name, G, facts.old_cluster_arn).because(
                "the old writer leaves the old global database"
            )
        )
    calls.append(
        rds_actions.delete_global_cluster(old.name, G).because(
            "delete the old global database, now without members"
        )
    )
    calls.append(
        rds_actions.create_global_from_cluster(writer.name, G, writer.cluster_arn).because(
            f"re-form {G} with {writer.cluster_id} as its writer"
        )
    )
    for inst in facts.old_config.get("instances", []):
        calls.append(
            rds_actions.delete_instance(old.name, str(inst["id"])).because(
                "retire the old writer's instances (only once the snapshot is available)"
            )
        )
    calls.append(
        rds_actions.delete_cluster(old.name, old.cluster_id).because(
            f"retire the old writer; {facts.snapshot_id} is its final snapshot"
        )
    )
    calls.append(
        _secondary_call(stack, req, facts, facts.engine, facts.engine_version).because(
            f"re-add {old.name} as a secondary of {G} (engine and version of the re-formed global database)"
        )
    )
    calls.append(_instance_call(stack, req, facts, facts.engine).because("one instance for the new secondary"))
    if lock_release is not None:
        calls.append(lock_release.because("release the run lock"))
    return calls


def _snapshot_call(stack: Stack, req: RejoinRequest, facts: RejoinFacts, run_id: str) -> ApiCall:
    old = stack.regions[req.old_region]
    return rds_actions.snapshot_cluster(old.name, facts.snapshot_id, old.cluster_id, run_id)


def _secondary_call(stack: Stack, req: RejoinRequest, facts: RejoinFacts, engine: str, version: str) -> ApiCall:
    old = stack.regions[req.old_region]
    return rds_actions.create_secondary_cluster(
        old.name, old.cluster_id, stack.global_cluster_id, engine, version, facts.kms_key_id, facts.old_config
    )


def _instance_call(stack: Stack, req: RejoinRequest, facts: RejoinFacts, engine: str) -> ApiCall:
    old = stack.regions[req.old_region]
    instances = facts.old_config.get("instances", [])
    first = next((i for i in instances if i.get("writer")), instances[0] if instances else {})
    inst_id = str(first.get("id") or f"{old.cluster_id}-1")
    inst_class = str(first.get("class") or "db.r6g.large")
    return rds_actions.create_instance(
        old.name, inst_id, old.cluster_id, engine or "aurora-postgresql", inst_class
    )


def dry_run(stack: Stack, req: RejoinRequest) -> RejoinDryRun:
    """The read-only preflight and the calls a run would make; changes nothing (takes no lock)."""
    _, clients = make_clients(stack)
    facts = run_preflight(clients, stack, req, "<run id>")
    if facts.refusals:
        return RejoinDryRun(facts, [])
    lock = RunLock(stack, clients, stack.regions[req.writer_region], "<run id>")
    return RejoinDryRun(facts, plan_calls(stack, req, facts, lock))


# --------------------------------------------------------------------------------------------- steps


class _Rejoin:
    def __init__(
        self,
        stack: Stack,
        req: RejoinRequest,
        journal: Journal,
        progress: Progress,
        confirm: Confirm | None,
        prior: RunLog | None = None,
    ) -> None:
        self.stack, self.req, self.journal, self.progress, self.confirm = stack, req, journal, progress, confirm
        self.prior = prior
        self.recorder, self.clients = make_clients(stack)
        self.results: dict[str, dict[str, Any]] = {}
        self.stop = threading.Event()
        self.facts = RejoinFacts()
        self.lock = RunLock(stack, self.clients, stack.regions[req.writer_region], journal.run_id)
        self.writer, self.old = stack.regions[req.writer_region], stack.regions[req.old_region]
        self.G = stack.global_cluster_id

    def rds(self, region: str) -> Any:
        return self.clients.client("rds", region)

    def step(self, name: str, fn: Callable[[], dict[str, Any]], *, skip_done: bool = True) -> None:
        run_step(
            name,
            fn,
            journal=self.journal,
            recorder=self.recorder,
            results=self.results,
            stop=self.stop,
            region=self.req.writer_region,
            progress=self.progress,
            prior=self.prior,
            skip_done=skip_done,
        )

    def wait(self, what: str, probe: Callable[[], Any]) -> Any:
        return wait_until(what, probe, deadline_s=WAIT_S, stop_event=self.stop, progress=self.progress)

    def execute(self, *, break_lock: bool) -> RejoinReport:
        resume_hint = f"continue with `drctl rejoin --resume {self.journal.run_id}`"
        with ctrl_c(self.stop, self.progress, self.journal.run_id, COMMAND):
            try:
                self.step("lock", lambda: self._lock(break_lock), skip_done=False)
                try:
                    return self._after_lock()
                finally:
                    self.lock.release()
            except Interrupted:
                return self._finish("interrupted", f"stopped between steps; {resume_hint}")
            except KeyboardInterrupt:
                self._finish("interrupted", f"stopped during a step; {resume_hint}")
                raise DrctlError("interrupted", code=ExitCode.INTERRUPTED, hint=resume_hint) from None
            except DrctlError as e:
                outcome = {ExitCode.REFUSED: "refused", ExitCode.LOCKED: "locked"}.get(e.code, "failed")
                report = self._finish(outcome, str(e))
                hint = e.hint or (resume_hint if outcome == "failed" else None)
                if hint:
                    hint = hint.replace(
                        "`drctl failover --resume RUN`", f"`drctl rejoin --resume {report.run_id}`"
                    )
                raise RunEnded(e.message, code=e.code, hint=hint, report=report) from e

    def _lock(self, break_lock: bool) -> dict[str, Any]:
        self.lock.acquire(break_lock=break_lock)
        return {"holder": self.lock.item.holder, "pid": self.lock.item.pid, "table": self.lock.table}

    def _after_lock(self) -> RejoinReport:
        self.step("preflight", self._preflight)
        self.facts = RejoinFacts.from_dict(self.results["preflight"]["facts"])
        for w in self.facts.warnings:
            self.progress(f"WARNING: {w}")
        if self.confirm is not None and self.prior is None:
            text = _confirm_text(self.req, plan_calls(self.stack, self.req, self.facts, self.lock))
            confirm = self.confirm
            self.step("confirm", lambda: {"confirmed": confirm(text)})
            if not self.results["confirm"]["confirmed"]:
                return self._finish("aborted", "not confirmed; nothing was changed")
        self.step("snapshot_old", self.snapshot_old)
        self.step("leave_old_global", self.leave_old_global)
        self.step("delete_old_global", self.delete_old_global)
        self.step("reform", self.reform)
        self.step("retire_old", self.retire_old)
        self.step("readd_old", self.readd_old)
        self.step("verify", self.verify)
        return self._finish(
            "completed",
            f"{self.G} re-formed: {self.writer.name} writes, {self.old.name} is a secondary again",
        )

    def _preflight(self) -> dict[str, Any]:
        facts = run_preflight(self.clients, self.stack, self.req, self.journal.run_id)
        if facts.refusals:
            raise refuse(facts)
        return {"facts": facts.to_dict()}

    # Each step re-reads AWS first and does only what is still needed (a resumed run may re-run it).

    def snapshot_old(self) -> dict[str, Any]:
        r, snap = self.rds(self.old.name), self.facts.snapshot_id
        created = False
        if rds.cluster_snapshot_status(r, snap) is None:
            try:
                _snapshot_call(self.stack, self.req, self.facts, self.journal.run_id).send(self.clients)
                created = True
            except ClientError as e:
                if error_code(e) != "DBClusterSnapshotAlreadyExistsFault":  # an earlier send was accepted
                    raise

        def available() -> str:
            status = rds.cluster_snapshot_status(r, snap)
            if status in ("failed", "deleted", None):
                raise DrctlError(f"snapshot {snap} is {status or 'gone'}", code=ExitCode.FAILED)
            if status != "available":
                raise NotYet(f"snapshot {snap} is {status}")
            return status

        return {"snapshot_id": snap, "created": created, "status": self.wait(f"snapshot {snap}", available)}

    def leave_old_global(self) -> dict[str, Any]:
        r = self.rds(self.old.name)
        gc = rds.find_global_cluster(self.rds(self.writer.name), self.G)
        member = gc.member_in(self.old.name) if gc is not None else None
        removed = False
        if member is not None and (gc is None or not (gc.writer and gc.writer.region == self.writer.name)):
            rds_actions.remove_member(self.old.name, self.G, member.cluster_arn).send(self.clients)
            removed = True

        def alone() -> str:
            c = rds.find_cluster(r, self.old.cluster_id, self.old.name)
            if c is None:
                return "gone"
            if c.global_cluster_id == self.G and removed:
                raise NotYet(f"{self.old.cluster_id} still in {self.G}")
            if c.status != "available":
                raise NotYet(f"{self.old.cluster_id} is {c.status}")
            return c.status

        status = self.wait(f"{self.old.cluster_id} to leave {self.G}", alone)
        return {"removed": removed, "old_cluster_status": status}

    def delete_old_global(self) -> dict[str, Any]:
        r = self.rds(self.old.name)
        gc = rds.find_global_cluster(self.rds(self.writer.name), self.G)
        if gc is None:
            return {"deleted": False, "already": "no global cluster"}
        if gc.writer is not None and gc.writer.region == self.writer.name:
            return {"deleted": False, "already": "re-formed"}
        if gc.members:
            raise DrctlError(
                f"{self.G} still has members ({', '.join(m.cluster_id for m in gc.members)}); not deleted",
                code=ExitCode.FAILED,
            )
        try:
            rds_actions.delete_global_cluster(self.old.name, self.G).send(self.clients)
        except ClientError as e:
            if error_code(e) != "GlobalClusterNotFoundFault":
                raise

        def gone() -> bool:
            left = rds.find_global_cluster(r, self.G)
            if left is not None:
                raise NotYet(f"{self.G} is {left.status}")
            return True

        self.wait(f"{self.G} to be deleted", gone)
        return {"deleted": True}

    def reform(self) -> dict[str, Any]:
        r = self.rds(self.writer.name)
        arn = self.writer.cluster_arn
        gc = rds.find_global_cluster(r, self.G)
        created = False
        if gc is None:
            try:
                rds_actions.create_global_from_cluster(self.writer.name, self.G, arn).send(self.clients)
                created = True
            except ClientError as e:
                if error_code(e) != "GlobalClusterAlreadyExistsFault":
                    raise
        elif not _writes(gc, arn):
            raise DrctlError(
                f"{self.G} exists but {self.writer.cluster_id} is not its writer; not re-formed",
                code=ExitCode.FAILED,
            )

        def writer() -> GlobalCluster:
            now = rds.find_global_cluster(r, self.G)
            if now is None or not _writes(now, arn):
                raise NotYet(f"{self.G} has no writer {self.writer.cluster_id} yet")
            c = rds.describe_cluster(r, self.writer.cluster_id, self.writer.name)
            if c.global_cluster_id != self.G or c.status != "available":
                raise NotYet(f"{self.writer.cluster_id} is {c.status}, global cluster {c.global_cluster_id}")
            return now

        gc = self.wait(f"{self.writer.cluster_id} to write for {self.G}", writer)
        return {"created": created, "engine": gc.engine, "engine_version": gc.engine_version}

    def retire_old(self) -> dict[str, Any]:
        r, snap = self.rds(self.old.name), self.facts.snapshot_id
        status = rds.cluster_snapshot_status(r, snap)
        if status != "available":  # never delete the old writer without its snapshot
            raise DrctlError(
                f"snapshot {snap} is {status or 'missing'}, not available: {self.old.cluster_id} is not deleted",
                code=ExitCode.FAILED,
            )
        c = rds.find_cluster(r, self.old.cluster_id, self.old.name)
        if c is None:
            return {"deleted": [], "already": "gone"}
        if c.global_cluster_id == self.G and _writes_elsewhere(rds.find_global_cluster(r, self.G), self.old.name):
            return {"deleted": [], "already": "re-added as a secondary"}
        if c.global_cluster_id:
            raise DrctlError(
                f"{self.old.cluster_id} is a member of {c.global_cluster_id}; a member is never deleted here",
                code=ExitCode.FAILED,
            )
        instances = rds.cluster_instance_ids(r, self.old.cluster_id)
        for inst in instances:
            try:
                rds_actions.delete_instance(self.old.name, inst).send(self.clients)
            except ClientError as e:  # gone, or already being deleted by an earlier attempt
                if error_code(e) not in (
                    "DBInstanceNotFound",
                    "DBInstanceNotFoundFault",
                    "InvalidDBInstanceState",
                ):
                    raise

        def no_instances() -> bool:
            left = rds.cluster_instance_ids(r, self.old.cluster_id)
            if left:
                raise NotYet(f"instances left: {', '.join(left)}")
            return True

        self.wait(f"the instances of {self.old.cluster_id} to be deleted", no_instances)
        try:
            rds_actions.delete_cluster(self.old.name, self.old.cluster_id).send(self.clients)
        except ClientError as e:
            now = rds.find_cluster(r, self.old.cluster_id, self.old.name)
            if not (error_code(e) == "DBClusterNotFoundFault" or (now is not None and now.status == "deleting")):
                raise

        def gone() -> bool:
            left = rds.find_cluster(r, self.old.cluster_id, self.old.name)
            if left is not None:
                raise NotYet(f"{self.old.cluster_id} is {left.status}")
            return True

        self.wait(f"{self.old.cluster_id} to be deleted", gone)
        return {"deleted": [*instances, self.old.cluster_id], "final_snapshot": snap}

    def readd_old(self) -> dict[str, Any]:
        r = self.rds(self.old.name)
        gc = rds.find_global_cluster(self.rds(self.writer.name), self.G)
        if gc is None or not _writes(gc, self.writer.cluster_arn):
            raise DrctlError(
                f"{self.G} has no writer {self.writer.cluster_id}; nothing to re-add to", code=ExitCode.FAILED
            )
        cluster_call = _secondary_call(self.stack, self.req, self.facts, gc.engine, gc.engine_version)
        params = cluster_call.params
        c = rds.find_cluster(r, self.old.cluster_id, self.old.name)
        created: list[str] = []
        if c is None:
            try:
                cluster_call.send(self.clients)
                created.append(self.old.cluster_id)
            except ClientError as e:
                if error_code(e) != "DBClusterAlreadyExistsFault":
                    raise
        elif c.global_cluster_id != self.G:
            raise DrctlError(
                f"{self.old.cluster_id} exists in {self.old.name} outside {self.G}; not re-added",
                code=ExitCode.FAILED,
            )
        instance_call = _instance_call(self.stack, self.req, self.facts, gc.engine)
        inst = instance_call.params
        if not rds.instance_exists(r, inst["DBInstanceIdentifier"]):
            try:
                instance_call.send(self.clients)
                created.append(inst["DBInstanceIdentifier"])
            except ClientError as e:
                if error_code(e) != "DBInstanceAlreadyExists":
                    raise

        def member() -> str:
            now = rds.find_global_cluster(r, self.G)
            m = now.member_in(self.old.name) if now is not None else None
            if m is None or m.is_writer:
                raise NotYet(f"{self.old.cluster_id} is not a secondary of {self.G} yet")
            cluster = rds.describe_cluster(r, self.old.cluster_id, self.old.name)
            if cluster.status != "available":
                raise NotYet(f"{self.old.cluster_id} is {cluster.status}")
            return str(m.synchronization_status or "")

        sync = self.wait(f"{self.old.cluster_id} to join {self.G} as a secondary", member)
        return {"created": created, "cluster": params, "instance": inst, "synchronization_status": sync}

    def verify(self) -> dict[str, Any]:
        return verify_rejoined(self.clients, self.stack, self.req)

    def _finish(self, outcome: str, message: str) -> RejoinReport:
        log = self.journal.read()
        report = build_report(log, outcome, message, self.facts)
        self.journal.append(RunFinished(outcome=outcome, report=report.to_json()))
        return report


def _writes(gc: GlobalCluster, cluster_arn: str) -> bool:
    return gc.writer is not None and gc.writer.cluster_arn == cluster_arn


def _writes_elsewhere(gc: GlobalCluster | None, region: str) -> bool:
    return gc is not None and gc.writer is not None and gc.writer.region != region


def verify_rejoined(clients: Any, stack: Stack, req: RejoinRequest) -> dict[str, Any]:
    """Read AWS: one global database G, the writer region its writer, the other region a secondary, and no
    stack cluster writing on its own. Raises FAILED with what is wrong."""
    writer, old = stack.regions[req.writer_region], stack.regions[req.old_region]
    r = clients.client("rds", writer.name)
    gc = rds.describe_global_cluster(r, stack.global_cluster_id)
    problems = []
    if not _writes(gc, writer.cluster_arn):
        problems.append(f"writer is {gc.writer.cluster_id if gc.writer else 'nobody'}, not {writer.cluster_id}")
    m = gc.member_in(old.name)
    if m is None or m.is_writer:
        problems.append(f"{old.cluster_id} is not a secondary member")
    standalone = []
    for region in stack.regions.values():
        c = rds.describe_cluster(clients.client("rds", region.name), region.cluster_id, region.name)
        if c.standalone_writer:
            standalone.append(region.cluster_id)
    if standalone:
        problems.append(f"standalone writers: {', '.join(standalone)}")
    if problems:
        raise DrctlError("rejoin not verified: " + "; ".join(problems), code=ExitCode.FAILED)
    return {
        "global_cluster": gc.identifier,
        "writer": writer.name,
        "members": [{"cluster": x.cluster_id, "region": x.region, "writer": x.is_writer} for x in gc.members],
        "split": False,
    }


def _confirm_text(req: RejoinRequest, calls: list[ApiCall]) -> str:
    lines = [
        f"rejoin: {req.writer_region} keeps writing; {req.old_region}'s cluster is snapshotted, DELETED and "
        "re-created as a secondary. These calls will be made:"
    ]
    lines += [f"  {c.line()}" for c in calls]
    lines.append("Proceed?")
    return "\n".join(lines)


def build_report(log: RunLog, outcome: str, message: str, facts: RejoinFacts | None = None) -> RejoinReport:
    """The rejoin's report from its journal alone."""
    req = RejoinRequest.from_dict(log.header.request)
    if facts is None or not facts.global_cluster_id:
        facts = RejoinFacts.from_dict(log.results.get("preflight", {}).get("facts", {}))
    ends: dict[str, StepEnded] = {e.step: e for e in log.of(StepEnded)}
    steps = [
        {"step": s, "outcome": e.outcome, "elapsed_s": e.elapsed_s, "calls": len(e.calls), "error": e.error}
        for s, e in ends.items()
    ]
    mutating = [
        {**c, "step": step}
        for step, e in ends.items()
        for c in e.calls
        if not str(c.get("operation", "")).startswith(("Describe", "Get", "List"))
    ]
    return RejoinReport(
        run_id=log.run_id,
        outcome=outcome,
        writer_region=req.writer_region,
        old_region=req.old_region,
        global_cluster_id=facts.global_cluster_id,
        message=message,
        steps=steps,
        calls=mutating,
        snapshot_id=facts.snapshot_id,
        verification=log.results.get("verify", {}),
        warnings=list(facts.warnings),
        journal=str(log.path or ""),
    )


# --------------------------------------------------------------------------------------- entry points


def start(
    stack: Stack, req: RejoinRequest, *, progress: Progress, confirm: Confirm | None, break_lock: bool = False
) -> RejoinReport:
    run_id = new_run_id()
    journal = Journal.create(
        RunStarted(
            run_id=run_id,
            request=req.to_dict(),
            from_region=req.old_region,
            to_region=req.writer_region,
            mode=COMMAND,
            pid=os.getpid(),
            command=COMMAND,
        )
    )
    progress(f"run {run_id}: journal {journal.path}")
    return _Rejoin(stack, req, journal, progress, confirm).execute(break_lock=break_lock)


def open_for_resume(run_id: str) -> tuple[Journal, RunLog]:
    """The journal of a rejoin run to continue; a one-line CONFIG error for an unknown or foreign run id."""
    journal = Journal.open(run_id)
    log = journal.read()
    if log.header.command != COMMAND:
        raise ConfigError(
            f"run {run_id} is a {log.header.command} run, not a rejoin",
            hint=f"continue it with `drctl {log.header.command} --resume {run_id}`",
        )
    return journal, log


def resume(
    stack: Stack, journal: Journal, *, progress: Progress, confirm: Confirm | None, break_lock: bool = False
) -> RejoinReport:
    prior = journal.read()
    req = RejoinRequest.from_dict(prior.header.request)
    if prior.finished is not None and prior.finished.outcome in ("completed", "no-op"):
        return build_report(prior, "no-op", f"run already {prior.finished.outcome}; nothing to resume")
    journal.append(RunResumed(pid=os.getpid(), done=sorted(prior.done)))
    progress(f"resuming run {journal.run_id}: done {', '.join(sorted(prior.done)) or 'nothing'}")
    return _Rejoin(stack, req, journal, progress, confirm, prior=prior).execute(break_lock=break_lock)
