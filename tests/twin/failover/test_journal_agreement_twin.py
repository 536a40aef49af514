"""One journal reader: for an interactive run (the operator takes time at the prompt), `failover --json`,
the report rebuilt from the journal, and `drctl runs` agree on phases and RTO, and the prompt is not RTO."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from failover_helpers import writer_region

PROMPT_S = 3.0


def _drctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drctl", *args], capture_output=True, text=True, env=os.environ.copy(), timeout=120
    )


def _answer_after(args: list[str], answer: str, think_s: float) -> subprocess.CompletedProcess[str]:
    """Run drctl; when it asks "Proceed?", wait `think_s` (the operator reading the plan), then answer."""
    p = subprocess.Popen(
        [sys.executable, "-m", "drctl", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert p.stdin and p.stdout and p.stderr
    err: list[str] = []
    asked = threading.Event()

    def read_err() -> None:
        assert p.stderr
        while ch := p.stderr.read(1):
            err.append(ch)
            if "Proceed? [y/N]:" in "".join(err[-20:]):
                asked.set()

    reader = threading.Thread(target=read_err, daemon=True)
    reader.start()
    assert asked.wait(60), "".join(err)
    time.sleep(think_s)
    p.stdin.write(answer)
    p.stdin.close()
    out = p.stdout.read()
    p.wait(120)
    reader.join(10)
    return subprocess.CompletedProcess(p.args, p.returncode, out, "".join(err))


def test_an_interactive_run_reads_the_same_everywhere_and_the_prompt_is_not_rto(fast, home: Path) -> None:
    twin, stack = fast
    started = time.monotonic()
    p = _answer_after(["failover", "--to", "secondary", "--json", "--stack", str(stack)], "y\n", PROMPT_S)
    wall = time.monotonic() - started
    assert p.returncode == 0, p.stderr
    assert "Proceed?" in p.stderr
    assert p.stdout.startswith("{")  # the question went to stderr, all of it: --json prints only JSON
    run = json.loads(p.stdout)
    assert run["outcome"] == "completed" and writer_region(twin) == "us-west-2"

    shown = _drctl("report", run["run_id"], "--format", "json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    listed = json.loads(_drctl("runs", "--json").stdout)[0]

    assert report["phases"] == run["phases"]
    assert report["rto_s"] == run["rto_s"] == listed["rto_s"]
    phases = {ph["name"]: ph for ph in run["phases"]}
    assert phases["confirmation"]["seconds"] >= PROMPT_S - 0.5
    assert phases["preflight"]["seconds"] < PROMPT_S / 2  # the prompt sits between preflight steps
    assert run["rto_s"] <= wall - phases["confirmation"]["seconds"] + 0.2
    assert run["critical_path_s"] < run["rto_s"]
