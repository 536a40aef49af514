"""`drctl status`: the incident screen. Parse options, call drctl.status, render, choose the exit code.

No boto3 at import time: core modules are imported inside the command.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from drctl.cli.app import app
from drctl.errors import ExitCode, Unreachable, UsageError

if TYPE_CHECKING:
    from drctl.models import StatusReport

DEFAULT_TIMEOUT_S = 8.0
MAX_WATCH_ITERATIONS = 100_000  # a bound, not a limit anyone should reach (about a day at 1 s)


@app.command(
    epilog=(
        "Examples:\n\n"
        "  drctl status\n\n"
        "  drctl status --stack prod.toml --json | jq .ready\n\n"
        "  drctl status --watch --interval 5\n\n"
        "Exit codes: 0 ready for failover; 3 not ready or degraded (reasons listed); "
        "2 bad command line; 4 stack file problem; 5 credentials/permissions; 6 unreachable."
    )
)
def status(
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack", help="Stack file (default: $DRCTL_STACK, else $DRCTL_HOME/stack.toml).", show_default=False
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON on stdout (keys: docs/status-json.md).")
    ] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh the screen until Ctrl-C.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.5, help="Seconds between refreshes with --watch.")
    ] = 5.0,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=0.5, help="Seconds to wait for AWS; a region silent that long is unreachable."
        ),
    ] = DEFAULT_TIMEOUT_S,
) -> int:
    """Who writes, replication lag, health, what Route53 answers, capacity, backlog, RPO/RTO now.

    Reads both regions at once; a region that does not answer within --timeout is shown as unreachable
    and the rest still renders.
    """
    if watch and as_json:
        raise UsageError("--watch and --json cannot be combined", hint="use one of them")
    from drctl.stack import load_stack
    from drctl.status import collect_status, status_client_factory

    loaded = load_stack(stack)
    factory = status_client_factory(loaded, timeout)
    if watch:
        return _watch(lambda: collect_status(loaded, timeout_s=timeout, factory=factory), interval)
    report = collect_status(loaded, timeout_s=timeout, factory=factory)
    if as_json:
        from drctl.render.status_json import render_json

        sys.stdout.write(render_json(report) + "\n")
    else:
        from rich.console import Console

        from drctl.render.status_screen import render_screen

        Console().print(render_screen(report))
    return int(ExitCode.OK if report.ready else ExitCode.NOT_READY)


def _watch(get: Callable[[], StatusReport], interval: float) -> int:
    """Live screen; Ctrl-C ends it (the CLI maps that to exit code 130). A refresh where nothing answers
    keeps the last screen with a note instead of ending the watch: networks blink during incidents."""
    from rich.console import Console, Group
    from rich.live import Live
    from rich.text import Text

    from drctl.render.status_screen import render_screen

    report = get()
    with Live(render_screen(report), console=Console(), auto_refresh=False) as live:
        for _ in range(MAX_WATCH_ITERATIONS):
            time.sleep(interval)
            try:
                report = get()
            except Unreachable as e:
                note = Text(f"refresh failed at {time.strftime('%H:%M:%S')}: {e}", style="bold red")
                live.update(Group(render_screen(report), note), refresh=True)
                continue
            live.update(render_screen(report), refresh=True)
    return int(ExitCode.OK if report.ready else ExitCode.NOT_READY)
