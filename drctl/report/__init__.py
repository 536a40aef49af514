"""Reports of failover runs, rebuilt from their journals alone (Markdown, self-contained HTML, JSON).

`write_reports(run_dir)` is called at the end of every failover; `drctl report RUN` and `drctl runs` read the
same journals. No AWS, no stack file: a copied journal is enough.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from drctl.errors import ConfigError
from drctl.failover.journal import JOURNAL_NAME, RUN_ID_RE, runs_dir
from drctl.models import ReportFormat
from drctl.report.html import render_html
from drctl.report.markdown import render_markdown
from drctl.report.model import RunModel, load_model

FORMATS = tuple(f.value for f in ReportFormat)
FILE_NAMES = {"md": "report.md", "html": "report.html", "json": "report.json"}


def render(model: RunModel, fmt: str) -> str:
    if fmt == "md":
        return render_markdown(model)
    if fmt == "html":
        return render_html(model)
    if fmt == "json":
        return json.dumps(model.to_json(), indent=2, default=str) + "\n"
    raise ConfigError(f"unknown report format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")


def write_reports(run_dir: Path) -> dict[str, Path]:
    """Write report.md, report.html and report.json beside the run's journal; returns format -> path."""
    model = load_model(Path(run_dir) / JOURNAL_NAME)
    out: dict[str, Path] = {}
    for fmt in FORMATS:
        path = Path(run_dir) / FILE_NAMES[fmt]
        write_text_atomic(path, render(model, fmt))
        out[fmt] = path
    return out


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def run_dir(run_id: str) -> Path:
    """The folder of run `run_id`, or a one-line CONFIG error that says how to list runs."""
    folder = runs_dir() / run_id
    if not RUN_ID_RE.match(run_id) or not (folder / JOURNAL_NAME).is_file():
        raise ConfigError(f"no run {run_id!r} in {runs_dir()}", hint="list runs with `drctl runs`")
    return folder


@dataclass(frozen=True)
class RunRow:
    run_id: str
    started: str
    from_region: str
    to_region: str
    mode: str
    outcome: str
    rto_s: float | None
    rpo_s: float | None
    report: str  # the HTML report's path, or "" when it was not written


def list_runs(limit: int | None = None) -> list[RunRow]:
    """Past runs under $DRCTL_HOME/runs, newest first; an unreadable journal is listed as such."""
    root = runs_dir()
    if not root.is_dir():
        return []
    folders = [f for f in sorted(root.iterdir(), reverse=True) if RUN_ID_RE.match(f.name)]
    rows = []
    for folder in folders[:limit]:
        html = folder / FILE_NAMES["html"]
        try:
            m = load_model(folder / JOURNAL_NAME)
        except (ConfigError, OSError, KeyError, ValueError):
            rows.append(RunRow(folder.name, "", "", "", "", "unreadable journal", None, None, ""))
            continue
        rows.append(
            RunRow(
                m.run_id or folder.name,
                m.started,
                m.from_region,
                m.to_region,
                m.mode,
                m.outcome,
                m.rto_s,
                m.rpo_s,
                str(html) if html.is_file() else "",
            )
        )
    return rows
