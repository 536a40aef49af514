"""The operator's questions: asked on stderr, answered on stdin, nothing on stdout (`--json` stays JSON)."""

from __future__ import annotations

import io

import pytest

from drctl.cli.ask import ask, confirm


@pytest.mark.parametrize(
    ("typed", "yes"),
    [("y\n", True), ("YES\n", True), (" yes \n", True), ("n\n", False), ("maybe\n", False), ("", False)],
)
def test_only_y_or_yes_confirms(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], typed: str, yes: bool
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    assert confirm("Proceed?") is yes
    out, err = capsys.readouterr()
    assert out == "" and err == "Proceed? [y/N]: "


def test_ask_returns_the_stripped_answer_and_empty_at_end_of_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("  yes  \n"))
    assert ask("Apply?") == "yes"
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert ask("Apply?") == ""
    assert capsys.readouterr().out == ""
