"""The lab's AWS emulator: ministack, pinned, in a virtual environment of its own, bound to loopback.

ministack pins botocore, so it never enters drctl's own environment: drctl creates `<lab>/ministack-venv` on
first use (with uv when it is on PATH, else venv + pip) and starts `python -m ministack.app` from there.
ministack takes the region from each request's SigV4 credential scope, so one process serves every region.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from drctl.errors import DrctlError, ExitCode

MINISTACK_VERSION = "1.5.33"
# Replaces the emulator command (for tests of a failing start-up): a shell-style command line.
EMULATOR_CMD_ENV = "DRCTL_LAB_EMULATOR_CMD"
START_DEADLINE_S = 30.0
INSTALL_TIMEOUT_S = 600.0


def venv_dir(lab_dir: Path) -> Path:
    return lab_dir / "ministack-venv"


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_ministack(lab_dir: Path, *, log: Path) -> Path:
    """Create the emulator's environment unless it already holds the pinned version; return its python."""
    venv = venv_dir(lab_dir)
    python = _venv_python(venv)
    marker = venv / f".drctl-ministack-{MINISTACK_VERSION}"
    if marker.exists() and python.exists():
        return python
    install_into_venv(venv, f"ministack=={MINISTACK_VERSION}", log=log, what="the lab emulator")
    marker.touch()
    return python


def install_into_venv(venv: Path, spec: str, *, log: Path, what: str) -> Path:
    """Install `spec` from PyPI into the virtual environment `venv` (created if need be; with uv when it is on
    PATH, else venv + pip); returns its python. A failure is one line (exit LAB) pointing at `log`."""
    python = _venv_python(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    uv = shutil.which("uv")
    if uv:
        steps = [
            [uv, "venv", "--quiet", "--allow-existing", "--python", sys.executable, str(venv)],
            [uv, "pip", "install", "--quiet", "--python", str(python), spec],
        ]
    else:
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", spec],
        ]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    with log.open("ab") as out:
        for argv in steps:
            try:
                rc = subprocess.run(
                    argv, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=INSTALL_TIMEOUT_S, check=False
                ).returncode
            except (OSError, subprocess.TimeoutExpired) as e:
                raise _install_error(what, spec, log, str(e)) from e
            if rc != 0:
                raise _install_error(what, spec, log, f"{Path(argv[0]).name} exited with {rc}")
    return python


def _install_error(what: str, spec: str, log: Path, why: str) -> DrctlError:
    return DrctlError(
        f"could not install {what} ({spec}): {why}",
        code=ExitCode.LAB,
        hint=f"it needs PyPI on first use; details in {log}",
    )


def emulator_command(python: Path | None) -> list[str]:
    override = os.environ.get(EMULATOR_CMD_ENV)
    if override:
        return shlex.split(override)
    assert python is not None
    return [str(python), "-m", "ministack.app"]


def emulator_env(port: int, state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(
        BIND_HOST="127.0.0.1",  # ministack's default is 0.0.0.0
        GATEWAY_PORT=str(port),
        IOT_MTLS_ENABLED="0",
        SFTP_ENABLED="0",
        PERSIST_STATE="1",  # saved on SIGTERM, so `drctl lab down` keeps the lab's resources
        STATE_DIR=str(state_dir),
        LOG_LEVEL="WARNING",
        MINISTACK_REGION="us-east-1",  # only for unsigned requests; signed ones carry their region
    )
    return env


def start_emulator(argv: Sequence[str], *, port: int, lab_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start the emulator detached from this process (it outlives `drctl lab up`)."""
    state_dir = lab_dir / "emulator-state"
    state_dir.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        try:
            return subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=emulator_env(port, state_dir),
                cwd=lab_dir,
                start_new_session=True,
            )
        except OSError as e:
            raise DrctlError(
                f"lab emulator could not be started: {e}", code=ExitCode.LAB, hint=f"command: {shlex.join(argv)}"
            ) from e


def health_url(emulator_url: str) -> str:
    return f"{emulator_url}/_ministack/health"


def wait_until_ready(proc: subprocess.Popen[bytes], url: str, *, log: Path, deadline_s: float) -> None:
    """Poll the emulator's health endpoint; raise DrctlError(LAB) if it exits or the deadline passes."""
    until = time.monotonic() + deadline_s
    while True:
        rc = proc.poll()
        if rc is not None:
            raise DrctlError(
                f"lab emulator exited during start-up (exit code {rc}): {last_line(log) or 'no output'}",
                code=ExitCode.LAB,
                hint=f"see {log}",
            )
        try:
            with urllib.request.urlopen(health_url(url), timeout=1.0) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > until:
            raise DrctlError(
                f"lab emulator did not answer within {deadline_s:.0f} s", code=ExitCode.LAB, hint=f"see {log}"
            )
        time.sleep(0.1)


def reset_emulator(url: str, *, timeout: float = 10.0) -> None:
    """Wipe every resource in the emulator (ministack's `POST /_ministack/reset`)."""
    req = urllib.request.Request(f"{url}/_ministack/reset", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        resp.read()


def last_line(log: Path) -> str:
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""
