"""Start-up: `drctl --help` and `drctl --version` vs `python -c "import typer"` (the floor of any typer CLI).

hyperfine when it is on PATH (Debian package `hyperfine`), else a loop of our own with the same warm-up.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import REPO, Series, md_table, ratio

WARMUP = 2
GOALS = ("drctl --help", "drctl --version")


@dataclass
class StartupResult:
    tool: str
    series: dict[str, Series]

    @property
    def floor(self) -> Series:
        return self.series["import typer"]


def commands() -> dict[str, list[str]]:
    exe = Path(sys.executable).parent / "drctl"
    drctl = [str(exe)] if exe.exists() else [sys.executable, "-m", "drctl"]
    env = shutil.which("env") or "/usr/bin/env"
    return {
        "drctl --help": [*drctl, "--help"],
        "drctl --version": [*drctl, "--version"],
        "import typer": [sys.executable, "-c", "import typer"],
        # References, not goals: what typer's own rich help costs, and drctl's help without rich.
        "two-command typer app --help": [sys.executable, str(REPO / "bench" / "typer_minimal.py"), "--help"],
        "TYPER_USE_RICH=0 drctl --help": [env, "TYPER_USE_RICH=0", *drctl, "--help"],
    }


def measure(runs: int, say: Callable[[str], None] = print) -> StartupResult:
    cmds = commands()
    hf = shutil.which("hyperfine")
    res = _hyperfine(hf, cmds, runs) if hf else _own_loop(cmds, runs)
    for name, s in res.series.items():
        say(f"  {name}: median {s.median * 1000:.0f} ms")
    return res


def _own_loop(cmds: dict[str, list[str]], runs: int) -> StartupResult:
    out: dict[str, Series] = {}
    for name, argv in cmds.items():
        for _ in range(WARMUP):
            subprocess.run(argv, capture_output=True, check=True, cwd=REPO)
        s = Series(name)
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=True, cwd=REPO)
            s.samples.append(time.perf_counter() - t)
        out[name] = s
    return StartupResult("own loop (subprocess.run, perf_counter)", out)


def _hyperfine(hf: str, cmds: dict[str, list[str]], runs: int) -> StartupResult:
    with tempfile.TemporaryDirectory(prefix="drctl-bench-hf-") as tmp:
        export = Path(tmp) / "hf.json"
        argv = [
            hf,
            "--warmup",
            str(WARMUP),
            "--runs",
            str(runs),
            "-N",
            "--export-json",
            str(export),
            "--style",
            "none",
        ]
        names: list[str] = []
        for name, cmd in cmds.items():
            argv += ["--command-name", name, _shell_join(cmd)]
            names.append(name)
        subprocess.run(argv, capture_output=True, check=True, cwd=REPO, timeout=600)
        data = json.loads(export.read_text())
    out = {r["command"]: Series(r["command"], [float(t) for t in r["times"]]) for r in data["results"]}
    version = subprocess.run([hf, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return StartupResult(f"{version} (--warmup {WARMUP}, -N: no shell)", out)


def _shell_join(argv: Sequence[str]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


def markdown(res: StartupResult) -> str:
    floor = res.floor.median
    rows = [
        [
            name,
            " / ".join(s.cells(1000)),
            f"{ratio(s.median, floor):.2f}",
            "goal" if name in GOALS else "reference",
        ]
        for name, s in res.series.items()
    ]
    return md_table(["command", "wall (ms) min / med / max", "x import typer (goal ≤ 1.5)", ""], rows) + (
        f"\n\n- Measured with {res.tool}; {len(res.floor.samples)} runs each."
    )
