"""`drctl discover` refuses before it reads anything: an existing file (exit 7), half an option pair (exit 2),
`--lab` with no lab (exit 11). One line on stderr each."""

from __future__ import annotations

from pathlib import Path

import pytest

from drctl.cli.app import run
from drctl.errors import ExitCode


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRCTL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DRCTL_STACK", raising=False)
    # no AWS anywhere: a read would fail to connect (exit 6), not give the codes asserted here
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")


def test_an_existing_file_is_not_replaced_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "stack.toml"
    out.write_text("keep me\n")
    assert run(["discover", "--global-cluster", "g", "--out", str(out)]) == ExitCode.REFUSED
    err = capsys.readouterr().err.strip()
    assert "exists" in err and "--force" in err and len(err.splitlines()) == 1
    assert out.read_text() == "keep me\n"


def test_zone_and_record_name_go_together(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["discover", "--global-cluster", "g", "--zone-id", "Z1"]) == ExitCode.USAGE
    assert "--zone-id and --record-name go together" in capsys.readouterr().err


def test_lab_needs_a_running_lab(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["discover", "--global-cluster", "g", "--lab"]) == ExitCode.LAB
    assert "the lab is not running" in capsys.readouterr().err
