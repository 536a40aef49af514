"""`drctl lab ...` where no lab runs or none can start: a subprocess, exit code, one-line errors, no process left
behind (a lab that does run: tests/twin/lab/test_lab_cli.py)."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from lab_cli_helpers import one_line_error, processes_in, refused

from drctl.cli.app import run
from drctl.errors import ExitCode


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def drctl(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """`drctl ARGS` in process (the CLI as a user runs it, without an interpreter start per call)."""

    def call(*args: str, home: Path, **env: str) -> Ran:
        monkeypatch.setenv("DRCTL_HOME", str(home))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        rc = run(list(args))
        out = capsys.readouterr()
        return Ran(rc, out.out, out.err)

    return call


def test_unknown_region_is_a_config_error(tmp_path: Path, drctl) -> None:
    proc = drctl("lab", "up", "--regions", "us-east-1,us-middle-7", home=tmp_path)
    assert proc.returncode == ExitCode.CONFIG
    one_line_error(proc.stderr, "us-middle-7")
    assert proc.stdout == "" and processes_in(tmp_path / "lab") == []


def test_port_in_use_names_the_port_and_starts_nothing(tmp_path: Path, lab_tools, drctl) -> None:
    base = lab_tools.free_port_base()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base + 2))
        squatter.listen()
        proc = drctl("lab", "up", "--port-base", str(base), home=tmp_path)
    assert proc.returncode == ExitCode.LAB
    one_line_error(proc.stderr, str(base + 2))
    assert processes_in(tmp_path / "lab") == []
    assert not (tmp_path / "lab" / "state.json").exists()


def test_emulator_failing_to_start_is_one_line_and_leaves_nothing(tmp_path: Path, lab_tools, drctl) -> None:
    base = lab_tools.free_port_base()
    bogus = "python3 -c \"import sys; print('emulator: cannot start'); sys.exit(3)\""
    proc = drctl("lab", "up", "--port-base", str(base), home=tmp_path, DRCTL_LAB_EMULATOR_CMD=bogus)
    assert proc.returncode == ExitCode.LAB
    one_line_error(proc.stderr, "exit code 3", "emulator: cannot start")
    assert processes_in(tmp_path / "lab") == []
    assert not (tmp_path / "lab" / "state.json").exists()
    assert all(refused(f"http://127.0.0.1:{p}") for p in range(base, base + 4))


def test_stale_state_never_signals_someone_elses_process(tmp_path: Path, drctl) -> None:
    bystander = subprocess.Popen(["sleep", "30"], cwd="/")
    try:
        (tmp_path / "lab").mkdir()
        state = {"regions": ["us-east-1", "us-west-2"], "ports": {}, "pids": {"emulator": bystander.pid}}
        (tmp_path / "lab" / "state.json").write_text(json.dumps(state))
        assert "not running" in drctl("lab", "status", home=tmp_path).stdout
        assert drctl("lab", "down", home=tmp_path).stdout.strip() == "lab: was not running"
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.parametrize(
    "args",
    [
        ["outage", "us-east-1"],
        ["restore"],
        ["latency", "100"],
        ["set-lag", "2s"],
        ["app-fault", "us-east-1", "on"],
    ],
)
def test_commands_need_a_running_lab(tmp_path: Path, drctl, args: list[str]) -> None:
    proc = drctl("lab", *args, home=tmp_path)
    assert proc.returncode == ExitCode.LAB
    one_line_error(proc.stderr, "lab is not running", "drctl lab up")


@pytest.mark.parametrize(
    "args",
    [
        ["latency", "--", "-5"],
        ["latency", "inf"],
        ["latency", "100", "--jitter", "nan"],
        ["up", "--port-base", "70000"],
    ],
)
def test_bad_values_are_refused_before_anything_runs(tmp_path: Path, drctl, args: list[str]) -> None:
    """Found by bench/faults.py: negative/infinite latency was accepted (inf stalled every call), and a port
    base past 65535 ended in an internal error."""
    proc = drctl("lab", *args, home=tmp_path)
    assert proc.returncode == ExitCode.USAGE and proc.stdout == ""
    one_line_error(proc.stderr)
    assert not (tmp_path / "lab").exists()


def test_status_of_a_stopped_lab_says_lab(tmp_path: Path, drctl) -> None:
    proc = drctl("lab", "status", home=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("lab: not running")
