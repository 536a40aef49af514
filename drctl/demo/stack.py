"""The demo's stack in the twin: the project's terraform/ applied with `drctl deploy --lab`'s core.

A first run (or a run after a broken one) starts from nothing: twin reset, the lab's Terraform state dropped with
it, a full apply (about three minutes: the provider's waiters). A re-run finds the stack the last demo left
— healthy, the primary writing and serving — and re-applies it, which Terraform confirms with "no changes".
Without terraform (or without the project's terraform/ folder) the same topology is seeded with plain API calls.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from drctl.deploy.core import deploy
from drctl.deploy.labdeploy import lab_request
from drctl.lab.control import LabControl
from drctl.lab.runtime import LabInfo, lab_dir
from drctl.stack import Stack, load_stack

Say = Callable[[str], None]
PROGRESS_EVERY = 25  # resources between two progress lines of the apply


def demo_stack_path(home: Path) -> Path:
    """The demo's stack file: under the lab folder, never $DRCTL_HOME/stack.toml (which may describe AWS)."""
    return lab_dir(home) / "demo" / "stack.toml"


def reusable(home: Path, info: LabInfo, is_healthy: Callable[[Stack], bool]) -> Stack | None:
    """The stack a previous demo left, if it is still healthy with its primary writing and serving."""
    path = demo_stack_path(home)
    if not path.is_file():
        return None
    try:
        stack = load_stack(str(path))
        # The twin may run on other ports than last time: reach it where it is now (its databases too).
        stack = replace(stack, aws=replace(stack.aws, endpoints=dict(info.endpoints)))
        if info.databases and stack.canary.on_failover:
            ports = tuple(f"{d['host']}:{d['port']}" for d in info.databases.values())
            stack = replace(stack, canary=replace(stack.canary, endpoints=ports))
        return stack if is_healthy(stack) else None
    except Exception:  # anything wrong with the leftovers means: start from nothing
        return None


def start_from_nothing(home: Path, control: LabControl) -> None:
    """Wipe the twin and forget what the lab's Terraform state says about it (the state described the wiped
    resources); the stack file goes too."""
    control.reset()
    tf = lab_dir(home) / "terraform"
    for name in ("terraform.tfstate", "terraform.tfstate.backup"):
        (tf / name).unlink(missing_ok=True)
    demo_stack_path(home).unlink(missing_ok=True)


def deploy_stack(info: LabInfo, home: Path, say: Say) -> tuple[Stack, Path, str]:
    """Apply terraform/ to the twin (or seed it); returns the stack, its file, and how it was made."""
    path = demo_stack_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    from drctl.deploy.toolchain import terraform_source  # where the configuration is: decided there, once

    source = terraform_source()
    if source is None or shutil.which("terraform") is None:
        say("      terraform or the project's terraform/ not found: seeding the same topology with API calls.")
        from drctl.lab.seed import seed_topology

        seeded = seed_topology(info, path.parent)
        return load_stack(str(seeded)), seeded, "seed"
    ui = _Narration(say)
    ui.say("terraform apply: about three minutes into an empty twin (provider waiters); a re-apply, under one.")
    # approve=None: the demo applies to the twin it started itself, as `drctl deploy --lab --yes` would.
    req = lab_request(source=source, stack_path=path, user_variables={}, progress=ui.say, approve=None)
    result = deploy(req, ui)
    return load_stack(str(result.stack_path)), result.stack_path, "terraform"


class _Narration:
    """deploy's Ui, condensed: the plan in one line, then a progress line every few resources."""

    def __init__(self, say: Say) -> None:
        self._say = say

    def say(self, message: str) -> None:
        self._say(f"      {message}")

    def plan(self, summary: Any) -> None:
        counts = summary.counts
        what = ", ".join(f"{n} to {action}" for action, n in sorted(counts.items())) or "no changes"
        self.say(f"terraform plan: {what}")

    def progress(self, done: int, total: int, event: Any) -> None:
        if event.kind == "apply_errored":
            self.say(f"terraform: {event.resource} failed: {event.message}")
        elif event.kind == "apply_complete" and (done % PROGRESS_EVERY == 0 or done == total):
            self.say(f"terraform: {done}/{total} resources")
