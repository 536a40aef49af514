"""The one domain exception type and the exit codes it maps to (in the CLI layer only)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit code drctl uses. Documented in README.md ("Exit codes")."""

    OK = 0
    ERROR = 1  # unexpected failure: a bug in drctl (traceback with --debug)
    USAGE = 2  # bad command line (typer/click's own code)
    NOT_READY = 3  # status: not ready for failover / degraded
    CONFIG = 4  # stack file or configuration missing, malformed or incomplete
    AWS_AUTH = 5  # no credentials, expired token, access denied, wrong account
    UNREACHABLE = 6  # a required endpoint does not answer
    REFUSED = 7  # a safety check refused the operation; nothing was changed
    LOCKED = 8  # another operator holds the run lock
    FAILED = 9  # an operation started and did not complete; see the journal
    TERRAFORM = 10  # terraform missing, too old, or failed
    LAB = 11  # the offline lab is not running or could not start
    INTERRUPTED = 130  # Ctrl-C


class DrctlError(Exception):
    """A failure a user can act on: one line of message, one line of hint, one exit code."""

    def __init__(self, message: str, *, code: ExitCode = ExitCode.ERROR, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} — {self.hint}"


class ConfigError(DrctlError):
    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, code=ExitCode.CONFIG, hint=hint)
