"""The `drctl` application: one typer app, sub-commands registered from their own modules."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from drctl import __version__
from drctl.errors import DrctlError, ExitCode

app = typer.Typer(
    name="drctl",
    help="Failover orchestration for a two-region AWS stack: deploy, status, failover, report, lab.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

_debug = False


def _version(value: bool) -> None:
    if value:
        typer.echo(f"drctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", envvar="DRCTL_DEBUG", help="Show tracebacks for unexpected errors.")
    ] = False,
) -> None:
    global _debug
    _debug = debug


def _register() -> None:
    # Each module adds its commands to `app`; imported here so that the registration order is the help order.
    from drctl.cli import commands  # noqa: F401


def run(argv: list[str]) -> int:
    """Run drctl with `argv` and return the exit code; the one place where errors become exit codes."""
    _register()
    try:
        rv = app(args=argv, prog_name="drctl", standalone_mode=False)
    except DrctlError as e:
        _print_error(e.message, e.hint)
        return int(e.code)
    except (KeyboardInterrupt, typer.Abort):
        _print_error("interrupted", None)
        return int(ExitCode.INTERRUPTED)
    except typer.Exit as e:
        return e.exit_code
    except typer.TyperException as e:  # usage errors: typer prints nothing itself outside standalone mode
        if e.format_message():
            print(f"drctl: error: {e.format_message()}", file=sys.stderr)
        return e.exit_code
    except Exception as e:  # a bug in drctl: one line, the traceback only with --debug
        if _debug:
            raise
        _print_error(f"internal error: {type(e).__name__}: {e}", "re-run with --debug for the traceback")
        return int(ExitCode.ERROR)
    return rv if isinstance(rv, int) else 0


def _print_error(message: str, hint: str | None) -> None:
    line = f"drctl: error: {message}"
    if hint:
        line += f" — {hint}"
    print(line, file=sys.stderr)


def main() -> None:
    sys.exit(run(sys.argv[1:]))
