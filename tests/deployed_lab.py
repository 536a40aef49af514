"""A lab with terraform/ applied to it, for the deploy test modules (tests/twin/deploy). Each module applies its
own stack in its own lab home, so the two long ones run on two workers at once."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drctl.demo.stack import demo_stack_path
from drctl.demo.story import DEMO_TIME_SCALE
from drctl.lab.runtime import lab_down

DEPLOY_TIMEOUT_S = 900


@dataclass
class Applied:
    home: Path
    stack_path: Path
    first: subprocess.CompletedProcess[str]
    first_s: float


def drctl(
    home: Path, lab_tools: Any, *args: str, timeout: float = DEPLOY_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    return run_python(home, lab_tools, ["-m", "drctl", *args], timeout=timeout)


def run_python(
    home: Path, lab_tools: Any, argv: list[str], timeout: float = DEPLOY_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv],
        env=lab_tools.cli_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def lab_at_demo_scale(lab_tools: Any) -> list[str]:
    """`lab up` options for a lab the demo can reuse: the demo runs the twin on its own time scale."""
    return ["--port-base", str(lab_tools.free_port_base()), "--time-scale", str(DEMO_TIME_SCALE)]


@contextmanager
def applied_lab(home: Path, lab_tools: Any, deploy: list[str] | None = None) -> Iterator[Applied]:
    """`drctl lab up`, then the first `drctl deploy --lab` (or `python DEPLOY...` when given), writing the stack
    file where the demo looks for the stack it left; the lab is taken down afterwards, even on failure."""
    stack_path = demo_stack_path(home)
    try:
        up = drctl(home, lab_tools, "lab", "up", *lab_at_demo_scale(lab_tools), timeout=300)
        assert up.returncode == 0, up.stderr[-3000:]
        started = time.monotonic()
        # --yes: no terminal here, and deploy refuses to apply without one (exit 7) unless told not to ask
        argv = [*(deploy or ["-m", "drctl"]), "deploy", "--lab", "--yes", "--stack", str(stack_path)]
        first = run_python(home, lab_tools, argv)
        yield Applied(home, stack_path, first, time.monotonic() - started)
    finally:
        lab_down(home)
