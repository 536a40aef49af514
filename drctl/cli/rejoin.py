"""`drctl rejoin --writer REGION`: after a detach-and-promote, re-form the global database around its writer."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from drctl.cli.app import app
from drctl.cli.ask import confirm
from drctl.cli.options import BreakLockOpt, DryRunOpt, JsonOpt, StackOpt, YesOpt
from drctl.errors import ConfigError, DrctlError, ExitCode

if TYPE_CHECKING:
    from drctl.failover.rejoin import RejoinDryRun, RejoinReport


@app.command()
def rejoin(
    writer: Annotated[
        str | None,
        typer.Option(
            "--writer", help="The region that keeps writing (the standalone writer). Example: --writer us-west-2"
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    resume: Annotated[
        str | None,
        typer.Option("--resume", help="Continue an interrupted rejoin. Example: --resume 20261129T121500Z-ab12"),
    ] = None,
    break_lock: BreakLockOpt = False,
    json_output: JsonOpt = False,
    stack_file: StackOpt = None,
) -> None:
    """After a detach: [bold]drctl rejoin --writer us-west-2[/bold] keeps that region writing, snapshots and
    retires the old writer, re-forms the global database and re-adds the old region as a secondary.

    Exit codes: 0 done, 4 bad input or unknown/foreign --resume run, 6 unreachable, 7 refused (not split;
    nothing changed), 8 locked, 9 failed (continue with --resume RUN_ID), 130 interrupted.
    """
    from drctl.failover import rejoin as capability
    from drctl.stack import load_stack

    if resume and (writer or dry_run):
        raise ConfigError("--resume continues a run as it was started", hint="drop --writer / --dry-run")
    if not resume and not writer:
        raise ConfigError(
            "which region keeps writing? --writer is required", hint="e.g. drctl rejoin --writer us-west-2"
        )

    journal = None
    if resume:
        journal, log = capability.open_for_resume(resume)
        if not stack_file:
            stack_file = log.header.request.get("stack_path") or None
    stack = load_stack(stack_file)

    def progress(msg: str) -> None:
        typer.echo(msg, err=True)

    if dry_run:
        assert writer is not None
        plan = capability.dry_run(stack, capability.request_for(stack, writer))
        (_dry_run_json if json_output else _dry_run_text)(plan, sys.stdout)
        if plan.facts.refusals:
            raise capability.refuse(plan.facts)
        return

    if not yes and not sys.stdin.isatty():
        raise DrctlError(
            "rejoin deletes the old writer's cluster: it needs a confirmation and there is no terminal",
            code=ExitCode.REFUSED,
            hint="nothing was changed; run it on a terminal, or add --yes after `drctl rejoin --dry-run`",
        )
    ask = None if yes else confirm
    if break_lock and not yes and not confirm("Break the run lock, whoever holds it?"):
        raise typer.Abort()

    show = _report_json if json_output else _report_text
    from drctl.failover.stepping import RunEnded

    try:
        if journal is not None:
            report = capability.resume(stack, journal, progress=progress, confirm=ask, break_lock=break_lock)
        else:
            assert writer is not None
            req = capability.request_for(stack, writer)
            report = capability.start(stack, req, progress=progress, confirm=ask, break_lock=break_lock)
    except RunEnded as e:
        _write_reports(e.report.journal)
        show(e.report, sys.stdout)
        raise
    _write_reports(report.journal)
    show(report, sys.stdout)
    if report.outcome == "interrupted":
        raise DrctlError(report.message, code=ExitCode.INTERRUPTED)
    if report.outcome == "aborted":
        raise typer.Abort()


def _write_reports(journal: str) -> None:
    from drctl.cli.failover import write_reports_for

    if journal:
        write_reports_for(journal)


def _report_json(report: RejoinReport, out: TextIO) -> None:
    out.write(json.dumps(report.to_json(), indent=2, default=str) + "\n")


def _report_text(report: RejoinReport, out: TextIO) -> None:
    out.write(
        f"rejoin {report.run_id}: {report.outcome} — {report.writer_region} writes, "
        f"{report.old_region} re-added to {report.global_cluster_id}\n"
    )
    if report.message:
        out.write(report.message + "\n")
    for s in report.steps:
        out.write(f"  {s['step']:<18} {s['outcome']:<11} {s['elapsed_s']:8.2f} s  {s['calls']} calls\n")
    for c in report.calls:
        rid = c.get("request_id") or c.get("error") or ""
        out.write(f"  call {c['operation']} [{c['region']}] {rid}\n")
    if report.snapshot_id:
        out.write(f"old writer's snapshot: {report.snapshot_id}\n")
    for w in report.warnings:
        out.write(f"warning: {w}\n")
    out.write(f"journal: {report.journal}\n")


def _dry_run_json(d: RejoinDryRun, out: TextIO) -> None:
    data: dict[str, Any] = {"dry_run": True, "facts": d.facts.to_dict(), "calls": [c.describe() for c in d.calls]}
    out.write(json.dumps(data, indent=2, default=str) + "\n")


def _dry_run_text(d: RejoinDryRun, out: TextIO) -> None:
    for check in d.facts.checks:
        mark = {True: "ok ", False: "NO ", None: "-- "}[check["ok"]]
        out.write(f"{mark} {check['name']}: {check['detail']}\n")
    for r in d.facts.refusals:
        out.write(f"refused: {r}\n")
    for w in d.facts.warnings:
        out.write(f"warning: {w}\n")
    if d.calls:
        out.write("dry run: these calls would be made (none were):\n")
    for i, c in enumerate(d.calls, 1):
        out.write(f"{i:2}. {c.line()}\n")
        if c.why:
            out.write(f"    {c.why}\n")
