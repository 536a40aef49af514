"""What every bench script shares: a private twin, timing loops, summaries, the machine's description.

Nothing here is imported by drctl; bench/ measures drctl from the outside (subprocesses of the real CLI) and
from the inside only where a figure needs it (the dependent-call trace).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("DRCTL_BENCH_CACHE", Path.home() / ".cache" / "drctl-bench"))
CLI_TIMEOUT_S = 180.0
# The bench lab runs AWS's durations at 1/50 (a 60 s alarm period in 1.2 s); figures report both clocks.
BENCH_TIME_SCALE = 0.02
# A distinctive secret for the twin's static credentials: the secrets scan looks for it everywhere drctl
# writes. The lab does not check signatures, so any secret works.
BENCH_SECRET = "drctlBenchSecret-9f3c1e7a5b"


# --- numbers -----------------------------------------------------------------------------------------------


@dataclass
class Series:
    """Samples of one measurement (seconds unless `unit` says otherwise)."""

    label: str
    samples: list[float] = field(default_factory=list)
    unit: str = "s"

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def min(self) -> float:
        return min(self.samples) if self.samples else float("nan")

    @property
    def max(self) -> float:
        return max(self.samples) if self.samples else float("nan")

    def cells(self, scale: float = 1.0, digits: int = 0) -> list[str]:
        """min / median / max as table cells (e.g. scale 1000 for ms)."""
        return [f"{v * scale:.{digits}f}" for v in (self.min, self.median, self.max)]

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "unit": self.unit, "samples": [round(s, 6) for s in self.samples]}


def timed(fn: Callable[[], object], runs: int, label: str) -> Series:
    """Run `fn` `runs` times and keep each wall time (perf_counter)."""
    s = Series(label)
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        s.samples.append(time.perf_counter() - t)
    return s


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- processes ---------------------------------------------------------------------------------------------


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a drctl subprocess: no AWS_/DRCTL_ variables from outside, DRCTL_HOME = `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DRCTL_"))}
    env.update(DRCTL_HOME=str(home), **extra)
    return env


def drctl_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "drctl", *args]


def run_drctl(*args: str, env: dict[str, str], timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        drctl_argv(*args), env=env, capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO
    )


# --- the twin ----------------------------------------------------------------------------------------------


@dataclass
class BenchTwin:
    """A private lab (temp home, free ports), seeded; `stack` is its stack file (with BENCH_SECRET)."""

    home: Path
    info: Any  # drctl.lab.runtime.LabInfo
    control: Any  # drctl.lab.control.LabControl
    stack: Path
    tmp: Path  # TMPDIR of every drctl subprocess (scanned for secrets)

    def env(self, **extra: str) -> dict[str, str]:
        return clean_env(self.home, TMPDIR=str(self.tmp), **extra)

    def drctl(
        self, *args: str, timeout: float = CLI_TIMEOUT_S, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
        return run_drctl(*args, env=self.env(**extra_env), timeout=timeout)

    def reseed(self) -> None:
        """Empty emulator and models, then the seeded topology again (writer back in the first region)."""
        from drctl.lab.models import SHORT_DURATIONS
        from drctl.lab.seed import seed_topology

        self.control.reset()  # durations back to AWS's minutes: the bench runs on seconds-scale ones
        self.control.set_durations(**SHORT_DURATIONS)
        self.control.set_lag(100)
        path = seed_topology(self.info, self.home)
        _use_bench_secret(path)
        if path != self.stack:
            shutil.copyfile(path, self.stack)

    def wait_for_lag(self, timeout_s: float = 20.0) -> None:
        """Until the lab has published a lag sample for the secondary (status and failover read it)."""
        import boto3

        region = self.info.regions[1]
        cw = boto3.client(
            "cloudwatch",
            region_name=region,
            endpoint_url=self.info.endpoints[region],
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if cw.list_metrics(Namespace="AWS/RDS", MetricName="AuroraGlobalDBRPOLag").get("Metrics"):
                time.sleep(0.3)  # the metric exists once its first sample does; let one more land
                return
            time.sleep(0.5)
        raise RuntimeError("the lab published no lag samples")

    def wait_ready(self, timeout_s: float = 30.0) -> bool:
        """Until `drctl status` says ready (exit 0): lag samples published, new targets warmed up."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.drctl("status", "--json", "--stack", str(self.stack), timeout=60).returncode == 0:
                return True
            time.sleep(0.5)
        return False


def _use_bench_secret(stack_path: Path) -> None:
    text = stack_path.read_text(encoding="utf-8")
    lines = [
        f'secret_access_key = "{BENCH_SECRET}"' if line.strip().startswith("secret_access_key") else line
        for line in text.splitlines()
    ]
    stack_path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextmanager
def private_twin(
    progress: Callable[[str], None] = print, *, time_scale: float = BENCH_TIME_SCALE, databases: bool = False
) -> Iterator[BenchTwin]:
    """Start a lab in a temp home on free loopback ports, seed it; stop it (and delete the home) at the end.
    `databases`: the lab's real PostgreSQL servers (off by default: the other benches measure without them)."""
    from drctl.lab.control import LabControl
    from drctl.lab.ports import free_lab_ports
    from drctl.lab.runtime import lab_down, lab_up
    from drctl.lab.seed import seed_topology

    home = Path(tempfile.mkdtemp(prefix="drctl-bench-"))
    tmp = home / "tmp"
    tmp.mkdir()
    try:
        ports = free_lab_ports(("us-east-1", "us-west-2"))
        t = time.perf_counter()
        info = lab_up(home, ports=ports, progress=progress, time_scale=time_scale, databases=databases)
        progress(f"twin up in {time.perf_counter() - t:.1f}s: {json.dumps(info.endpoints)}")
        try:
            control = LabControl(info.admin_url)
            stack = seed_topology(info, home)
            _use_bench_secret(stack)
            yield BenchTwin(home=home, info=info, control=control, stack=stack, tmp=tmp)
        finally:
            lab_down(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


# --- the machine -------------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """CPU, cores, memory, OS, Python and the versions that matter to the figures."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    from drctl import __version__
    from drctl.lab.emulator import MINISTACK_VERSION

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "drctl": __version__,
        "boto3 / botocore": f"{v('boto3')} / {v('botocore')}",
        "typer": v("typer"),
        "emulator": f"ministack {MINISTACK_VERSION}",
        "load average at start": load,
    }


def git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout.strip() or "-"
    except OSError:
        return "-"
