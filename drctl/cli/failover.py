"""`drctl failover --to <region>`: promote, flip traffic, fence, verify, report RPO/RTO (issue 6)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from drctl.cli.app import app
from drctl.cli.ask import confirm
from drctl.cli.options import BreakLockOpt, DryRunOpt, JsonOpt, StackOpt, YesOpt
from drctl.errors import ConfigError, Stopped, UsageError
from drctl.models import FlipMethod, Mode, Only

if TYPE_CHECKING:
    from drctl.canary.failover import FailoverCanary
    from drctl.failover.runner import RunReport


@app.command()
def failover(
    to: Annotated[
        str | None,
        typer.Option("--to", help="Target: primary, secondary or a region name. Example: --to secondary"),
    ] = None,
    mode: Annotated[
        Mode,
        typer.Option(help="planned (switchover, no data loss) or unplanned (needs --allow-data-loss)."),
    ] = Mode.PLANNED,
    allow_data_loss: Annotated[
        bool, typer.Option("--allow-data-loss", help="Required with --mode unplanned: unreplicated data is lost.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Planned mode: proceed although replication lag is above the bound.")
    ] = False,
    allow_detach: Annotated[
        bool,
        typer.Option(
            "--allow-detach",
            help="Unplanned mode: if re-reads show the global database's control path down for "
            "\\[failover] detach_after_s, detach the target and promote it alone (RemoveFromGlobalCluster). "
            "The old primary stays the global writer: a split, until `drctl rejoin`.",
        ),
    ] = False,
    flip_method: Annotated[
        FlipMethod,
        typer.Option(
            help="switch (CloudWatch switch in the target region) or invert (Route53 control plane: the "
            "source's record check gets an unmeetable HealthThreshold, so it stays out even if the source dies)."
        ),
    ] = FlipMethod.SWITCH,
    only: Annotated[
        Only | None,
        typer.Option(
            "--only",
            help="Move one part only. database: promote the target, traffic stays where it is (users still "
            "reach the old region, whose cluster turns read-only). traffic: flip the switch, no promotion; "
            "refused (exit 7) when the target's database does not write, unless --force-traffic. "
            "Examples: --to secondary --only database | --to secondary --only traffic",
        ),
    ] = None,
    force_traffic: Annotated[
        bool,
        typer.Option(
            "--force-traffic",
            help="With --only traffic: move traffic to a region whose database does not write (its application "
            "must reach the writer elsewhere). Said loudly in the output, journal and report.",
        ),
    ] = False,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    resume: Annotated[
        str | None,
        typer.Option("--resume", help="Continue an interrupted run. Example: --resume 20261129T121500Z-ab12"),
    ] = None,
    break_lock: BreakLockOpt = False,
    without_lock: Annotated[
        bool,
        typer.Option(
            "--without-lock",
            help="The stack has no lock table: proceed with the run lock off (only this machine's lock file; "
            "two operators on two machines could run at once). Refused without it (exit 7).",
        ),
    ] = False,
    canary: Annotated[
        bool,
        typer.Option(
            "--canary",
            help="Write numbered transactions through the stack's \\[canary] endpoints for the whole run, then "
            "read them back: ground-truth RPO (acknowledged transactions lost) and write outage in the report. "
            "Example: drctl failover --to secondary --canary",
        ),
    ] = False,
    json_output: JsonOpt = False,
    stack_file: StackOpt = None,
) -> None:
    """Fail over: [bold]drctl failover --to secondary[/bold]; fail back: --to primary.

    Planned (default): lossless switchover; refused when lag is above the bound.
    Unplanned: --mode unplanned --allow-data-loss; calls only the target region.
    One part: --only database (promote; traffic stays), --only traffic (flip; no promotion, no data loss:
    --mode unplanned needs no --allow-data-loss there). Example: drctl failover --to secondary --only traffic

    Exit codes: 0 done/no-op, 2 bad command line, 4 stack file problem, 5 credentials/permissions,
    6 unreachable, 7 refused, 8 locked, 9 failed (continue with --resume RUN_ID), 130 interrupted.
    """
    started = time.monotonic()  # the run's clock (RTO) starts when the command does, before imports
    from drctl.failover import render, runner
    from drctl.failover.measure import process_age_s

    age = process_age_s()  # drctl's own start-up (interpreter, imports) counts towards RTO too
    if age is not None:
        started = time.monotonic() - age
    from drctl.failover.plan import Request
    from drctl.journal.log import Journal
    from drctl.stack import load_stack

    traffic_only = only == Only.TRAFFIC
    if force_traffic and not traffic_only:
        raise UsageError("--force-traffic only applies to --only traffic", hint="add --only traffic")
    if traffic_only and (allow_data_loss or allow_detach):
        flag = "--allow-data-loss" if allow_data_loss else "--allow-detach"
        raise UsageError(f"--only traffic promotes nothing: {flag} does not apply", hint=f"drop {flag}")
    if only == Only.DATABASE and flip_method != FlipMethod.SWITCH:
        raise UsageError("--only database moves no traffic: --flip-method does not apply", hint="drop it")
    if allow_data_loss and mode != Mode.UNPLANNED:
        raise UsageError("--allow-data-loss only applies to --mode unplanned", hint="add --mode unplanned")
    if mode == Mode.UNPLANNED and not allow_data_loss and not traffic_only:
        raise UsageError("an unplanned failover loses unreplicated data", hint="add --allow-data-loss")
    if allow_detach and mode != Mode.UNPLANNED and not resume:
        raise UsageError("--allow-detach only applies to --mode unplanned", hint="add --mode unplanned")
    if resume and (to or dry_run or only or force_traffic):
        raise UsageError(
            "--resume continues a run as it was started", hint="drop --to / --dry-run / --only / --force-traffic"
        )
    if not resume and not to:
        raise UsageError("where to? --to is required", hint="e.g. drctl failover --to secondary")
    if canary and resume:
        raise UsageError("--canary runs for a whole run: it cannot join a resumed one", hint="drop --canary")

    journal = Journal.open(resume) if resume else None
    if journal is not None and not stack_file:  # the run's own stack file, unless told otherwise
        stack_file = journal.read().header.request.get("stack_path") or None
    stack = load_stack(stack_file)

    def progress(msg: str) -> None:
        typer.echo(msg, err=True)

    ask = None if yes else confirm
    if break_lock and not yes and not confirm("Break the failover run lock, whoever holds it?"):
        raise typer.Abort()

    show = render.report_json if json_output else render.report_text
    truth = None
    if canary and dry_run and not stack.canary.configured:
        raise ConfigError(
            f"--canary: stack {stack.name} has no database endpoint for the canary",
            hint="add [canary] endpoints and database to the stack file (README: the canary)",
        )
    if (canary or stack.canary.on_failover) and not resume and not dry_run:
        from drctl.canary.failover import FailoverCanary

        truth = FailoverCanary.prepare(stack)  # before anything happens: a one-line error if it cannot write
        progress(f"canary: writing to {', '.join(map(str, truth.endpoints))} at {truth.rate:g}/s")
    if journal is not None:
        report = _shown_on_failure(
            show,
            lambda: runner.resume(
                stack,
                journal,
                progress=progress,
                confirm=ask,
                break_lock=break_lock,
                started=started,
                allow_detach=allow_detach,
            ),
        )
    else:
        assert to is not None
        target = stack.resolve_region(to)
        req = Request(
            to_region=target.name,
            from_region=stack.other(target.name).name,
            mode=mode.value,
            flip_method=flip_method.value,
            force=force,
            stack_path=str(stack.source or ""),
            allow_detach=allow_detach,
            only=only.value if only else "",
            force_traffic=force_traffic,
            without_lock=without_lock,
        )
        if flip_method != FlipMethod.SWITCH and stack.traffic_method != "switch":
            raise UsageError(
                f"--flip-method applies to the switch traffic method; this stack's is {stack.traffic_method!r}",
                hint="drop --flip-method",
            )
        if only is not None and stack.traffic_method == "none":
            raise UsageError(
                f"--only {only.value}: this stack's traffic method is 'none', drctl moves no traffic",
                hint="a failover of this stack moves the database only: drop --only",
            )
        if force and mode == Mode.PLANNED:
            progress("WARNING: --force: the replication-lag bound will not stop this failover")
        if force_traffic:
            progress(
                f"WARNING: --force-traffic: traffic will move to {target.name} even if its database does not write"
            )
        if dry_run:
            plan = runner.dry_run(stack, req)
            (render.dry_run_json if json_output else render.dry_run_text)(plan, sys.stdout)
            if plan.facts.refusals and not plan.facts.noop:
                raise runner.refuse(plan.facts)
            return
        report = _shown_on_failure(
            show,
            lambda: runner.start(
                stack,
                req,
                progress=progress,
                confirm=ask,
                break_lock=break_lock,
                started=started,
                on_journal=truth.start if truth is not None else None,
            ),
            after=_canary_after(truth, progress) if truth is not None else None,
        )

    show(report, sys.stdout)
    if report.outcome == "interrupted":
        raise Stopped(report.message)
    if report.outcome == "aborted":
        raise typer.Abort()


def _shown_on_failure(
    show: Callable[[RunReport, TextIO], None],
    call: Callable[[], RunReport],
    after: Callable[[RunReport], None] | None = None,
) -> RunReport:
    """Run; then `after` (the canary's read-back); write the run's reports beside its journal; if the run ends
    refused/locked/failed, print its report (evidence) before the one-line error. The CLI composes the run and
    its report: the runner knows nothing of reports."""
    from drctl.failover.stepping import RunEnded

    try:
        report = call()
    except RunEnded as e:
        if after is not None:
            after(e.report)
        write_reports_for(e.report.journal)
        show(e.report, sys.stdout)
        raise
    if after is not None:
        after(report)
    write_reports_for(report.journal)
    return report


def _canary_after(truth: FailoverCanary, progress: Callable[[str], None]) -> Callable[[RunReport], None]:
    def after(report: RunReport) -> None:
        if not report.journal:
            return
        progress("canary: a short tail after the run, then reading back from the current writer")
        try:
            report.canary = truth.finish(report.journal)
        except Exception as e:  # evidence about the run, not part of it: never let it fail the run
            progress(f"WARNING: canary not checked ({type(e).__name__}: {e}); try `drctl canary check`")

    return after


def write_reports_for(journal: str) -> None:
    """The reports are evidence about the failover, not part of it: never let them fail it."""
    from pathlib import Path

    from drctl.report import write_reports

    try:
        typer.echo(f"report: {write_reports(Path(journal).parent)['html']}", err=True)
    except Exception as e:
        typer.echo(f"WARNING: report not written ({type(e).__name__}: {e}); try `drctl report RUN_ID`", err=True)
