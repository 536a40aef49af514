"""The capacity the flip waits for, and the setting that decides it."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from drctl.cli.app import run
from drctl.errors import ConfigError, ExitCode
from drctl.failover.capacity import needed_to_flip, summary
from drctl.failover.plan import PLANNED, UNPLANNED
from drctl.stack import FailoverSettings, dump_stack_toml, parse_stack

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "stack.example.toml"


@pytest.mark.parametrize(
    ("wanted", "share", "needed"),
    [(6, 50, 3), (5, 50, 3), (3, 50, 2), (6, 0, 0), (6, 100, 6), (6, 1, 1), (10, 70, 7), (0, 50, 0), (4, 33.3, 2)],
)
def test_unplanned_flip_waits_for_the_share_rounded_up(wanted: int, share: float, needed: int) -> None:
    assert needed_to_flip(wanted, UNPLANNED, share) == needed


def test_planned_flip_waits_for_all_of_it_whatever_the_share() -> None:
    assert [needed_to_flip(6, PLANNED, share) for share in (0, 50, 100)] == [6, 6, 6]


def test_summary_says_short_when_the_end_is_below_the_wanted() -> None:
    short = summary(6, 3, UNPLANNED, 50.0, 3, 4)
    assert (short["healthy_at_flip"], short["healthy_at_end"], short["reached"]) == (3, 4, False)
    assert "50 % of 6" in short["rule"] and short["share_pct"] == 50.0
    full = summary(6, 6, PLANNED, 50.0, 6, 6)
    assert full["reached"] and full["share_pct"] is None and "all 6" in full["rule"]


def _example() -> dict:
    return tomllib.loads(EXAMPLE.read_text())


def test_default_and_bounds_are_accepted(tmp_path: Path) -> None:
    data = _example()
    data["failover"].pop("min_capacity_share", None)
    assert (
        parse_stack(data, tmp_path / "s.toml").failover.min_capacity_share == FailoverSettings.min_capacity_share
    )
    for share in (0, 100, 12.5):
        data["failover"]["min_capacity_share"] = share
        assert parse_stack(data, tmp_path / "s.toml").failover.min_capacity_share == share


@pytest.mark.parametrize("share", [-1, 100.5, 1e9, math.nan, math.inf, "50%", True])
def test_a_share_outside_0_to_100_or_not_a_number_names_the_key(tmp_path: Path, share: object) -> None:
    data = _example()
    data["failover"]["min_capacity_share"] = share
    with pytest.raises(ConfigError) as e:
        parse_stack(data, tmp_path / "s.toml")
    assert "failover.min_capacity_share" in e.value.message and e.value.code == ExitCode.CONFIG


def test_the_cli_refuses_a_bad_share_in_one_line_with_exit_4(tmp_path: Path, capsys) -> None:
    data = _example()
    data["failover"]["min_capacity_share"] = 150
    path = tmp_path / "stack.toml"
    path.write_text(dump_stack_toml(data))
    rc = run(["failover", "--stack", str(path), "--to", "secondary", "--dry-run"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == ExitCode.CONFIG == 4
    assert err[0].startswith("drctl: error:") and "failover.min_capacity_share" in err[0] and "150" in err[0]
