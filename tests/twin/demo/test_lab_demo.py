"""`drctl lab demo` end to end through the CLI, twice (re-runnable), in its own home on free ports.

The demo's measured figures must agree with the twin's injected truth: RPO with the lag the lab was
publishing (± 100 ms), RTO with the wall clock around the failover (± 0.5 s); the Markdown reports carry the
same RTO/RPO as the run's JSON.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drctl.lab.runtime import lab_down, lab_info

pytestmark = [pytest.mark.twin, pytest.mark.slow]

# A first run installs the emulator's environment (from uv's cache when warm) and applies terraform/ from
# nothing (about three minutes of provider waiters); a re-run re-applies it ("no changes") in under a minute.
DEMO_TIMEOUT_S = 600
TERRAFORM = shutil.which("terraform") is not None


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One drctl home for this module: the Ctrl-C test re-uses the stack the first test leaves (faster)."""
    folder = tmp_path_factory.mktemp("demo") / "home"
    try:
        yield folder
    finally:
        lab_down(folder)


def demo(home: Path, lab_tools: Any, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "drctl",
            "lab",
            "demo",
            "--json",
            "--port-base",
            str(lab_tools.free_port_base()),
            *args,
        ],
        env=lab_tools.cli_env(home),
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        check=False,
    )
    return proc, time.monotonic() - started


def md_figure(md: str, name: str) -> float:
    m = re.search(rf"^\| {name} \| \*\*([0-9.]+) s\*\*", md, re.MULTILINE)
    assert m, f"no {name} line in the Markdown report"
    return float(m.group(1))


def check_result(result: dict[str, Any]) -> None:
    assert result["lab"] is True
    unplanned, planned = result["runs"]
    assert (unplanned["mode"], unplanned["from_region"], unplanned["to_region"]) == (
        "unplanned",
        "us-east-1",
        "us-west-2",
    )
    assert (planned["mode"], planned["to_region"]) == ("planned", "us-east-1")
    for run in (unplanned, planned):
        assert run["outcome"] == "completed"
        assert abs(run["rto_s"] - run["wall_s"]) <= 0.5, run
        assert run["call_s"] >= run["rto_s"]
        md = Path(run["reports"]["md"]).read_text()
        assert md_figure(md, "RTO") == run["rto_s"] and md_figure(md, "RPO") == run["rpo_s"]
        phases = json.loads(Path(run["reports"]["json"]).read_text())["phases"]
        assert Path(run["reports"]["html"]).read_text().count('class="phase-bar"') == len(phases) >= 5
    assert unplanned["lab_lag_ms"] == 2500.0
    assert abs(unplanned["rpo_s"] * 1000 - unplanned["lab_lag_ms"]) <= 100, unplanned
    assert "AuroraGlobalDBRPOLag" in unplanned["rpo_source"]
    assert planned["rpo_s"] == 0.0


def test_demo_twice_figures_agree_with_the_twin(home: Path, lab_tools: Any) -> None:
    try:
        proc, took = demo(home, lab_tools)
        assert proc.returncode == 0, proc.stderr[-3000:]
        result = json.loads(proc.stdout)  # --json: nothing but JSON on stdout
        check_result(result)
        assert result["duration_s"] <= took
        assert result["deployed_by"] == ("terraform" if TERRAFORM else "seed")
        narration = proc.stderr
        assert "lab [1/9]" in narration and "lab [9/9]" in narration
        assert "unplanned failover to us-west-2" in narration and "lab outage" in narration
        assert lab_info(home) is None, "without --keep the twin is taken down"

        again, _ = demo(home, lab_tools, "--keep")  # re-runnable: same home, twin state left by the first run
        assert again.returncode == 0, again.stderr[-3000:]
        second = json.loads(again.stdout)
        check_result(second)
        assert second["kept"] is True and lab_info(home) is not None
        if TERRAFORM:  # the stack the first run left is re-applied, and Terraform finds it as it made it
            assert "re-applying terraform/" in again.stderr and "terraform plan: no changes" in again.stderr
        runs = lab_tools.run_cli("runs", "--json", home=home)
        assert len(json.loads(runs.stdout)) == 4
    finally:
        lab_down(home)


def test_ctrl_c_during_the_failover_takes_the_twin_down(home: Path, lab_tools: Any) -> None:
    argv = [sys.executable, "-m", "drctl", "lab", "demo", "--port-base", str(lab_tools.free_port_base())]
    proc = subprocess.Popen(argv, env=lab_tools.cli_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    seen = b""
    try:
        deadline = time.monotonic() + DEMO_TIMEOUT_S
        while b"lab [5/9]" not in seen and time.monotonic() < deadline and proc.poll() is None:
            seen += proc.stderr.readline()
        assert b"lab [5/9]" in seen, seen.decode(errors="replace")[-3000:]
        assert lab_info(home) is not None
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    err = (seen + rest).decode(errors="replace")
    assert proc.returncode == 130, err[-3000:]
    assert "taking the twin down" in err
    assert lab_info(home) is None
