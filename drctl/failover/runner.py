"""Runs a failover: lock → preflight → sample RPO → [capacity ‖ promote] → flip → verify → report.

Every step is journaled before and after it runs; `resume` continues a run from its journal (finished steps
are skipped, an unfinished one re-reads AWS to decide). Ctrl-C stops between steps.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from drctl.aws.calls import ApiCall
from drctl.aws.clients import ClientFactory
from drctl.errors import DrctlError, Failed, Locked, Refused, Stopped, UsageError
from drctl.failover import steps
from drctl.failover.lock import RunLock
from drctl.failover.measure import measure_rpo
from drctl.failover.plan import DATABASE_ONLY, PLANNED, TRAFFIC_ONLY, UNPLANNED, Facts, Request, plan_calls
from drctl.failover.preflight import run_preflight
from drctl.failover.recorder import CallRecorder, RecordingFactory
from drctl.failover.stepping import RunEnded, run_step, test_kill_hook
from drctl.failover.stepping import ctrl_c as _ctrl_c
from drctl.failover.waiting import Interrupted
from drctl.journal.events import (
    RunFinished,
    RunRefused,
    RunResumed,
    RunStarted,
)
from drctl.journal.log import Journal, RunLog, new_run_id
from drctl.journal.phases import (
    DATABASE_HEADLINE,
    HEADLINE,
    capacity_tail_s,
    compute_phases,
    critical_path_s,
    headline,
    operator_seconds,
    recovery_points,
)
from drctl.stack import Stack

FAILOVER_MAX_ATTEMPTS = 8  # botocore standard mode attempts for reads during a failover (throttling is normal)

Progress_ = Callable[[str], None]
Confirm = Callable[[str], bool]


@dataclass
class RunReport:
    run_id: str
    outcome: str  # completed | no-op | refused | failed | interrupted | aborted
    from_region: str
    to_region: str
    mode: str
    message: str = ""
    rpo: dict[str, Any] = field(default_factory=dict)
    rto_s: float | None = None
    rto_source: str = ""
    run_s: float | None = None  # the run's own duration: a phase, not the headline RTO
    recovery: list[dict[str, Any]] = field(default_factory=list)  # milestones with their sources
    phases: list[dict[str, Any]] = field(default_factory=list)
    critical_path_s: float | None = None
    verification: dict[str, Any] = field(default_factory=dict)
    capacity: dict[str, Any] = field(default_factory=dict)  # healthy when traffic moved, and at the end
    warnings: list[str] = field(default_factory=list)
    api_calls: int = 0
    retries: int = 0
    journal: str = ""
    canary: dict[str, Any] = field(default_factory=dict)  # ground truth (drctl/canary), when --canary
    only: str = ""  # "" (database and traffic), "database" or "traffic": the parts this run moves

    @property
    def parts(self) -> dict[str, bool]:
        return {"database": self.only != TRAFFIC_ONLY, "traffic": self.only != DATABASE_ONLY}

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "outcome": self.outcome,
            "from_region": self.from_region,
            "to_region": self.to_region,
            "mode": self.mode,
            "only": self.only or None,
            "parts": self.parts,
            "message": self.message,
            "rpo_s": self.rpo.get("rpo_s"),
            "rpo": self.rpo,
            "rto_s": self.rto_s,
            "rto_source": self.rto_source,
            "run_s": self.run_s,
            "recovery": self.recovery,
            "phases": self.phases,
            "critical_path_s": self.critical_path_s,
            "verification": self.verification,
            "capacity": self.capacity,
            "warnings": self.warnings,
            "api_calls": self.api_calls,
            "retries": self.retries,
            "journal": self.journal,
            "canary": self.canary,
        }


@dataclass(frozen=True)
class DryRun:
    facts: Facts
    calls: list[ApiCall]
    req: Request | None = None  # what was asked (the parts `--only` names); keyword: DryRun(..., req=req)
    # optional tiers the stack does not describe: {"tier", "will_not", "cost"}
    not_covered: list[dict[str, str]] = field(default_factory=list)


def make_clients(stack: Stack) -> tuple[CallRecorder, RecordingFactory, RecordingFactory]:
    recorder = CallRecorder()
    attempts = max(stack.aws.max_attempts, FAILOVER_MAX_ATTEMPTS)
    clients = RecordingFactory(ClientFactory(stack.aws, max_attempts=attempts), recorder)
    single = RecordingFactory(ClientFactory(stack.aws, max_attempts=1), recorder)
    return recorder, clients, single


def refuse(facts: Facts) -> Refused:
    return Refused("preflight refused the failover: " + "; ".join(facts.refusals), hint="nothing was changed")


def refuse_without_lock(stack: Stack, req: Request) -> None:
    """No lock table: the run lock is off (two operators could run at once). A run proceeds only when the
    operator says so (--without-lock); refusing outright would leave such a stack with no failover at all."""
    if not stack.has("lock table") and not req.without_lock:
        raise Refused(
            f"stack {stack.name} has no lock table: the run lock is off, two operators on two machines could "
            "fail over at once (only this machine's lock file holds)",
            hint="nothing was changed; add a lock_table per region, or re-run with --without-lock",
        )


def dry_run(stack: Stack, req: Request) -> DryRun:
    """The read-only preflight and the calls a run would make; changes nothing."""
    _, clients, _ = make_clients(stack)
    facts = run_preflight(clients, stack, req)
    gaps = [{"tier": t.name, "will_not": t.will_not, "cost": t.cost} for t in stack.missing_tiers()]
    if facts.noop:
        return DryRun(facts, [], req=req, not_covered=gaps)
    lock = RunLock(stack, clients, stack.regions[req.to_region], "<run id>")
    return DryRun(facts, plan_calls(stack, req, facts, lock.item), req=req, not_covered=gaps)


class _Runner:
    def __init__(
        self,
        stack: Stack,
        req: Request,
        journal: Journal,
        progress: Progress_,
        confirm: Confirm | None,
        *,
        prior: RunLog | None = None,
        started: float | None = None,
    ) -> None:
        self.stack, self.req, self.journal, self.progress, self.confirm = stack, req, journal, progress, confirm
        self.prior = prior
        self.recorder, self.clients, single = make_clients(stack)
        self.t0 = started if started is not None else time.monotonic()
        self.run = steps.Run(
            stack=stack,
            req=req,
            clients=self.clients,
            single_shot=single,
            journal=journal,
            run_id=journal.run_id,
            deadline=self.t0 + stack.objectives.rto_s,
            progress=progress,
            kill_hook=test_kill_hook,
        )
        self.lock = RunLock(stack, self.clients, stack.regions[req.to_region], journal.run_id)
        self._warm(single)
        if prior is not None:
            sent = [e for e in prior.sent if e.step == "promote"]
            self.run.promotion_sent_before = bool(sent)
            self.run.promotion_detached_before = any(e.operation == "RemoveFromGlobalCluster" for e in sent)

    def _warm(self, single: RecordingFactory) -> None:
        """Create the clients later steps need while the lock and preflight run: making a boto3 client costs
        a few hundred ms of CPU, which would otherwise sit between the preflight and the promotion call."""
        target = self.stack.regions[self.req.to_region]
        wanted: list[tuple[RecordingFactory, str, str]] = [
            (single, "rds", target.name),
            (self.clients, "elbv2", target.name),
            (self.clients, "autoscaling", target.name),
            (self.clients, "cloudwatch", target.name),
        ]
        if self.req.mode == PLANNED:
            wanted.append((self.clients, "route53", "us-east-1"))

        def make() -> None:
            for factory, service, region in wanted:
                with contextlib.suppress(Exception):  # a real failure shows when the step uses the client
                    factory.client(service, region)

        threading.Thread(target=make, name="drctl-warm-clients", daemon=True).start()

    # ----------------------------------------------------------------------------------------- steps

    def step(self, name: str, fn: Callable[[steps.Run], dict[str, Any]], *, skip_done: bool = True) -> None:
        run_step(
            name,
            lambda: fn(self.run),
            journal=self.journal,
            recorder=self.recorder,
            results=self.run.results,
            stop=self.run.stop_event,
            region=self.req.to_region,
            progress=self.progress,
            prior=self.prior,
            skip_done=skip_done,
        )

    def parallel(self, *named: tuple[str, Callable[[steps.Run], dict[str, Any]]]) -> None:
        with ThreadPoolExecutor(max_workers=len(named), thread_name_prefix="drctl-step") as pool:
            futures = [pool.submit(self.step, name, fn) for name, fn in named]
            errors = [f.exception() for f in futures]
        for e in errors:
            if isinstance(e, DrctlError):
                raise e
        for e in errors:
            if e is not None:
                raise e

    # ------------------------------------------------------------------------------------------ run

    def execute(self, *, break_lock: bool) -> RunReport:
        resume_hint = f"continue with `drctl failover --resume {self.journal.run_id}`"
        with _ctrl_c(self.run.stop_event, self.progress, self.journal.run_id):
            try:
                self.step("lock", lambda _: self._lock(break_lock), skip_done=False)
                try:
                    return self._after_lock()
                finally:
                    self.lock.release()
            except Interrupted:
                return self._finish("interrupted", f"stopped between steps; {resume_hint}")
            except KeyboardInterrupt:
                self._finish("interrupted", f"stopped during a step; {resume_hint}")
                raise Stopped("interrupted", hint=resume_hint) from None
            except (Refused, Locked) as e:
                report = self._finish("refused" if isinstance(e, Refused) else "locked", str(e))
                raise RunEnded(e.message, code=e.code, hint=e.hint, report=report) from e
            except DrctlError as e:  # Failed, or an error that stopped the run (auth, unreachable)
                report = self._finish("failed", str(e))
                if isinstance(e, Failed):  # what to look at first, then how to go on
                    hint = f"{e.hint}; then {resume_hint}" if e.hint else resume_hint
                else:
                    hint = e.hint or resume_hint
                raise RunEnded(e.message, code=e.code, hint=hint, report=report) from e

    def _lock(self, break_lock: bool) -> dict[str, Any]:
        self.lock.acquire(break_lock=break_lock)
        return {"holder": self.lock.item.holder, "pid": self.lock.item.pid, "table": self.lock.table}

    def _after_lock(self) -> RunReport:
        self.step("preflight", self._preflight)
        self.run.facts = Facts.from_dict(self.run.results["preflight"]["facts"])
        facts = self.run.facts
        if facts.noop:
            return self._finish("no-op", facts.noop_reason)
        for w in facts.warnings:
            self.progress(f"WARNING: {w}")
        if self.confirm is not None and self.prior is None:
            shown = plan_calls(self.stack, self.req, facts, self.lock.item)
            confirm = self.confirm
            self.step("confirm", lambda _: {"confirmed": confirm(_confirm_text(self.req, shown))})
            if not self.run.results["confirm"]["confirmed"]:
                return self._finish("aborted", "not confirmed; nothing was changed")
        # The same steps for every part: `--only` leaves out the promotion's or the traffic's, never forks them.
        req = self.req
        if req.moves_database:
            self.step("sample_rpo", steps.sample_rpo)
            if facts.snapshots_to_keep:
                self.step("keep_snapshots", steps.keep_snapshots)
        if req.moves_database and req.moves_traffic:
            self.parallel(("capacity", steps.capacity), ("promote", steps.promote))
        elif req.moves_database:
            self.step("promote", steps.promote)
        else:
            self.step("capacity", steps.capacity)
        if req.moves_traffic:
            self.step("flip", steps.flip)
        if req.moves_traffic and req.mode == UNPLANNED:  # traffic has moved: the rest of the capacity alongside
            self.parallel(("verify", steps.verify), ("capacity_after_flip", steps.capacity_after_flip))
        else:
            self.step("verify", steps.verify)
        promote = self.run.results.get("promote", {})
        if req.mode == UNPLANNED and promote.get("sends") and not promote.get("detached"):
            self.step("keep_snapshot", steps.keep_after_unplanned)
        return self._finish("completed", _completed(req, self.run.results))

    def _preflight(self, run: steps.Run) -> dict[str, Any]:
        facts = run_preflight(self.clients, self.stack, self.req, self.progress)
        if facts.refusals and not facts.noop:
            self.journal.append(RunRefused(facts=facts.to_dict()))
            raise refuse(facts)
        return {"facts": facts.to_dict()}

    def _finish(self, outcome: str, message: str) -> RunReport:
        log = self.journal.read()
        ph = compute_phases(log)
        if self.prior is None:
            run_s = round(time.monotonic() - self.t0 - operator_seconds(ph), 3)
            run_source = "this run's monotonic clock from drctl's start (confirmation prompt excluded)"
        else:
            run_s = round((datetime.now(UTC) - log.started_at).total_seconds() - operator_seconds(ph), 3)
            run_source = "journal timestamps from the first attempt (resumed: includes the interruption)"
        if tail := capacity_tail_s(ph):
            run_s = round(run_s - tail, 3)
            run_source += f"; the {tail:g} s spent waiting for capacity after traffic moved excluded"
        points = recovery_points(log)
        database_only = self.req.only == DATABASE_ONLY
        head = headline(points, DATABASE_HEADLINE if database_only else HEADLINE)
        if head is not None:
            rto, rto_source = head.at_s, f"{head.name}: {head.source} (from drctl's start, prompt excluded)"
            if database_only:
                rto_source += f"; database only: users still reach {self.req.from_region}"
        else:
            rto = run_s
            why = (self.run.results.get("verify", {}).get("dns") or {}).get("detail", "no DNS check was made")
            rto_source = f"the run's own duration ({run_source}): no DNS answer naming the target seen ({why})"
        res = self.run.results
        rpo = (
            measure_rpo(self.req.mode, res.get("sample_rpo"), self.run.facts.lag)
            if "promote" in res and not res["promote"].get("already")
            else {"rpo_s": None, "source": "no promotion in this run", "evidence": "", "estimate": False}
        )
        calls = log.calls
        report = RunReport(
            run_id=self.journal.run_id,
            outcome=outcome,
            from_region=self.req.from_region,
            to_region=self.req.to_region,
            mode=self.req.mode,
            message=message,
            rpo=rpo,
            rto_s=rto,
            rto_source=rto_source,
            run_s=run_s,
            recovery=[p.to_dict() for p in points],
            phases=[p.to_dict() for p in ph],
            critical_path_s=critical_path_s(ph),
            verification=res.get("verify", {}),
            capacity=capacity_summary(res),
            warnings=[*self.run.facts.warnings, *_detach_warning(res), *_capacity_warning(res)],
            api_calls=len(calls),
            retries=sum(int(c.get("retries", 0)) for c in calls),
            journal=str(self.journal.path),
            only=self.req.only,
        )
        self.journal.append(RunFinished(outcome=outcome, report=report.to_json()))
        return report


def _completed(req: Request, results: dict[str, dict[str, Any]]) -> str:
    if req.only == DATABASE_ONLY:
        return f"{req.to_region} writes; traffic still goes to {req.from_region} (--only database)"
    if req.only == TRAFFIC_ONLY:
        writer = (results.get("verify", {}).get("writer") or {}).get("detail", "")
        return f"traffic goes to {req.to_region}; no promotion (--only traffic): {writer}".rstrip(": ")
    return f"{req.to_region} writes and serves"


def _detach_warning(results: dict[str, dict[str, Any]]) -> list[str]:
    out = []
    if results.get("promote", {}).get("detached"):
        out.append(
            "detach-and-promote was used: the old primary is still the global database's writer (a split); "
            "keep its traffic drained and fenced, and re-form the global database with `drctl rejoin` "
            "before any failback"
        )
    keep = results.get("keep_snapshot", {})
    if keep.get("owed"):
        out.append(
            f"the old primary's unplanned-failover snapshot is owed ({keep.get('why')}): AWS keeps it only "
            "for the cluster's backup retention; `drctl status` shows it once the region answers, "
            "`drctl keep-snapshots` keeps it"
        )
    return out


def capacity_summary(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The capacity summary of the last capacity step that made one ({} if none did)."""
    for step in ("capacity_after_flip", "capacity"):
        found = (results.get(step) or {}).get("summary")
        if isinstance(found, dict):
            return found
    return {}


def _capacity_warning(results: dict[str, dict[str, Any]]) -> list[str]:
    cap = capacity_summary(results)
    if not cap or cap.get("reached", True):
        return []
    return [
        f"the target had {cap['healthy_at_end']} of {cap['wanted']} wanted healthy targets when the run ended "
        f"({cap['healthy_at_flip']} when traffic moved): its Auto Scaling group keeps trying; watch "
        "`drctl status` and the group's scaling activities"
    ]


def _confirm_text(req: Request, calls: list[ApiCall]) -> str:
    parts = f" ({req.parts})" if req.only else ""
    lines = [f"{req.mode} failover{parts} {req.from_region} -> {req.to_region} will make these calls:"]
    lines += [f"  {c.line()}" for c in calls]
    if req.only == DATABASE_ONLY:
        lines.append(f"Traffic stays in {req.from_region}.")
    if req.force_traffic:
        lines.append(f"--force-traffic: traffic moves to {req.to_region} even if its database does not write.")
    if req.mode != PLANNED and req.moves_database:
        lines.append("Data not yet replicated to the target WILL BE LOST.")
    lines.append("Proceed?")
    return "\n".join(lines)


def start(
    stack: Stack,
    req: Request,
    *,
    progress: Progress_,
    confirm: Confirm | None,
    break_lock: bool = False,
    started: float | None = None,
    on_journal: Callable[[Journal], None] | None = None,
) -> RunReport:
    """Start a run. `on_journal` is called once its journal exists, before the lock (the canary starts there)."""
    refuse_without_lock(stack, req)
    run_id = new_run_id()
    journal = Journal.create(
        RunStarted(
            run_id=run_id,
            request=req.to_dict(),
            from_region=req.from_region,
            to_region=req.to_region,
            mode=req.mode,
            pid=os.getpid(),
            objectives=asdict(stack.objectives),
            clock_start=round(time.time() - (time.monotonic() - started if started is not None else 0.0), 3),
        )
    )
    progress(f"run {run_id}: journal {journal.path}")
    if on_journal is not None:
        on_journal(journal)
    return _Runner(stack, req, journal, progress, confirm, started=started).execute(break_lock=break_lock)


def resume(
    stack: Stack,
    journal: Journal,
    *,
    progress: Progress_,
    confirm: Confirm | None,
    break_lock: bool = False,
    started: float | None = None,
    allow_detach: bool = False,
) -> RunReport:
    prior = journal.read()
    req = Request.from_dict(prior.header.request)
    if allow_detach:  # consent given on resume (the first attempt stopped for want of it)
        if req.mode != UNPLANNED:
            raise UsageError(f"run {journal.run_id} is {req.mode}: --allow-detach only applies to unplanned runs")
        req = replace(req, allow_detach=True)
    if prior.finished is not None and prior.finished.outcome in ("completed", "no-op"):
        report = prior.finished.report
        return RunReport(
            run_id=journal.run_id,
            outcome="no-op",
            from_region=req.from_region,
            to_region=req.to_region,
            mode=req.mode,
            message=f"run already {prior.finished.outcome}; nothing to resume",
            only=req.only,
            rpo=report.get("rpo", {}),
            rto_s=report.get("rto_s"),
            phases=report.get("phases", []),
            journal=str(journal.path),
        )
    journal.append(RunResumed(pid=os.getpid(), done=sorted(prior.done)))
    progress(f"resuming run {journal.run_id}: done {', '.join(sorted(prior.done)) or 'nothing'}")
    return _Runner(stack, req, journal, progress, confirm, prior=prior, started=started).execute(
        break_lock=break_lock
    )
