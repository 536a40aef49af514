"""The CLI shell: version, help, usage errors, and start-up without boto3."""

from __future__ import annotations

import subprocess
import sys

from drctl import __version__
from drctl.cli.app import run


def test_version(capsys) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"drctl {__version__}"


def test_unknown_command_is_a_usage_error(capsys) -> None:
    assert run(["no-such-command"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-command" in err


def test_help_and_version_do_not_import_boto3() -> None:
    for args in (["--help"], ["--version"]):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "drctl", *args],
            capture_output=True,
            text=True,
            check=True,
        )
        imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
        assert not {m for m in imported if m.split(".")[0] in ("boto3", "botocore")}, args
