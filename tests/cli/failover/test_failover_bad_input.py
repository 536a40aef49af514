"""`drctl failover` refuses bad input in one line, before any call: the stack's endpoints refuse connections, so
a run that reached for AWS would end unreachable (exit 6), not as a configuration error."""

from __future__ import annotations

import socket
import tomllib
from pathlib import Path

import pytest

from drctl.cli.app import run
from drctl.errors import ExitCode
from drctl.stack import write_stack_file

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "stack.example.toml"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on return: connections are refused


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DRCTL_HOME", str(tmp_path / "home"))
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    port = closed_port()
    data["aws"]["endpoints"] = {k: f"http://127.0.0.1:{port}" for k in (*data["regions"], "global")}
    data["aws"]["static_credentials"] = {"access_key_id": "test", "secret_access_key": "test"}
    return write_stack_file(data, tmp_path / "stack.toml")


@pytest.mark.parametrize(
    ("args", "needle", "code"),
    [
        (["--to", "eu-west-9"], "unknown region", ExitCode.CONFIG),
        (["--to", "secondary", "--allow-data-loss"], "--allow-data-loss only applies", ExitCode.USAGE),
        (["--to", "secondary", "--mode", "unplanned"], "add --allow-data-loss", ExitCode.USAGE),
        (["--to", "secondary", "--allow-detach"], "--allow-detach only applies", ExitCode.USAGE),
        (["--resume", "20261129T121500Z-ab12"], "no run", ExitCode.CONFIG),
        (["--to", "secondary", "--stack", "/nonexistent/stack.toml"], "not found", ExitCode.CONFIG),
    ],
)
def test_bad_input_is_one_line_and_refused_before_any_call(
    stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str, code: ExitCode
) -> None:
    argv = (
        ["failover", *args, "--yes"] if "--stack" in args else ["failover", "--stack", str(stack), *args, "--yes"]
    )
    rc = run(argv)
    captured = capsys.readouterr()
    assert rc == code, captured.err
    assert captured.err.count("\n") == 1 and needle in captured.err, captured.err
    assert captured.out == ""
    assert not (tmp_path / "home" / "runs").exists()  # no run was started, so no journal


def test_a_good_request_on_this_stack_does_reach_for_aws(stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The control for the test above: the same stack, valid input, ends unreachable rather than refused."""
    rc = run(["failover", "--stack", str(stack), "--to", "secondary", "--yes"])
    err = capsys.readouterr().err
    assert rc == ExitCode.UNREACHABLE, err
