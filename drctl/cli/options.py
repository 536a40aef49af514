"""Options several commands share, defined once so their names, help and defaults cannot drift apart."""

from __future__ import annotations

from typing import Annotated

import typer

DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Run the read-only preflight and print the calls; change nothing.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
BreakLockOpt = Annotated[
    bool, typer.Option("--break-lock", help="Take the run lock from another holder (after confirmation).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only the JSON report on stdout.")]
StackOpt = Annotated[
    str | None, typer.Option("--stack", help="Stack file (default: $DRCTL_STACK or .drctl/stack.toml).")
]
