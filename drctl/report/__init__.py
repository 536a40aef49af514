"""Reports of failover runs, rebuilt from their journals alone (Markdown, self-contained HTML, JSON).

`write_reports(run_dir)` is called by the CLI after every failover (the runner knows nothing of reports);
`drctl report RUN` reads the same journal. No AWS, no stack file: a copied journal is enough.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from drctl.errors import ConfigError
from drctl.journal.log import JOURNAL_NAME
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
