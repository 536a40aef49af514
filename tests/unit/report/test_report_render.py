"""Markdown, HTML (self-contained, one SVG bar per phase) and JSON renderings; `drctl report` and `drctl runs`."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from drctl.cli.app import run
from drctl.errors import ExitCode
from drctl.report import list_runs, write_reports
from drctl.report.html import render_html
from drctl.report.markdown import render_markdown
from drctl.report.model import load_model

FIXTURES = Path(__file__).parents[2] / "fixtures" / "runs"
RUNS = {"unplanned": "20261129T123135Z-d700", "planned": "20261129T123142Z-fde9"}


class SvgBars(HTMLParser):
    """Collects phase bars and every attribute that could load something from outside the page."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: list[dict[str, str | None]] = []
        self.external: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        a = dict(attrs)
        if tag == "rect" and "phase-bar" in (a.get("class") or "").split():
            self.bars.append(a)
        for name in ("src", "href", "xlink:href"):
            if a.get(name):
                self.external.append(f"{tag} {name}={a[name]}")


def parse(html: str) -> SvgBars:
    p = SvgBars()
    p.feed(html)
    return p


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DRCTL_HOME holding the two recorded runs."""
    monkeypatch.setenv("DRCTL_HOME", str(tmp_path))
    for name, run_id in RUNS.items():
        folder = tmp_path / "runs" / run_id
        folder.mkdir(parents=True)
        shutil.copy(FIXTURES / f"{name}.jsonl", folder / "journal.jsonl")
    return tmp_path


def test_markdown_carries_the_figures_and_sections() -> None:
    md = render_markdown(load_model(FIXTURES / "unplanned.jsonl"))
    assert "| RTO | **2.695 s**" in md and "| RPO | **2.5 s**" in md
    for section in ("## Objectives", "## Timeline", "## Topology", "## Mutating AWS calls"):
        assert section in md
    assert "`3793d029-2b0d-4624-96d6-a4eccb98fb7a`" in md
    assert "**RPO sample** at" in md and "AuroraGlobalDBRPOLag of drctl-lab-usw2 in us-west-2" in md


@pytest.mark.parametrize("name", ["unplanned", "planned"])
def test_html_is_self_contained_with_one_bar_per_phase(name: str) -> None:
    m = load_model(FIXTURES / f"{name}.jsonl")
    html = render_html(m)
    p = parse(html)
    assert [b["data-phase"] for b in p.bars] == [ph.name for ph in m.phases]
    assert len(p.bars) == 5
    assert all(float(b["width"] or 0) > 0 for b in p.bars)
    assert p.external == [] and "script" not in p.tags and "link" not in p.tags
    assert 'class="rto-marker"' in html and 'class="rpo-marker"' in html
    assert "<style>" in html and "url(" not in html


def test_html_escapes_journal_text() -> None:
    recs_path = FIXTURES / "unplanned.jsonl"
    text = recs_path.read_text().replace("us-west-2 writes and serves", "<script>alert(1)</script>")
    from drctl.report.model import build_model

    m = build_model([json.loads(line) for line in text.splitlines()])
    html = render_html(m)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_write_reports_writes_three_files_beside_the_journal(home: Path) -> None:
    folder = home / "runs" / RUNS["unplanned"]
    paths = write_reports(folder)
    assert {p.name for p in paths.values()} == {"report.md", "report.html", "report.json"}
    data = json.loads(paths["json"].read_text())
    assert data["rto_s"] == 2.695 and data["rpo_s"] == 2.5 and len(data["phases"]) == 5


def test_cli_report_formats_and_out(home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rid = RUNS["unplanned"]
    assert run(["report", rid]) == ExitCode.OK
    assert re.search(r"\| RTO \| \*\*2\.695 s\*\*", capsys.readouterr().out)
    assert run(["report", rid, "--format", "json"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["run_id"] == rid
    out = tmp_path / "sub" / "r.html"
    assert run(["report", rid, "--format", "html", "--out", str(out)]) == ExitCode.OK
    assert capsys.readouterr().out.strip() == str(out)
    assert len(parse(out.read_text()).bars) == 5


@pytest.mark.parametrize(
    ("args", "needle", "code"),
    [
        (["report", "20990101T000000Z-0000"], "no run", ExitCode.CONFIG),
        (["report", RUNS["planned"], "--format", "pdf"], "'md', 'html', 'json'", ExitCode.USAGE),
    ],
)
def test_cli_report_bad_input_is_one_line(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str, code: ExitCode
) -> None:
    assert run(args) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err


def test_cli_runs_lists_newest_first(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["runs", "--json"]) == ExitCode.OK
    rows = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in rows] == [RUNS["planned"], RUNS["unplanned"]]
    assert rows[1]["from_region"] == "us-east-1" and rows[1]["mode"] == "unplanned" and rows[1]["rto_s"] == 2.695
    assert run(["runs"]) == ExitCode.OK
    text = capsys.readouterr().out
    assert "us-east-1 → us-west-2" in text and "unplanned" in text and "2.69 s" in text


def test_runs_with_no_runs_and_with_an_unreadable_journal(home: Path, capsys) -> None:
    bad = home / "runs" / "20261129T000000Z-dead"
    bad.mkdir()
    (bad / "journal.jsonl").write_text("not json\n")
    assert [r.outcome for r in list_runs()][-1] == "unreadable journal"
    shutil.rmtree(home / "runs")
    assert run(["runs"]) == ExitCode.OK and "no runs yet" in capsys.readouterr().out
