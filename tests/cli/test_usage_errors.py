"""Bad command lines exit 2 (USAGE) with one line on stderr, before any stack file is read; help lists choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from drctl.cli.app import run
from drctl.errors import ExitCode


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRCTL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DRCTL_STACK", str(tmp_path / "no-stack.toml"))  # reading it would be exit 4
    monkeypatch.setenv("COLUMNS", "200")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["failover", "--to", "secondary", "--mode", "sideways"], "'planned', 'unplanned'"),
        (["failover", "--to", "secondary", "--flip-method", "dns"], "'switch', 'invert'"),
        (["failover", "--to", "secondary", "--allow-data-loss"], "--allow-data-loss only applies"),
        (["failover", "--to", "secondary", "--mode", "unplanned"], "add --allow-data-loss"),
        (["failover", "--resume", "20261129T121500Z-ab12", "--to", "secondary"], "--resume continues a run"),
        (["failover"], "--to is required"),
        (["failover", "--to", "secondary", "--only", "everything"], "'database', 'traffic'"),
        (["failover", "--to", "secondary", "--force-traffic"], "--force-traffic only applies to --only traffic"),
        (
            ["failover", "--to", "secondary", "--only", "database", "--force-traffic"],
            "--force-traffic only applies to --only traffic",
        ),
        (
            ["failover", "--to", "secondary", "--only", "traffic", "--mode", "unplanned", "--allow-data-loss"],
            "--only traffic promotes nothing",
        ),
        (["failover", "--to", "secondary", "--only", "database", "--flip-method", "invert"], "moves no traffic"),
        (["failover", "--resume", "20261129T121500Z-ab12", "--only", "traffic"], "--resume continues a run"),
        (["report", "20261129T121500Z-ab12", "--format", "pdf"], "'md', 'html', 'json'"),
        (["status", "--watch", "--json"], "cannot be combined"),
        (["status", "--timeout", "0"], "--timeout"),
    ],
)
def test_bad_command_line_exits_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    assert run(args) == ExitCode.USAGE
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and needle in captured.err, captured.err
    assert captured.out == ""
    assert not (tmp_path / "home").exists()  # no journal, no lock: nothing started


@pytest.mark.parametrize(
    ("args", "choices"),
    [
        (["failover", "--help"], ["planned|unplanned", "switch|invert", "database|traffic", "--only traffic"]),
        (["report", "--help"], ["md|html|json"]),
    ],
)
def test_help_lists_the_choices(capsys: pytest.CaptureFixture[str], args: list[str], choices: list[str]) -> None:
    assert run(args) == ExitCode.OK
    out = capsys.readouterr().out
    for choice in choices:
        assert choice in out, out


def test_a_missing_stack_file_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["failover", "--to", "secondary", "--dry-run"]) == ExitCode.CONFIG
    assert capsys.readouterr().err.count("\n") == 1


def test_malformed_name_servers_are_a_config_error_naming_the_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import tomllib

    from drctl.stack import dump_stack_toml

    example = Path(__file__).resolve().parents[2] / "examples" / "stack.example.toml"
    data = tomllib.loads(example.read_text())
    data["route53"]["name_servers"] = ["127.0.0.1:99999"]
    stack = tmp_path / "stack.toml"
    stack.write_text(dump_stack_toml(data))
    assert run(["failover", "--stack", str(stack), "--to", "secondary", "--dry-run"]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "route53.name_servers" in err and "99999" in err, err


@pytest.mark.parametrize("part", ["database", "traffic"])
def test_only_on_a_stack_that_moves_no_traffic_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], part: str
) -> None:
    """Traffic method none: every failover of that stack is database-only already; --only says nothing true."""
    from drctl.stack import write_stack_file

    stack = tmp_path / "db-only.toml"
    write_stack_file(
        {
            "name": "db-only",
            "database": {"global_cluster_id": "g"},
            "regions": {
                "us-east-1": {"role": "primary", "cluster_id": "a", "cluster_arn": "arn:a"},
                "us-west-2": {"role": "secondary", "cluster_id": "b", "cluster_arn": "arn:b"},
            },
        },
        stack,
    )
    assert run(["failover", "--stack", str(stack), "--to", "secondary", "--only", part, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "traffic method is 'none'" in err and "drop --only" in err
    assert not (tmp_path / "home").exists()
