"""The typed errors drctl raises and the exit codes they map to (in the CLI layer only).

Each kind of failure a user can act on is one class with one exit code; code that handles errors catches
them by type. Every code is documented in README.md ("Exit codes").
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar, Self, cast


class ExitCode(IntEnum):
    """Every exit code drctl uses. Documented in README.md ("Exit codes")."""

    OK = 0
    ERROR = 1  # unexpected failure: a bug in drctl (traceback with --debug)
    USAGE = 2  # bad command line: unknown option or value, options that cannot be combined
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
    """A failure a user can act on: one line of message, one line of hint, one exit code.

    Raise one of the subclasses below. `DrctlError(..., code=X)` is kept for callers that have not moved to
    them yet, and makes the subclass for X, so that catching by type never misses one."""

    exit_code: ClassVar[ExitCode] = ExitCode.ERROR

    def __new__(cls, message: str, *args: Any, code: ExitCode | None = None, **kwargs: Any) -> Self:
        # Subclasses may take more keyword arguments (a run's report): only `code` matters here.
        if cls is DrctlError and code is not None and code in _BY_CODE:
            return cast(Self, super().__new__(_BY_CODE[code], message))
        return super().__new__(cls, message)

    def __init__(self, message: str, *, code: ExitCode | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.exit_code
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} — {self.hint}"


class UsageError(DrctlError):
    """Bad command line: a value or a combination of options drctl cannot act on (exit 2)."""

    exit_code = ExitCode.USAGE


class ConfigError(DrctlError):
    """The stack file or configuration is missing, malformed or incomplete; unknown region (exit 4)."""

    exit_code = ExitCode.CONFIG


class AuthError(DrctlError):
    """No credentials, rejected or expired credentials, access denied, wrong account (exit 5)."""

    exit_code = ExitCode.AWS_AUTH


class Unreachable(DrctlError):
    """A required endpoint does not answer (exit 6)."""

    exit_code = ExitCode.UNREACHABLE


class Refused(DrctlError):
    """A safety check refused the operation; nothing was changed (exit 7)."""

    exit_code = ExitCode.REFUSED


class Locked(DrctlError):
    """Another operator holds the run lock (exit 8)."""

    exit_code = ExitCode.LOCKED


class Failed(DrctlError):
    """An operation started and did not complete; the journal says how far it got (exit 9)."""

    exit_code = ExitCode.FAILED


class TerraformError(DrctlError):
    """Terraform is missing, too old, or failed (exit 10)."""

    exit_code = ExitCode.TERRAFORM


class LabError(DrctlError):
    """The offline lab is not running or could not start (exit 11)."""

    exit_code = ExitCode.LAB


class Stopped(DrctlError):
    """Ctrl-C: the run stopped; the hint says how to resume (exit 130)."""

    exit_code = ExitCode.INTERRUPTED


_BY_CODE: dict[ExitCode, type[DrctlError]] = {
    c.exit_code: c
    for c in (
        UsageError,
        ConfigError,
        AuthError,
        Unreachable,
        Refused,
        Locked,
        Failed,
        TerraformError,
        LabError,
        Stopped,
    )
}
