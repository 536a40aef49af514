"""Durations as `drctl lab set-lag` reads them."""

from __future__ import annotations

import pytest

from drctl.cli.lab import parse_duration_ms


@pytest.mark.parametrize(
    ("text", "ms"), [("2500ms", 2500), ("3s", 3000), ("1.5s", 1500), ("250", 250), ("1m", 60000)]
)
def test_lag_units(text: str, ms: float) -> None:
    assert parse_duration_ms(text) == ms
