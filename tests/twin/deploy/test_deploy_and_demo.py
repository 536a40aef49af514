"""terraform/ applied to a twin once for this module, then everything here that needs a Terraform-made stack
uses it.

In order (one lab home, one cold apply of about three minutes):
- `drctl deploy --lab`: preflight, plan summary, progress, no password in any file drctl writes; the stack file
  it writes is read by `drctl status` as ready; a second deploy changes nothing;
- `drctl lab demo --keep`: its figures agree with the twin's injected truth; a second demo re-applies the stack
  the first kept ("no changes"), and Ctrl-C during its failover takes the twin down.
The redeploy after a writer swap and the destroy are in test_redeploy_and_destroy.py, on a stack of their own
(so the two long modules run on two workers at once).

The first deploy writes the stack file where the demo looks for the stack it left (drctl.demo.stack), so
the demo re-applies the deploy's stack instead of wiping the twin and applying terraform/ a second time.
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
from deployed_lab import Applied, applied_lab, drctl

from drctl.errors import ExitCode
from drctl.lab.runtime import lab_dir, lab_info
from drctl.stack import load_stack

pytestmark = [
    pytest.mark.terraform,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed"),
]
DEMO_TIMEOUT_S = 600
STATUS_POLL_S = 30.0  # the lab publishes lag samples every second once it sees the global cluster
SECRET = "SENTINEL-twin-password-9e8d7c"
# The first deploy, in a subprocess whose password generator returns SECRET, to look for it everywhere afterwards.
FIRST_DEPLOY = (
    "import sys; from drctl.deploy import core; core.secrets.token_urlsafe = lambda n: {secret!r}; "
    "from drctl.cli.app import run; sys.exit(run(sys.argv[1:]))"
)


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory, lab_tools: Any) -> Iterator[Applied]:
    home = tmp_path_factory.mktemp("deployed") / "home"
    with applied_lab(home, lab_tools, deploy=["-c", FIRST_DEPLOY.format(secret=SECRET)]) as applied:
        yield applied


def test_first_deploy_applies_terraform_and_writes_no_password_anywhere(applied: Applied) -> None:
    first = applied.first
    assert first.returncode == 0, first.stderr[-3000:]
    print(f"first deploy: {applied.first_s:.0f} s")
    assert "preflight: aurora-postgresql 16.8 supports global databases in both regions" in first.stderr
    assert "to create" in first.stderr and "/" in first.stderr  # plan summary and [done/total] progress
    assert SECRET not in first.stdout + first.stderr
    # drctl's files: state, plan file, var file, CLI config, lab logs, the gateway's request log. (The emulator's
    # own storage plays AWS, which does hold the password.)
    aws_side = {".terraform", "emulator-state", "ministack-venv"}
    for path in applied.home.rglob("*"):
        if path.is_file() and not aws_side & set(path.parts):
            assert SECRET.encode() not in path.read_bytes(), path
    state = (lab_dir(applied.home) / "terraform" / "terraform.tfstate").read_text()
    assert '"master_password": null' in state and '"master_password_wo": null' in state
    info = lab_info(applied.home)
    assert info is not None
    stack = load_stack(applied.stack_path)
    assert set(stack.regions) == {"us-east-1", "us-west-2"}
    assert stack.aws.endpoints == info.endpoints and stack.aws.static_access_key_id == "test"
    assert stack.primary.switch_alarm_region == "us-west-2" and stack.secondary.switch_alarm_region == "us-east-1"


def test_status_reads_the_deployed_stack_as_ready(applied: Applied, lab_tools: Any) -> None:
    # Ready as soon as the lab has published the secondary's first lag samples (until then status rightly says
    # "not ready", exit 3): drctl reads the Terraform-made stack as a user would.
    end = time.monotonic() + STATUS_POLL_S
    while True:
        status = drctl(
            applied.home, lab_tools, "status", "--json", "--stack", str(applied.stack_path), timeout=120
        )
        report = json.loads(status.stdout)
        if report["ready"] or time.monotonic() > end:
            break
        time.sleep(1)
    assert status.returncode == ExitCode.OK and report["reasons"] == [], status.stdout[-2000:]
    assert report["writer_region"] == "us-east-1" and report["serving_region"] == "us-east-1"


def test_a_second_deploy_changes_nothing(applied: Applied, lab_tools: Any) -> None:
    # No --yes: a plan with nothing to apply needs no approval (as `terraform apply`); one with changes would
    # be refused here (no terminal), so this also proves the plan is empty.
    second = drctl(applied.home, lab_tools, "deploy", "--lab", "--stack", str(applied.stack_path))
    assert second.returncode == 0, second.stderr[-3000:]
    assert "no changes" in second.stdout


# ------------------------------------------------------------------------------------------------ the demo


def demo(home: Path, lab_tools: Any, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    argv = ["lab", "demo", "--json", "--port-base", str(lab_tools.free_port_base()), *args]
    proc = drctl(home, lab_tools, *argv, timeout=DEMO_TIMEOUT_S)
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
    assert "AuroraGlobalDBRPOLag" in unplanned["rpo_source"]
    assert planned["rpo_s"] == 0.0
    if not unplanned["canary"]:  # no databases: the lab publishes the lag it was given
        assert abs(unplanned["rpo_s"] * 1000 - unplanned["lab_lag_ms"]) <= 100, unplanned
        return
    # The lab's databases: the lag is measured on a stream delayed 2500 ms (the delay is its floor; the standby's
    # flush reports add to it), and the estimate is set beside the canary's ground truth.
    assert unplanned["lab_lag_ms"] - 100 <= unplanned["rpo_s"] * 1000 <= unplanned["lab_lag_ms"] + 1500, unplanned
    lost, kept = unplanned["canary"], planned["canary"]
    assert lost["missing"] > 0 and unplanned["rpo_s"] >= lost["missing_window_s"], lost
    assert kept["missing"] == 0 and kept["acked"] > 0, kept


def test_demo_figures_agree_with_the_twin(applied: Applied, lab_tools: Any) -> None:
    home = applied.home
    proc, took = demo(home, lab_tools, "--keep")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)  # --json: nothing but JSON on stdout
    check_result(result)
    assert result["duration_s"] <= took and result["deployed_by"] == "terraform"
    # The deploy's stack is re-applied, or — lag is read per minute, as on AWS, so the stack may not read as
    # ready yet — the demo starts from nothing.
    assert "re-applying terraform/" in proc.stderr or "starting from nothing" in proc.stderr
    narration = proc.stderr
    assert "lab [1/9]" in narration and "lab [9/9]" in narration
    assert "unplanned failover to us-west-2" in narration and "lab outage" in narration
    assert result["kept"] is True and lab_info(home) is not None
    runs = drctl(home, lab_tools, "runs", "--json", timeout=60)
    assert len(json.loads(runs.stdout)) == 2


def test_a_second_demo_re_applies_the_stack_and_ctrl_c_takes_the_twin_down(
    applied: Applied, lab_tools: Any
) -> None:
    # Re-runnable: same home, the twin state the last demo kept. Its stack is re-applied ("no changes"), then
    # Ctrl-C during the failover takes the twin down.
    home = applied.home
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
    assert "re-applying terraform/" in err and "terraform plan: no changes" in err, err[-3000:]
    assert proc.returncode == 130, err[-3000:]
    assert "taking the twin down" in err
    assert lab_info(home) is None
