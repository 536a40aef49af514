"""Pure parts of the lab's databases (drctl/lab/databases.py): their ports, credentials, the stack file's
[canary] for them, and measured lag replacing the simulated one in the published metrics (signals.py)."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path
from typing import Any

from drctl.lab.access import canary_section
from drctl.lab.databases import credentials, port_role
from drctl.lab.ports import default_ports
from drctl.lab.signals import Signals
from drctl.stack import load_stack, write_stack_file

RDS = "arn:aws:rds:{}:000000000000:cluster:drctl-lab-{}"


class _Rds:
    def describe_global_clusters(self) -> dict[str, Any]:
        members = [
            {"DBClusterArn": RDS.format("us-east-1", "use1"), "IsWriter": True},
            {"DBClusterArn": RDS.format("us-west-2", "usw2"), "IsWriter": False},
        ]
        return {"GlobalClusters": [{"GlobalClusterIdentifier": "g", "GlobalClusterMembers": members}]}


class _S3:
    def list_buckets(self) -> dict[str, Any]:
        return {"Buckets": []}


class _World:
    regions = ("us-east-1", "us-west-2")

    def is_region_down(self, region: str) -> bool:
        return False

    def app_failing(self, region: str) -> bool:
        return False

    def client(self, service: str, region: str) -> Any:
        assert service in ("rds", "s3")
        return _Rds() if service == "rds" else _S3()


class _Transitions:
    def apparent_writer(self, global_cluster_id: str) -> str | None:
        return None

    def is_resyncing(self, cluster_arn: str) -> bool:
        return False


class _Databases:
    def __init__(self, sample: tuple[float, float] | None, running: bool = True) -> None:
        self.sample, self.running = sample, running

    def measures(self, region: str) -> bool:
        return self.running

    def lag(self, region: str) -> tuple[float, float] | None:
        return self.sample


def _published(lag_source: _Databases | None) -> list[dict[str, Any]]:
    signals = Signals(_World(), _Transitions())  # type: ignore[arg-type]
    signals.profile.lag_ms = 777.0
    sent: list[dict[str, Any]] = []
    signals.put_metric_data = lambda region, ns, data: sent.extend({**d, "region": region} for d in data)
    signals.lag_source = lag_source
    signals.tick()
    return [d for d in sent if d["MetricName"].startswith("AuroraGlobalDB")]


def test_measured_lag_is_published_instead_of_the_simulated_one() -> None:
    got = {d["MetricName"]: d for d in _published(_Databases((12.5, 40.0)))}
    assert got["AuroraGlobalDBReplicationLag"]["Value"] == 12.5  # replay_lag
    assert got["AuroraGlobalDBRPOLag"]["Value"] == 40.0  # flush_lag
    assert {d["region"] for d in got.values()} == {"us-west-2"}  # by the secondary, in its own region


def test_no_measurement_no_datapoint_and_without_databases_the_profile() -> None:
    assert _published(_Databases(None)) == []  # a cut stream: the newest sample stays the last measured
    assert {d["Value"] for d in _published(_Databases(None, running=False))} == {777.0}
    assert {d["Value"] for d in _published(None)} == {777.0}


def test_each_region_has_a_database_port_within_the_ten() -> None:
    ports = default_ports(("us-east-1", "us-west-2"), 4710)
    assert ports[port_role("us-east-1")] == 4716 and ports[port_role("us-west-2")] == 4717
    assert len(set(ports.values())) == len(ports) and max(ports.values()) <= 4719


def test_credentials_are_made_once_and_readable_by_their_owner_only(tmp_path: Path) -> None:
    assert credentials(tmp_path) is None
    made = credentials(tmp_path, create=True)
    assert made is not None and len(made.password) >= 20
    assert credentials(tmp_path, create=True) == made
    assert stat.S_IMODE((tmp_path / "db-credentials.json").stat().st_mode) == 0o600
    assert made.password not in repr(made)


def test_the_lab_stack_turns_the_canary_on_and_its_file_is_private(tmp_path: Path) -> None:
    dbs = {"us-east-1": {"host": "127.0.0.1", "port": 4716}, "us-west-2": {"host": "127.0.0.1", "port": 4717}}
    assert canary_section(dbs, tmp_path) == {}  # no credentials: no databases were ever set up here
    creds = credentials(tmp_path, create=True)
    assert creds is not None
    section = canary_section(dbs, tmp_path)["canary"]
    assert section["endpoints"] == {"us-east-1": "127.0.0.1:4716", "us-west-2": "127.0.0.1:4717"}
    assert section["on_failover"] is True
    assert canary_section({}, tmp_path) == {}
    example = Path(__file__).resolve().parents[3] / "examples" / "stack.example.toml"
    data = {**tomllib.loads(example.read_text()), **canary_section(dbs, tmp_path)}
    path = write_stack_file(data, tmp_path / "stack.toml")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    canary = load_stack(str(path)).canary
    assert canary.password == creds.password and creds.password not in repr(canary)
