"""`drctl lab ...` as a user runs it: a subprocess, exit code, one-line errors, no process left behind."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

from drctl.cli.lab import parse_duration_ms
from drctl.errors import ExitCode
from drctl.lab.runtime import LabInfo

pytestmark = pytest.mark.twin


def _processes_in(folder: Path) -> list[int]:
    """Processes whose working directory is `folder` (the lab starts both of its processes there)."""
    found = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if cwd.readlink() == folder:
                found.append(int(cwd.parent.name))
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _one_line_error(stderr: str, *needles: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("drctl: error: ")
    for needle in needles:
        assert needle in lines[0]


def _refused(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def test_up_status_outage_restore_down_purge(tmp_path: Path, lab_tools) -> None:
    base = lab_tools.free_port_base()
    try:
        started = time.monotonic()
        up = lab_tools.run_cli("lab", "up", "--port-base", str(base), "--json", home=tmp_path)
        assert up.returncode == 0, up.stderr
        cold_s = time.monotonic() - started
        again = lab_tools.run_cli("lab", "up", "--port-base", str(base), "--json", home=tmp_path)
        assert again.returncode == 0 and json.loads(again.stdout)["pids"] == json.loads(up.stdout)["pids"]

        status = lab_tools.run_cli("lab", "status", "--json", home=tmp_path)
        assert status.returncode == 0
        data = json.loads(status.stdout)
        assert data["running"] is True
        assert data["endpoints"] == {
            "us-east-1": f"http://127.0.0.1:{base + 1}",
            "us-west-2": f"http://127.0.0.1:{base + 2}",
            "global": f"http://127.0.0.1:{base}",
        }
        assert data["outages"] == [] and data["faults"] == {
            "throttle_rate": 0.0,
            "error_rate": 0.0,
            "fail": [],
            "lose_answer": [],
        }
        pids = data["pids"]
        assert set(pids) == {"emulator", "gateway"} and all(_alive(p) for p in pids.values())
        text = lab_tools.run_cli("lab", "status", home=tmp_path).stdout
        assert "LAB" in text and f"http://127.0.0.1:{base + 2}" in text

        info = LabInfo(tmp_path, data["endpoints"], data["admin_url"], pids, ("us-east-1", "us-west-2"))
        west = lab_tools.boto3_client(info, "sqs", "us-west-2")
        url = west.create_queue(QueueName="payments")["QueueUrl"]
        assert west.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] == (
            "arn:aws:sqs:us-west-2:000000000000:payments"
        )

        assert lab_tools.run_cli("lab", "outage", "us-east-1", home=tmp_path).returncode == 0
        east = lab_tools.boto3_client(info, "sqs", "us-east-1", connect_timeout=1)
        t0 = time.monotonic()
        with pytest.raises((EndpointConnectionError, ConnectionClosedError)):
            east.list_queues()
        assert time.monotonic() - t0 < 1.0
        assert west.list_queues()["QueueUrls"] == [url]
        assert json.loads(lab_tools.run_cli("lab", "status", "--json", home=tmp_path).stdout)["outages"] == [
            "us-east-1"
        ]
        assert lab_tools.run_cli("lab", "restore", home=tmp_path).returncode == 0
        assert east.list_queues().get("QueueUrls", []) == []

        down = lab_tools.run_cli("lab", "down", home=tmp_path)
        assert down.returncode == 0 and "lab: stopped" in down.stdout
        assert not any(_alive(p) for p in pids.values())
        assert _processes_in(tmp_path / "lab") == []
        assert all(_refused(u) for u in data["endpoints"].values())
        assert json.loads(lab_tools.run_cli("lab", "status", "--json", home=tmp_path).stdout) == {
            "lab": True,
            "running": False,
        }

        # `down` keeps the lab's resources: the next `up` has the queue again.
        started = time.monotonic()
        assert lab_tools.run_cli("lab", "up", "--port-base", str(base), home=tmp_path).returncode == 0
        warm_s = time.monotonic() - started
        assert west.list_queues()["QueueUrls"] == [url]
        print(f"lab up: cold {cold_s:.2f} s, warm {warm_s:.2f} s")

        purge = lab_tools.run_cli("lab", "down", "--purge", home=tmp_path)
        assert purge.returncode == 0 and not (tmp_path / "lab").exists()
    finally:
        lab_tools.run_cli("lab", "down", home=tmp_path)
    assert _processes_in(tmp_path / "lab") == []


def test_unknown_region_is_a_config_error(tmp_path: Path, lab_tools) -> None:
    proc = lab_tools.run_cli("lab", "up", "--regions", "us-east-1,us-middle-7", home=tmp_path)
    assert proc.returncode == ExitCode.CONFIG
    _one_line_error(proc.stderr, "us-middle-7")
    assert proc.stdout == "" and _processes_in(tmp_path / "lab") == []


def test_port_in_use_names_the_port_and_starts_nothing(tmp_path: Path, lab_tools) -> None:
    base = lab_tools.free_port_base()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base + 2))
        squatter.listen()
        proc = lab_tools.run_cli("lab", "up", "--port-base", str(base), home=tmp_path)
    assert proc.returncode == ExitCode.LAB
    _one_line_error(proc.stderr, str(base + 2))
    assert _processes_in(tmp_path / "lab") == []
    assert not (tmp_path / "lab" / "state.json").exists()


def test_emulator_failing_to_start_is_one_line_and_leaves_nothing(tmp_path: Path, lab_tools) -> None:
    base = lab_tools.free_port_base()
    bogus = "python3 -c \"import sys; print('emulator: cannot start'); sys.exit(3)\""
    env = lab_tools.cli_env(tmp_path, DRCTL_LAB_EMULATOR_CMD=bogus)
    proc = lab_tools.run_cli("lab", "up", "--port-base", str(base), home=tmp_path, env=env)
    assert proc.returncode == ExitCode.LAB
    _one_line_error(proc.stderr, "exit code 3", "emulator: cannot start")
    assert _processes_in(tmp_path / "lab") == []
    assert not (tmp_path / "lab" / "state.json").exists()
    assert all(_refused(f"http://127.0.0.1:{p}") for p in range(base, base + 4))


def test_stale_state_never_signals_someone_elses_process(tmp_path: Path, lab_tools) -> None:
    bystander = subprocess.Popen(["sleep", "30"], cwd="/")
    try:
        (tmp_path / "lab").mkdir()
        state = {"regions": ["us-east-1", "us-west-2"], "ports": {}, "pids": {"emulator": bystander.pid}}
        (tmp_path / "lab" / "state.json").write_text(json.dumps(state))
        assert "not running" in lab_tools.run_cli("lab", "status", home=tmp_path).stdout
        assert lab_tools.run_cli("lab", "down", home=tmp_path).stdout.strip() == "lab: was not running"
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
def test_commands_need_a_running_lab(tmp_path: Path, lab_tools, args: list[str]) -> None:
    proc = lab_tools.run_cli("lab", *args, home=tmp_path)
    assert proc.returncode == ExitCode.LAB
    _one_line_error(proc.stderr, "lab is not running", "drctl lab up")


def test_injection_commands_reach_the_twin(lab) -> None:
    assert lab.cli("lab", "latency", "120", "--jitter", "30").returncode == 0
    faults = ["--throttle", "0.2", "--errors", "0.05", "--fail", "SwitchoverGlobalCluster"]
    assert lab.cli("lab", "faults", *faults, "--lose-answer", "FailoverGlobalCluster").returncode == 0
    data = json.loads(lab.cli("lab", "status", "--json").stdout)
    assert data["latency"] == {"ms": 120.0, "jitter_ms": 30.0}
    assert data["faults"] == {
        "throttle_rate": 0.2,
        "error_rate": 0.05,
        "fail": ["SwitchoverGlobalCluster"],
        "lose_answer": ["FailoverGlobalCluster"],
    }
    assert "answers lost: FailoverGlobalCluster" in lab.cli("lab", "status").stdout
    assert lab.cli("lab", "faults", "--fail", "Failover Global").returncode == 2
    assert lab.cli("lab", "faults").returncode == 0
    assert json.loads(lab.cli("lab", "status", "--json").stdout)["faults"]["lose_answer"] == []
    assert lab.cli("lab", "outage", "us-west-2").returncode == 0
    assert _refused(lab.info.endpoints["us-west-2"])
    assert lab.cli("lab", "restore", "us-west-2").returncode == 0
    assert not _refused(lab.info.endpoints["us-west-2"])
    bad = lab.cli("lab", "outage", "eu-west-1")
    assert bad.returncode == ExitCode.LAB
    _one_line_error(bad.stderr, "eu-west-1")
    assert lab.cli("lab", "faults", "--throttle", "1.5").returncode == ExitCode.USAGE
    bad = lab.cli("lab", "restore", "us-moon-1")  # found by bench/faults.py: was accepted with exit 0
    assert bad.returncode == ExitCode.LAB
    _one_line_error(bad.stderr, "us-moon-1")


@pytest.mark.parametrize(
    "args",
    [
        ["latency", "--", "-5"],
        ["latency", "inf"],
        ["latency", "100", "--jitter", "nan"],
        ["up", "--port-base", "70000"],
    ],
)
def test_bad_values_are_refused_before_anything_runs(tmp_path: Path, lab_tools, args: list[str]) -> None:
    """Found by bench/faults.py: negative/infinite latency was accepted (inf stalled every call), and a port
    base past 65535 ended in an internal error."""
    proc = lab_tools.run_cli("lab", *args, home=tmp_path)
    assert proc.returncode == ExitCode.USAGE and proc.stdout == ""
    _one_line_error(proc.stderr)
    assert not (tmp_path / "lab").exists()


@pytest.mark.parametrize(
    ("text", "ms"), [("2500ms", 2500), ("3s", 3000), ("1.5s", 1500), ("250", 250), ("1m", 60000)]
)
def test_lag_units(text: str, ms: float) -> None:
    assert parse_duration_ms(text) == ms


def test_status_of_a_stopped_lab_says_lab(tmp_path: Path, lab_tools) -> None:
    proc = lab_tools.run_cli("lab", "status", home=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("lab: not running")
