"""Start, find and stop the lab: the emulator and the lab gateway, two detached processes on loopback.

`home` is drctl's home (DRCTL_HOME); the lab keeps everything under `home / "lab"`: the emulator's venv and
state, the gateway's config, request log and model state, logs, and state.json (ports and pids).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drctl.errors import DrctlError, ExitCode
from drctl.lab import emulator
from drctl.lab.ports import default_ports, port_free

DEFAULT_REGIONS = ("us-east-1", "us-west-2")
STOP_DEADLINE_S = 10.0
GATEWAY_START_DEADLINE_S = 15.0
AWS_REGIONS = frozenset(
    (
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "ca-west-1",
        "sa-east-1",
        "mx-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "ap-east-1",
        "ap-east-2",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "me-south-1",
        "me-central-1",
        "il-central-1",
        "af-south-1",
        "us-gov-west-1",
        "us-gov-east-1",
        "cn-north-1",
        "cn-northwest-1",
    )
)


@dataclass(frozen=True)
class LabInfo:
    home: Path  # drctl home; the lab lives in home / "lab"
    endpoints: dict[str, str]  # region name or "global" -> URL
    admin_url: str  # the lab admin API (never taken down by an outage)
    pids: dict[str, int]  # "emulator", "gateway"
    regions: tuple[str, str]
    time_scale: float = 1.0  # every modelled AWS duration is multiplied by this (1 = AWS's own magnitudes)
    dns: dict[str, Any] = field(default_factory=dict)  # the lab's authoritative DNS: {"host", "port"}
    # The lab's load balancers' listeners: {"port"}, on each ALB's loopback addresses (drctl/lab/albs.py).
    http: dict[str, Any] = field(default_factory=dict)
    # The regions' database front ports: region -> {"host", "port"} (drctl/lab/databases.py); empty: none.
    databases: dict[str, Any] = field(default_factory=dict)

    @property
    def lab_dir(self) -> Path:
        return lab_dir(self.home)


def lab_dir(home: Path) -> Path:
    # Absolute: the lab's processes run with the lab folder as their working directory.
    return Path(home).absolute() / "lab"


def validate_regions(regions: Sequence[str]) -> tuple[str, str]:
    if len(regions) != 2 or regions[0] == regions[1]:
        raise DrctlError(
            f"the lab needs two different regions, got {', '.join(regions) or 'none'}",
            code=ExitCode.CONFIG,
            hint="e.g. --regions us-east-1,us-west-2",
        )
    for r in regions:
        if r not in AWS_REGIONS:
            raise DrctlError(
                f"unknown region {r!r}", code=ExitCode.CONFIG, hint="use AWS region names such as us-west-2"
            )
    return regions[0], regions[1]


MAX_TIME_SCALE = 1000.0


def validate_time_scale(value: float) -> float:
    """A lab time scale: finite, above 0, at most MAX_TIME_SCALE (1 = AWS's durations as documented)."""
    if not math.isfinite(value) or value <= 0 or value > MAX_TIME_SCALE:
        raise DrctlError(
            f"time scale must be a finite number above 0 and at most {MAX_TIME_SCALE:g}, got {value!r}",
            code=ExitCode.USAGE,
            hint="1 keeps AWS's durations; e.g. --time-scale 0.05 runs a 60 s alarm period in 3 s",
        )
    return float(value)


def lab_info(home: Path) -> LabInfo | None:
    """The running lab under `home`, or None when it is not running (or only partly)."""
    state = _read_state(home)
    if state is None:
        return None
    info = _info_from_state(home, state)
    if not info.pids or not all(_is_lab_process(pid, info.lab_dir) for pid in info.pids.values()):
        return None
    return info


def lab_up(
    home: Path,
    *,
    regions: Sequence[str] = DEFAULT_REGIONS,
    ports: Mapping[str, int] | None = None,
    emulator_cmd: Sequence[str] | None = None,
    progress: Any = None,
    time_scale: float = 1.0,
    databases: bool = True,
) -> LabInfo:
    """Start the lab under `home` (idempotent: a running, healthy lab is returned as it is).

    `ports` maps "global", each region, "admin", "dns" and "emulator" to a port (default: default_ports()); "http"
    (the load balancers' listeners) is optional: without it the lab's ALBs accept no connections.
    `progress(message)` is called with one-line progress messages (e.g. the first-use install).
    `time_scale` multiplies every modelled AWS duration (alarm periods, health-check turns); tests and the
    demo pass a small one.
    `databases`: real PostgreSQL servers behind the global clusters (drctl/lab/databases.py), on the ports
    "db:<region>"; their binaries are found or installed here, on first use. They start once a global cluster
    exists.
    """
    regs = validate_regions(regions)
    scale = validate_time_scale(time_scale)
    say = progress or (lambda message: None)
    with _locked(home):
        running = lab_info(home)
        if running is not None and _admin_ok(running.admin_url):
            if running.regions != regs:
                raise DrctlError(
                    f"the lab is already running with regions {', '.join(running.regions)}",
                    code=ExitCode.LAB,
                    hint="run `drctl lab down` first to change regions",
                )
            if running.time_scale != scale:
                raise DrctlError(
                    f"the lab is already running with time scale {running.time_scale:g}",
                    code=ExitCode.LAB,
                    hint="run `drctl lab down` first to change the time scale",
                )
            return running
        _stop_recorded(home)  # leftovers of a lab that died half-way
        port_map = dict(ports) if ports else default_ports(regs)
        missing = {"global", "admin", "dns", "emulator", *regs} - set(port_map)
        if missing:
            raise DrctlError(f"no port given for {', '.join(sorted(missing))}", code=ExitCode.CONFIG)
        for role, port in port_map.items():
            if not port_free(port, udp=role == "dns"):
                raise DrctlError(
                    f"lab port {port} ({role}) is already in use on 127.0.0.1",
                    code=ExitCode.LAB,
                    hint="stop what uses it, or pick other ports with --port-base",
                )
        ldir = lab_dir(home)
        ldir.mkdir(parents=True, exist_ok=True)
        emu_log = ldir / "emulator.log"
        if emulator_cmd is None and not os.environ.get(emulator.EMULATOR_CMD_ENV):
            if not emulator.venv_dir(ldir).exists():
                say(f"lab: installing the emulator (ministack {emulator.MINISTACK_VERSION}) on first use")
            python: Path | None = emulator.ensure_ministack(ldir, log=ldir / "install.log")
        else:
            python = None
        with_db = databases and all(f"db:{r}" in port_map for r in regs)
        if with_db:
            from drctl.lab.databases import credentials
            from drctl.lab.postgres import ensure_binaries

            ensure_binaries(ldir, log=ldir / "install.log", say=say)
            credentials(ldir, create=True)
        argv = list(emulator_cmd) if emulator_cmd else emulator.emulator_command(python)
        emulator_url = f"http://127.0.0.1:{port_map['emulator']}"
        pids: dict[str, int] = {}
        try:
            emu = emulator.start_emulator(argv, port=port_map["emulator"], lab_dir=ldir, log=emu_log)
            pids["emulator"] = emu.pid
            _write_state(home, regs, port_map, pids, scale, with_db)
            emulator.wait_until_ready(emu, emulator_url, log=emu_log, deadline_s=emulator.START_DEADLINE_S)
            gw = _start_gateway(ldir, regs, port_map, emulator_url, scale, with_db)
            pids["gateway"] = gw.pid
            _write_state(home, regs, port_map, pids, scale, with_db)
            _wait_gateway(gw, f"http://127.0.0.1:{port_map['admin']}", log=ldir / "gateway.log")
        except BaseException:
            _terminate(pids.values())
            _state_path(home).unlink(missing_ok=True)
            raise
        info = lab_info(home)
        assert info is not None
        return info


def lab_down(home: Path, *, purge: bool = False) -> bool:
    """Stop the lab (its state is kept unless `purge`); True if something was running."""
    with _locked(home):
        was_running = _stop_recorded(home)
    if purge:
        shutil.rmtree(lab_dir(home), ignore_errors=True)
    return was_running


# --- internals -------------------------------------------------------------------------------------------


def _state_path(home: Path) -> Path:
    return lab_dir(home) / "state.json"


def _read_state(home: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(_state_path(home).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_state(
    home: Path,
    regions: tuple[str, str],
    ports: Mapping[str, int],
    pids: Mapping[str, int],
    time_scale: float,
    databases: bool,
) -> None:
    path = _state_path(home)
    tmp = path.with_suffix(".tmp")
    state = {
        "regions": list(regions),
        "ports": dict(ports),
        "pids": dict(pids),
        "time_scale": time_scale,
        "databases": databases,
    }
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


def _info_from_state(home: Path, state: dict[str, Any]) -> LabInfo:
    ports = {str(k): int(v) for k, v in state.get("ports", {}).items()}
    regions = tuple(state.get("regions", ()))
    endpoints = {r: f"http://127.0.0.1:{ports[r]}" for r in (*regions, "global") if r in ports}
    return LabInfo(
        home=Path(home).absolute(),
        endpoints=endpoints,
        admin_url=f"http://127.0.0.1:{ports.get('admin', 0)}",
        pids={str(k): int(v) for k, v in state.get("pids", {}).items()},
        regions=(regions[0], regions[1]) if len(regions) == 2 else DEFAULT_REGIONS,
        time_scale=float(state.get("time_scale", 1.0)),
        dns={"host": "127.0.0.1", "port": ports["dns"]} if "dns" in ports else {},
        http={"port": ports["http"]} if "http" in ports else {},
        databases={r: {"host": "127.0.0.1", "port": ports[f"db:{r}"]} for r in regions if f"db:{r}" in ports}
        if state.get("databases")
        else {},
    )


def _stop_recorded(home: Path) -> bool:
    state = _read_state(home)
    if state is None:
        return False
    pids = [int(p) for p in state.get("pids", {}).values()]
    alive = [p for p in pids if _is_lab_process(p, lab_dir(home))]
    _terminate(alive)
    _state_path(home).unlink(missing_ok=True)
    return bool(alive)


def _terminate(pids: Iterable[int]) -> None:
    """SIGTERM each process group (the emulator saves its state on SIGTERM), SIGKILL after the deadline."""
    targets = [p for p in pids if _alive(p)]
    for pid in targets:
        _signal(pid, signal.SIGTERM)
    until = time.monotonic() + STOP_DEADLINE_S
    while time.monotonic() < until and any(_alive(p) for p in targets):
        time.sleep(0.05)
    for pid in targets:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
    until = time.monotonic() + 2.0
    while time.monotonic() < until and any(_alive(p) for p in targets):
        time.sleep(0.05)
    left = [p for p in targets if _alive(p)]
    if left:
        raise DrctlError(f"lab processes {left} did not stop", code=ExitCode.LAB, hint="kill them by pid")


def _signal(pid: int, sig: int) -> None:
    # Each lab process leads its own session (start_new_session): signal the group, catching any children.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _is_lab_process(pid: int, ldir: Path) -> bool:
    """Alive and still ours: a pid recorded before a reboot may belong to another program by now.
    Both lab processes run in the lab folder, so their working directory tells."""
    if not _alive(pid):
        return False
    try:
        return Path(f"/proc/{pid}/cwd").readlink() == ldir
    except (FileNotFoundError, PermissionError):
        return False  # gone meanwhile, or another user's process
    except OSError:
        return True  # no /proc (or not ours to read): trust the recorded pid


def _alive(pid: int) -> bool:
    """True if `pid` runs (a zombie child of ours counts as gone, and is reaped)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _start_gateway(
    ldir: Path,
    regions: tuple[str, str],
    ports: Mapping[str, int],
    emulator_url: str,
    time_scale: float,
    databases: bool,
) -> subprocess.Popen[bytes]:
    config = {
        "time_scale": time_scale,
        "databases": databases,
        "regions": list(regions),
        "ports": {k: v for k, v in ports.items() if k != "emulator"},
        "emulator_url": emulator_url,
        "home": str(ldir),
        "request_log": str(ldir / "requests.jsonl"),
    }
    cfg = ldir / "gateway.json"
    cfg.write_text(json.dumps(config, indent=2), encoding="utf-8")
    env = dict(os.environ)
    # The gateway imports drctl from the same tree as this process, installed or not.
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    with (ldir / "gateway.log").open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "drctl.lab.gateway", str(cfg)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ldir,
            env=env,
            start_new_session=True,
        )


def _wait_gateway(proc: subprocess.Popen[bytes], admin_url: str, *, log: Path) -> None:
    until = time.monotonic() + GATEWAY_START_DEADLINE_S
    while not _admin_ok(admin_url):
        rc = proc.poll()
        if rc is not None:
            raise DrctlError(
                f"lab gateway exited during start-up (exit code {rc}): {emulator.last_line(log) or 'no output'}",
                code=ExitCode.LAB,
                hint=f"see {log}",
            )
        if time.monotonic() > until:
            raise DrctlError("lab gateway did not answer in time", code=ExitCode.LAB, hint=f"see {log}")
        time.sleep(0.05)


def _admin_ok(admin_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{admin_url}/_lab/status", timeout=2.0) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """One `lab up`/`lab down` at a time per home."""
    ldir = lab_dir(home)
    ldir.mkdir(parents=True, exist_ok=True)
    with (ldir / ".lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def info_as_dict(info: LabInfo) -> dict[str, Any]:
    d = asdict(info)
    d["home"] = str(info.home)
    d["regions"] = list(info.regions)
    return d
