"""Runs a failover: lock → preflight → sample RPO → [capacity ‖ promote] → flip → verify → report.

Every step is journaled before and after it runs; `resume` continues a run from its journal (finished steps
are skipped, an unfinished one re-reads AWS to decide). Ctrl-C stops between steps.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drctl.aws.calls import ApiCall
from drctl.aws.clients import ClientFactory
from drctl.aws.errors import to_drctl_error
from drctl.errors import DrctlError, ExitCode, Failed, Locked, Refused, Stopped
from drctl.failover import steps
from drctl.failover.journal import Journal, Progress, new_run_id, parse_ts, read_progress
from drctl.failover.lock import RunLock
from drctl.failover.measure import critical_path_s, measure_rpo, phases
from drctl.failover.plan import PLANNED, Facts, Request, plan_calls
from drctl.failover.preflight import run_preflight
from drctl.failover.recorder import CallRecorder, RecordingFactory
from drctl.failover.waiting import Interrupted
from drctl.stack import Stack

# Test-only: `DRCTL_TEST_KILL_AT=<step>:<before|after>` (or `promote:sent`) makes drctl SIGKILL itself there,
# so tests can prove that --resume recovers from a crash at every step boundary.
TEST_KILL_ENV = "DRCTL_TEST_KILL_AT"
FAILOVER_MAX_ATTEMPTS = 8  # botocore standard mode attempts for reads during a failover (throttling is normal)

Progress_ = Callable[[str], None]
Confirm = Callable[[str], bool]


def test_kill_hook(point: str) -> None:
    if os.environ.get(TEST_KILL_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


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
    phases: list[dict[str, Any]] = field(default_factory=list)
    critical_path_s: float | None = None
    verification: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    api_calls: int = 0
    retries: int = 0
    journal: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "outcome": self.outcome,
            "from_region": self.from_region,
            "to_region": self.to_region,
            "mode": self.mode,
            "message": self.message,
            "rpo_s": self.rpo.get("rpo_s"),
            "rpo": self.rpo,
            "rto_s": self.rto_s,
            "rto_source": self.rto_source,
            "phases": self.phases,
            "critical_path_s": self.critical_path_s,
            "verification": self.verification,
            "warnings": self.warnings,
            "api_calls": self.api_calls,
            "retries": self.retries,
            "journal": self.journal,
        }


class RunEnded(DrctlError):
    """A run that ended without completing (refused, locked, failed): the error, plus the run's report."""

    def __init__(self, message: str, *, code: ExitCode, hint: str | None, report: RunReport) -> None:
        super().__init__(message, code=code, hint=hint)
        self.report = report


@dataclass(frozen=True)
class DryRun:
    facts: Facts
    calls: list[ApiCall]


def make_clients(stack: Stack) -> tuple[CallRecorder, RecordingFactory, RecordingFactory]:
    recorder = CallRecorder()
    attempts = max(stack.aws.max_attempts, FAILOVER_MAX_ATTEMPTS)
    clients = RecordingFactory(ClientFactory(stack.aws, max_attempts=attempts), recorder)
    single = RecordingFactory(ClientFactory(stack.aws, max_attempts=1), recorder)
    return recorder, clients, single


def refuse(facts: Facts) -> Refused:
    return Refused("preflight refused the failover: " + "; ".join(facts.refusals), hint="nothing was changed")


def dry_run(stack: Stack, req: Request) -> DryRun:
    """The read-only preflight and the calls a run would make; changes nothing."""
    _, clients, _ = make_clients(stack)
    facts = run_preflight(clients, stack, req)
    if facts.noop:
        return DryRun(facts, [])
    lock = RunLock(stack, clients, stack.regions[req.to_region], "<run id>")
    return DryRun(facts, plan_calls(stack, req, facts, lock.item))


class _Runner:
    def __init__(
        self,
        stack: Stack,
        req: Request,
        journal: Journal,
        progress: Progress_,
        confirm: Confirm | None,
        *,
        prior: Progress | None = None,
        started: float | None = None,
    ) -> None:
        self.stack, self.req, self.journal, self.progress, self.confirm = stack, req, journal, progress, confirm
        self.prior = prior
        self.recorder, self.clients, single = make_clients(stack)
        self.t0 = started if started is not None else time.monotonic()
        self.waited_s = 0.0  # time spent on the confirmation prompt: not part of RTO
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
            sent = [r for r in prior.records if r.get("event") == "sent" and r.get("step") == "promote"]
            self.run.promotion_sent_before = bool(sent)
            self.run.promotion_detached_before = any(r.get("operation") == "RemoveFromGlobalCluster" for r in sent)

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
        if skip_done and self.prior is not None and name in self.prior.done:
            self.run.results[name] = self.prior.done[name].get("result") or {}
            self.progress(f"{name}: done in an earlier attempt, skipped")
            return
        if self.run.stop_event.is_set():
            raise Interrupted(name)
        self.recorder.begin(name)
        self.journal.append({"event": "start", "step": name})
        test_kill_hook(f"{name}:before")
        started = time.monotonic()
        outcome, error, result = "ok", None, {}
        try:
            result = fn(self.run)
        except Interrupted:
            outcome = "interrupted"
            raise
        except Refused as e:
            outcome, error = "refused", str(e)
            raise
        except DrctlError as e:
            outcome, error = "failed", str(e)
            raise
        except (ClientError, BotoCoreError) as e:  # an AWS error no step expected: one line, FAILED or auth
            outcome, error = "failed", f"{type(e).__name__}: {e}"
            op = getattr(e, "operation_name", name)
            raise to_drctl_error(e, action=f"{op} ({name} step)", region=self.req.to_region) from e
        except BaseException as e:
            outcome, error = "error", f"{type(e).__name__}: {e}"
            raise
        finally:
            calls = self.recorder.calls(name)
            record: dict[str, Any] = {
                "event": "end",
                "step": name,
                "outcome": outcome,
                "elapsed_s": round(time.monotonic() - started, 3),
                "result": result,
                "calls": calls,
                "request_ids": [c["request_id"] for c in calls if c.get("request_id")],
                "retries": sum(int(c.get("retries", 0)) for c in calls),
            }
            if error:
                record["error"] = error
            self.journal.append(record)
        self.run.results[name] = result
        test_kill_hook(f"{name}:after")

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
            asked = time.monotonic()
            ok = self.confirm(_confirm_text(self.req, shown))
            self.waited_s += time.monotonic() - asked
            if not ok:
                return self._finish("aborted", "not confirmed; nothing was changed")
        self.step("sample_rpo", steps.sample_rpo)
        if facts.snapshots_to_keep:
            self.step("keep_snapshots", steps.keep_snapshots)
        self.parallel(("capacity", steps.capacity), ("promote", steps.promote))
        self.step("flip", steps.flip)
        self.step("verify", steps.verify)
        return self._finish("completed", f"{self.req.to_region} writes and serves")

    def _preflight(self, run: steps.Run) -> dict[str, Any]:
        facts = run_preflight(self.clients, self.stack, self.req, self.progress)
        if facts.refusals and not facts.noop:
            self.journal.append({"event": "refused", "facts": facts.to_dict()})
            raise refuse(facts)
        return {"facts": facts.to_dict()}

    def _finish(self, outcome: str, message: str) -> RunReport:
        records = self.journal.records()
        ph = phases(records)
        if self.prior is None:
            rto = round(time.monotonic() - self.t0 - self.waited_s, 3)
            rto_source = "this run's monotonic clock from drctl's start (confirmation prompt excluded)"
        else:
            first = parse_ts(str(records[0]["ts"]))
            rto = round((datetime.now(UTC) - first).total_seconds(), 3)
            rto_source = "journal timestamps from the first attempt (resumed: includes the interruption)"
        res = self.run.results
        rpo = (
            measure_rpo(self.req.mode, res.get("sample_rpo"), self.run.facts.lag)
            if "promote" in res and not res["promote"].get("already")
            else {"rpo_s": None, "source": "no promotion in this run", "evidence": "", "estimate": False}
        )
        calls = [c for r in records if r.get("event") == "end" for c in r.get("calls", [])]
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
            phases=ph,
            critical_path_s=critical_path_s(ph) if ph else None,
            verification=res.get("verify", {}),
            warnings=[*self.run.facts.warnings, *_detach_warning(res)],
            api_calls=len(calls),
            retries=sum(int(c.get("retries", 0)) for c in calls),
            journal=str(self.journal.path),
        )
        self.journal.append({"event": "finish", "outcome": outcome, "report": report.to_json()})
        try:  # the reports are evidence about the failover, not part of it: never let them fail it
            from drctl.report import write_reports

            self.progress(f"report: {write_reports(self.journal.path.parent)['html']}")
        except Exception as e:
            self.progress(
                f"WARNING: report not written ({type(e).__name__}: {e}); try `drctl report {report.run_id}`"
            )
        return report


def _detach_warning(results: dict[str, dict[str, Any]]) -> list[str]:
    if not results.get("promote", {}).get("detached"):
        return []
    return [
        "detach-and-promote was used: the old primary still believes it writes when its region returns; keep its "
        "traffic drained and re-add it as a secondary (e.g. `drctl deploy`) before any failback"
    ]


def _confirm_text(req: Request, calls: list[ApiCall]) -> str:
    lines = [f"{req.mode} failover {req.from_region} -> {req.to_region} will make these calls:"]
    lines += [f"  {c.line()}" for c in calls]
    if req.mode != PLANNED:
        lines.append("Data not yet replicated to the target WILL BE LOST.")
    lines.append("Proceed?")
    return "\n".join(lines)


@contextlib.contextmanager
def _ctrl_c(stop: threading.Event, progress: Progress_, run_id: str) -> Iterator[None]:
    """First Ctrl-C: finish the current step, then stop. Second Ctrl-C: stop now."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        stop.set()
        progress(f"Ctrl-C: stopping after the current step; resume with `drctl failover --resume {run_id}`")
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def start(
    stack: Stack,
    req: Request,
    *,
    progress: Progress_,
    confirm: Confirm | None,
    break_lock: bool = False,
    started: float | None = None,
) -> RunReport:
    run_id = new_run_id()
    journal = Journal.create(
        run_id, {"request": req.to_dict(), **_header(req), "objectives": asdict(stack.objectives)}
    )
    progress(f"run {run_id}: journal {journal.path}")
    return _Runner(stack, req, journal, progress, confirm, started=started).execute(break_lock=break_lock)


def resume(
    stack: Stack,
    journal: Journal,
    *,
    progress: Progress_,
    confirm: Confirm | None,
    break_lock: bool = False,
    started: float | None = None,
) -> RunReport:
    prior = read_progress(journal)
    req = Request.from_dict(prior.header["request"])
    if prior.finished is not None and prior.finished.get("outcome") in ("completed", "no-op"):
        report = prior.finished.get("report") or {}
        return RunReport(
            run_id=journal.run_id,
            outcome="no-op",
            from_region=req.from_region,
            to_region=req.to_region,
            mode=req.mode,
            message=f"run already {prior.finished.get('outcome')}; nothing to resume",
            rpo=report.get("rpo", {}),
            rto_s=report.get("rto_s"),
            phases=report.get("phases", []),
            journal=str(journal.path),
        )
    journal.append({"event": "resume", "pid": os.getpid(), "done": sorted(prior.done)})
    progress(f"resuming run {journal.run_id}: done {', '.join(sorted(prior.done)) or 'nothing'}")
    return _Runner(stack, req, journal, progress, confirm, prior=prior, started=started).execute(
        break_lock=break_lock
    )


def _header(req: Request) -> dict[str, Any]:
    return {"from_region": req.from_region, "to_region": req.to_region, "mode": req.mode, "pid": os.getpid()}
