"""Typed errors: each class has its documented exit code, and the legacy `code=` form makes the same class."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drctl.errors import (
    AuthError,
    ConfigError,
    DrctlError,
    ExitCode,
    Failed,
    Locked,
    Refused,
    Unreachable,
    UsageError,
)


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (UsageError, 2),
        (ConfigError, 4),
        (AuthError, 5),
        (Unreachable, 6),
        (Refused, 7),
        (Locked, 8),
        (Failed, 9),
    ],
)
def test_each_error_has_its_exit_code(cls: type[DrctlError], code: int) -> None:
    assert cls("x").code == code
    legacy = DrctlError("x", code=ExitCode(code), hint="h")
    assert type(legacy) is cls and legacy.hint == "h" and str(legacy) == "x — h"


def test_a_subclass_with_its_own_arguments_keeps_them() -> None:
    class WithReport(DrctlError):
        def __init__(self, message: str, *, code: ExitCode, report: dict[str, str]) -> None:
            super().__init__(message, code=code)
            self.report = report

    e = WithReport("m", code=ExitCode.REFUSED, report={"outcome": "refused"})
    assert type(e) is WithReport and e.code == ExitCode.REFUSED and e.report == {"outcome": "refused"}


def test_every_exit_code_is_in_the_readme_table() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| (\d+) \| ([A-Z_]+) \|", readme, flags=re.M))
    assert table == {str(int(c)): c.name for c in ExitCode}
