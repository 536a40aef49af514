"""Before `terraform destroy`, drctl detaches the global cluster's readers (and waits until AWS lists none):
AWS refuses to remove the writer while readers remain."""

from __future__ import annotations

from typing import Any

from drctl.deploy.core import detach_readers_before_destroy

WRITER = "arn:aws:rds:us-west-2:000000000000:cluster:app-usw2"
READER = "arn:aws:rds:us-east-1:000000000000:cluster:app-use1"


class FakeRds:
    def __init__(self, log: list[tuple[str, str, dict[str, Any]]], region: str, members: list[dict[str, Any]]):
        self.log, self.region, self.members = log, region, members

    def describe_global_clusters(self, **kw: Any) -> dict[str, Any]:
        return {
            "GlobalClusters": [
                {
                    "GlobalClusterIdentifier": kw["GlobalClusterIdentifier"],
                    "GlobalClusterMembers": list(self.members),
                }
            ]
        }

    def remove_from_global_cluster(self, **kw: Any) -> dict[str, Any]:
        self.log.append((self.region, "RemoveFromGlobalCluster", kw))
        self.members[:] = [m for m in self.members if m["DBClusterArn"] != kw["DbClusterIdentifier"]]
        return {}


class Said:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def say(self, line: str) -> None:
        self.lines.append(line)

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


def test_readers_are_detached_in_their_own_region_and_the_writer_is_left_to_terraform() -> None:
    log: list[tuple[str, str, dict[str, Any]]] = []
    members = [{"DBClusterArn": WRITER, "IsWriter": True}, {"DBClusterArn": READER, "IsWriter": False}]

    def client(service: str, region: str) -> Any:
        assert service == "rds"
        return FakeRds(log, region, members)

    ui = Said()
    variables = {"name": "app", "environment": "lab", "primary_region": "us-east-1"}
    detach_readers_before_destroy(client, variables, ui)  # type: ignore[arg-type]
    assert log == [
        (
            "us-east-1",
            "RemoveFromGlobalCluster",
            {"GlobalClusterIdentifier": "app-lab-global", "DbClusterIdentifier": READER},
        )
    ]
    assert members == [{"DBClusterArn": WRITER, "IsWriter": True}]
    assert any("detaching reader app-use1" in line for line in ui.lines)
