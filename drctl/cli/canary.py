"""`drctl canary run|check`: ground-truth RPO and write outage through a PostgreSQL endpoint (issue 14)."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from drctl.cli.app import app
from drctl.cli.options import JsonOpt, StackOpt
from drctl.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from drctl.canary.check import CheckResult
    from drctl.canary.db import Credentials, Endpoint

canary_app = typer.Typer(
    help="The canary: numbered transactions through a PostgreSQL endpoint; acknowledged commits recorded "
    "locally; read back for the ground-truth RPO (acknowledged transactions lost) and the write outage.",
    no_args_is_help=True,
)
app.add_typer(canary_app, name="canary")

EndpointOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--endpoint",
        help="PostgreSQL host:port; repeat for one per region: the writer is the first that accepts writes. "
        "Default: the stack's \\[canary] endpoints.",
    ),
]
DatabaseOpt = Annotated[
    str | None, typer.Option("--database", help="Database name (default: \\[canary] database).")
]
UserOpt = Annotated[
    str | None, typer.Option("--user", help="Database user when the password comes from DRCTL_CANARY_PASSWORD.")
]


@canary_app.command("run")
def run(
    endpoint: EndpointOpt = None,
    database: DatabaseOpt = None,
    user: UserOpt = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Seconds to write, then check. Default: until Ctrl-C.")
    ] = None,
    rate: Annotated[
        float | None, typer.Option("--rate", help="Transactions per second (default: \\[canary] rate, or 20).")
    ] = None,
    json_output: JsonOpt = False,
    stack_file: StackOpt = None,
) -> None:
    """Write numbered transactions, then read them back: ground-truth RPO and write outage.

    [bold]drctl canary run --endpoint db.example.internal:5432 --database app --duration 60[/bold]
    (its record: $DRCTL_HOME/canary/RUN_ID; Ctrl-C without --duration).

    Password: DRCTL_CANARY_PASSWORD (with --user or DRCTL_CANARY_USER), else the stack's \\[canary] secret_arn
    (Secrets Manager), else its \\[canary.static_credentials] (labs). Never on the command line.

    Exit codes: 0 done, 2 bad command line, 4 configuration (no endpoint, database or credentials), 5 credentials
    rejected, 6 endpoint unreachable, 7 refused (read-only endpoint, or a canary table of another shape: nothing
    was changed), 130 interrupted.
    """
    from drctl.canary.check import check
    from drctl.canary.writer import Writer, canary_home
    from drctl.journal.log import new_run_id

    if duration is not None and duration <= 0:
        raise UsageError(f"--duration must be above 0 seconds, got {duration:g}")
    if rate is not None and not 0 < rate <= 1000:
        raise UsageError(f"--rate must be above 0 and at most 1000 per second, got {rate:g}")
    endpoints, db_name, creds, settings_rate = _target(endpoint, database, user, stack_file)
    run_id = new_run_id()
    writer = Writer(canary_home() / run_id, run_id, endpoints, db_name, creds, rate or settings_rate)
    writer.open()
    _say(
        f"canary {run_id}: writing to {', '.join(map(str, endpoints))} / {db_name} at {writer.rate:g}/s",
        json_output,
    )
    writer.start(duration)
    try:
        _wait(writer, duration, json_output)
    except KeyboardInterrupt:
        _say("stopping the canary (Ctrl-C); checking", json_output)
    writer.stop()
    writer.close()
    result = check(writer.folder, endpoints, db_name, creds)
    _show(result, json_output, extra={"rate_requested_per_s": writer.rate, "folder": str(writer.folder)})


@canary_app.command("check")
def check_cmd(
    run_id: Annotated[
        str,
        typer.Option(
            "--run", help="A canary run or a `failover --canary` run. Example: --run 20261202T190000Z-ab12"
        ),
    ],
    endpoint: EndpointOpt = None,
    user: UserOpt = None,
    json_output: JsonOpt = False,
    stack_file: StackOpt = None,
) -> None:
    """Read a run's canary back from the current writer.

    [bold]drctl canary check --run 20261202T190000Z-ab12[/bold]

    Reads the endpoints and database the run wrote to (or --endpoint, e.g. the new writer's), counts the
    acknowledged commits it no longer has, and shows the write outages.

    Exit codes: 0 done (loss or not: read the result), 4 unknown run or no credentials, 5 credentials rejected,
    6 no writer answers.
    """
    from drctl.canary.check import check, read_meta
    from drctl.canary.db import Endpoint
    from drctl.canary.writer import folder_for

    folder = folder_for(run_id)
    meta = read_meta(folder)
    name_servers = tuple(meta.get("name_servers") or _settings(stack_file, required=False).name_servers)
    endpoints = [Endpoint.parse(e, name_servers) for e in (endpoint or meta["endpoints"])]
    creds = _credentials(stack_file, user or meta.get("user"))
    _show(check(folder, endpoints, str(meta["database"]), creds), json_output, extra={"folder": str(folder)})


# ---------------------------------------------------------------------------------------------- helpers


def _target(
    endpoint: list[str] | None, database: str | None, user: str | None, stack_file: str | None
) -> tuple[list[Endpoint], str, Credentials, float]:
    from drctl.canary.db import Endpoint
    from drctl.stack import CanarySettings

    settings = _settings(stack_file, required=not (endpoint and database))
    eps = endpoint or list(settings.endpoints)
    db_name = database or settings.database
    if not eps:
        raise ConfigError("the canary has no endpoint", hint="pass --endpoint HOST:PORT or set [canary] endpoints")
    if not db_name:
        raise ConfigError("the canary has no database", hint="pass --database NAME or set [canary] database")
    creds = _credentials(stack_file, user)
    endpoints = [Endpoint.parse(e, settings.name_servers) for e in eps]
    return endpoints, db_name, creds, (settings.rate or CanarySettings.rate)


def _settings(stack_file: str | None, *, required: bool) -> Any:
    from drctl.stack import CanarySettings, load_stack, resolve_stack_path

    if not required and not resolve_stack_path(stack_file).is_file():
        return CanarySettings()
    return load_stack(stack_file).canary


def _credentials(stack_file: str | None, user: str | None) -> Credentials:
    import os

    from drctl.canary.credentials import ENV_PASSWORD, resolve
    from drctl.stack import AwsSettings, CanarySettings, load_stack, resolve_stack_path

    if os.environ.get(ENV_PASSWORD) or not resolve_stack_path(stack_file).is_file():
        return resolve(CanarySettings(), AwsSettings(), user)
    stack = load_stack(stack_file)
    return resolve(stack.canary, stack.aws, user)


def _wait(writer: Any, duration: float | None, quiet: bool) -> None:
    last = time.monotonic()
    while writer._thread is not None and writer._thread.is_alive():
        writer._thread.join(timeout=1.0)
        if time.monotonic() - last >= 5.0:
            last = time.monotonic()
            s = writer.stats
            _say(f"  {s.acked} acknowledged, {s.failed} failed attempts, {s.reconnects} reconnects", quiet)


def _say(msg: str, quiet: bool) -> None:
    del quiet  # progress goes to stderr either way; stdout carries only the result
    typer.echo(msg, err=True)


def _show(result: CheckResult, as_json: bool, extra: dict[str, Any]) -> None:
    if as_json:
        sys.stdout.write(json.dumps({**result.to_dict(), **extra}, indent=2) + "\n")
        return
    out = sys.stdout
    out.write(f"canary {result.run_id}: read back from {result.read_from} in {result.check_s:.2f} s\n")
    out.write(f"  {result.rpo_line()}\n")
    out.write(f"  {result.outage_line()}\n")
    for o in result.outages:
        end = f"{o.duration_s:.3f} s, to seq {o.to_seq}" if o.duration_s is not None else "not recovered"
        out.write(
            f"    break after seq {o.from_seq}: {end}; "
            f"{o.failed_attempts} failed inserts/connections: {o.first_error}\n"
        )
    if result.unacked_present:
        out.write(f"  {result.unacked_present} unacknowledged attempts committed anyway (not counted)\n")
    rate = result.rate_achieved
    out.write(
        f"  {result.acked} acknowledged commits" + (f", {rate:g}/s achieved between breaks\n" if rate else "\n")
    )
    out.write(f"  record: {extra['folder']}\n")
