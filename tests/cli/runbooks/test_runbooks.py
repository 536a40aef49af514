"""Every `drctl ...` command in runbooks/ exists: sub-commands, options, option values, arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from runbook_cli import argv_of, check, check_files, extract, root_command

RUNBOOKS = Path(__file__).resolve().parents[3] / "runbooks"
REQUIRED = (
    "regional-outage.md",
    "planned-switch.md",
    "database-only-failover.md",
    "traffic-only-drain.md",
    "failback.md",
    "game-day-on-the-twin.md",
    "when-drctl-fails.md",
    "after-detach.md",
)
SECTIONS = ("## When to use it", "## Decision points", "## Steps", "## Verify", "## Roll back")


@pytest.fixture(scope="module")
def root() -> Any:
    return root_command()


def test_every_runbook_command_parses_against_the_real_cli() -> None:
    found, problems = check_files(sorted(RUNBOOKS.glob("*.md")))
    assert len(found) >= 40, f"only {len(found)} drctl commands found: is the extractor broken?"
    assert not problems, "runbooks name commands or options drctl does not have:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", REQUIRED)
def test_each_runbook_has_its_sections_and_drctl_commands(name: str) -> None:
    text = (RUNBOOKS / name).read_text(encoding="utf-8")
    for section in SECTIONS:
        assert section in text, f"{name} has no '{section}'"
    assert extract(text, name), f"{name} shows no drctl command"


# ------------------------------------------------------------------------------------ the checker itself


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["failover", "--to", "secondary", "--no-such-option"], "No such option"),
        (["lab", "demo", "--kep"], "No such option"),
        (["no-such-command"], "no sub-command"),
        (["lab", "explode"], "no sub-command"),
        (["report"], "Missing argument"),
        (["report", "RUN_ID", "extra"], "unexpected extra argument"),
        (["runs", "--limit", "many"], "Invalid value"),
        (["lab"], "needs"),
    ],
)
def test_checker_rejects(root: Any, argv: list[str], needle: str) -> None:
    error = check(root, argv)
    assert error is not None and needle in error, error


@pytest.mark.parametrize(
    "argv",
    [
        ["failover", "--to", "secondary", "--mode", "unplanned", "--allow-data-loss", "--yes"],
        ["failover", "-y", "--to", "primary"],
        ["--debug", "status", "--json"],
        ["report", "RUN_ID", "--format", "html", "--out", "r.html"],
        ["lab", "demo", "--keep", "--json"],
        ["failover", "--help"],
        ["lab", "--help"],
    ],
)
def test_checker_accepts(root: Any, argv: list[str]) -> None:
    assert check(root, argv) is None


def test_a_runbook_naming_a_missing_option_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text(
        "# Bad\n\nRun `drctl status --json` first.\n\n```console\n$ drctl failover --to secondary \\\n"
        "    --teleport\nfailover ...: completed\n$ uv run drctl runs --json | jq .\n```\n",
        encoding="utf-8",
    )
    found, problems = check_files([bad])
    assert [f.text for f in found] == [
        "drctl status --json",
        "$ drctl failover --to secondary --teleport",
        "$ uv run drctl runs --json | jq .",
    ]
    assert len(problems) == 1 and "bad.md:6" in problems[0] and "--teleport" in problems[0]


def test_extraction_details() -> None:
    md = "```\ndrctl lab set-lag 2500ms && drctl status\n```\nplain drctl words are prose\n`drctl runs`\n"
    assert [argv_of(f.text) for f in extract(md)] == [["lab", "set-lag", "2500ms"], ["runs"]]
    assert argv_of("$ drctl status --json > out.json") == ["status", "--json"]
    assert argv_of("drctl report 'RUN ID'") == ["report", "RUN ID"]
