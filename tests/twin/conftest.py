"""Fixtures shared by the twin tests' folders."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DRCTL_HOME for the drctl commands a test runs in process."""
    h = tmp_path / "drctl-home"
    monkeypatch.setenv("DRCTL_HOME", str(h))
    return h
