"""`drctl report RUN_ID` (the evidence of a past run) and `drctl runs` (the list of past runs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from drctl.cli.app import app
from drctl.errors import UsageError
from drctl.journal.events import NOTHING_MOVED
from drctl.models import ReportFormat

if TYPE_CHECKING:
    from drctl.journal.log import RunSummary


@app.command()
def report(
    run_id: Annotated[
        str, typer.Argument(help="The run, as `drctl runs` lists it. Example: 20261129T121500Z-ab12")
    ],
    fmt: Annotated[
        ReportFormat,
        typer.Option("--format", help="md (Markdown), html (self-contained page) or json. Example: --format html"),
    ] = ReportFormat.MD,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the report to this file instead of stdout. Example: --out run.html"),
    ] = None,
) -> None:
    """Rebuild a failover run's report from its journal alone. Example: drctl report 20261129T121500Z-ab12"""
    from drctl.journal.log import JOURNAL_NAME, run_dir
    from drctl.report import render, write_text_atomic
    from drctl.report.model import load_model

    text = render(load_model(run_dir(run_id) / JOURNAL_NAME), fmt.value)
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out, text)
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e.strerror or e}", hint="choose another --out path") from e
    typer.echo(str(out))


@app.command()
def runs(
    as_json: Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many runs, newest first. Example: 5")] = 50,
) -> None:
    """List past failover runs, newest first: when, from → to, mode, outcome, RTO. Example: drctl runs --json"""
    from drctl.journal.log import list_runs
    from drctl.report import FILE_NAMES

    rows = list_runs(limit)
    if as_json:
        typer.echo(json.dumps([_row_json(r, FILE_NAMES["html"]) for r in rows], indent=2))
        return
    if not rows:
        typer.echo("no runs yet (a run is recorded by `drctl failover`)")
        return
    table = [("RUN ID", "STARTED (UTC)", "FROM → TO", "MODE", "OUTCOME", "RTO", "RPO")]
    for r in rows:
        table.append(
            (
                r.run_id,
                r.started[:19].replace("T", " "),
                f"{r.from_region} → {r.to_region}" if r.from_region else "",
                f"{r.mode} ({r.only} only)" if r.only else r.mode,
                r.outcome,
                ""
                if r.report.get("rto_s") is None or r.outcome in NOTHING_MOVED
                else f"{r.report['rto_s']:.2f} s",
                _seconds(r.report.get("rpo_s"), "g"),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    typer.echo("details: drctl report RUN_ID [--format html --out report.html]", err=True)


def _row_json(r: RunSummary, html_name: str) -> dict[str, Any]:
    html = r.folder / html_name
    return {
        "run_id": r.run_id,
        "started": r.started,
        "command": r.command,
        "from_region": r.from_region,
        "to_region": r.to_region,
        "mode": r.mode,
        "only": r.only or None,
        "outcome": r.outcome,
        "rto_s": r.report.get("rto_s"),
        "rpo_s": r.report.get("rpo_s"),
        "report": str(html) if html.is_file() else "",
    }


def _seconds(value: Any, fmt: str) -> str:
    return "" if value is None else f"{float(value):{fmt}} s"
