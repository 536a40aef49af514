"""Failover output for people (rich) and machines (JSON)."""

from __future__ import annotations

import json
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from drctl.failover.plan import Request
from drctl.failover.runner import DryRun, RunReport


def report_json(report: RunReport, out: TextIO) -> None:
    out.write(json.dumps(report.to_json(), indent=2, default=str) + "\n")


def report_text(report: RunReport, out: TextIO) -> None:
    console = Console(file=out, highlight=False, soft_wrap=True)
    console.print(
        f"[bold]failover {report.run_id}[/bold]: {report.outcome} — {report.mode} "
        f"{report.from_region} → {report.to_region}" + _only_words(report.only)
    )
    if report.message:
        console.print(report.message)
    if report.phases:
        table = Table(title="phases", title_justify="left")
        table.add_column("phase")
        table.add_column("seconds", justify="right")
        table.add_column("steps")
        for p in report.phases:
            table.add_row(p["name"], f"{p['seconds']:.2f}", ", ".join(p["steps"]))
        console.print(table)
    rpo = report.rpo
    if rpo:
        value = "unknown" if rpo.get("rpo_s") is None else f"{rpo['rpo_s']:g} s"
        kind = "estimated, at least" if rpo.get("estimate") and rpo.get("rpo_s") is not None else "measured"
        console.print(f"RPO ({kind}): {value} — {rpo.get('source', '')}")
        if rpo.get("evidence"):
            console.print(f"     evidence: {rpo['evidence']}")
    if report.canary:
        from drctl.canary.check import outage_text, rpo_text

        console.print(rpo_text(report.canary))
        console.print(outage_text(report.canary))
    if report.rto_s is not None:
        crit = f", critical path {report.critical_path_s:.2f} s" if report.critical_path_s else ""
        console.print(f"RTO: {report.rto_s:.2f} s — {report.rto_source}")
        if report.run_s is not None:
            console.print(f"     the run itself: {report.run_s:.2f} s{crit}")
        for p in report.recovery:
            bound = " (bound)" if p.get("bound") else ""
            console.print(f"     {p['at_s']:7.2f} s  {p['name']}{bound} — {p['source']}")
    if cap := report.capacity:
        console.print(
            f"capacity: {cap.get('healthy_at_flip')} of {cap.get('wanted')} healthy targets when traffic moved, "
            f"{cap.get('healthy_at_end')} at the end — {cap.get('rule', '')}"
        )
    for name, v in report.verification.items():
        if isinstance(v, dict):
            console.print(f"verify {name}: {v.get('verdict')} — {v.get('detail', '')}")
    for w in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
    console.print(f"AWS calls: {report.api_calls} (botocore retries: {report.retries}); journal: {report.journal}")


def _only_words(only: str) -> str:
    if only == "database":
        return " (database only: promotion, traffic not moved)"
    if only == "traffic":
        return " (traffic only: flip, no promotion)"
    return ""


def _parts(req: Request | None) -> dict[str, Any]:
    if req is None:
        return {}
    return {"only": req.only or None, "parts": {"database": req.moves_database, "traffic": req.moves_traffic}}


def dry_run_json(d: DryRun, out: TextIO) -> None:
    data: dict[str, Any] = {
        "dry_run": True,
        **_parts(d.req),
        "noop": d.facts.noop,
        "facts": d.facts.to_dict(),
        "calls": [c.describe() for c in d.calls],
        "not_covered": d.not_covered,
    }
    out.write(json.dumps(data, indent=2, default=str) + "\n")


def dry_run_text(d: DryRun, out: TextIO) -> None:
    console = Console(file=out, highlight=False, soft_wrap=True)
    f = d.facts
    if d.req is not None:
        asked = d.req
        console.print(
            f"dry run of {'an' if asked.mode == 'unplanned' else 'a'} {asked.mode} failover "
            f"{asked.from_region} → {asked.to_region} ({asked.parts})"
        )
    if f.noop:
        console.print(f"no-op: {f.noop_reason}")
        return
    for check in f.checks:
        mark = {True: "ok ", False: "NO ", None: "-- "}[check["ok"]]
        console.print(f"{mark} {check['name']}: {check['detail']}")
    for r in f.refusals:
        console.print(f"[red]refused:[/red] {r}")
    for w in f.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
    for gap in d.not_covered:
        console.print(
            f"not covered: {gap['tier']}: drctl will not {gap['will_not']}; cost: {gap['cost']}", markup=False
        )
    console.print("[bold]dry run: these calls would be made (none were):[/bold]")
    for i, c in enumerate(d.calls, 1):
        console.print(f"{i:2}. {c.line()}", markup=False)
        if c.why:
            console.print(f"    {c.why}", markup=False)
