"""drctl discover's reading of AWS, against in-process fakes: what is linked, what is left out and said."""

from __future__ import annotations

from typing import Any

import pytest

from drctl.discover import discover
from drctl.errors import ConfigError, ExitCode


def member(region: str, writer: bool, sync: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"DBClusterArn": f"arn:aws:rds:{region}:1:cluster:c-{region}", "IsWriter": writer}
    if sync:
        out["SynchronizationStatus"] = sync
    return out


class Fake:
    """One fake client for every service: the calls discover makes, answered from `members`."""

    def __init__(self, members: list[dict[str, Any]]) -> None:
        self.members = members

    def client(self, service: str, region: str) -> Fake:
        return self

    def describe_global_clusters(self, **_: Any) -> dict[str, Any]:
        gc = {"GlobalClusterIdentifier": "g", "Status": "available", "Engine": "aurora-postgresql"}
        return {"GlobalClusters": [{**gc, "EngineVersion": "16.8", "GlobalClusterMembers": self.members}]}

    def describe_db_clusters(self, DBClusterIdentifier: str) -> dict[str, Any]:
        key = f"arn:aws:kms:{DBClusterIdentifier[2:]}:1:key/k"
        return {
            "DBClusters": [{"DBClusterIdentifier": DBClusterIdentifier, "KmsKeyId": key, "DBClusterMembers": []}]
        }

    def describe_key(self, KeyId: str) -> dict[str, Any]:
        return {"KeyMetadata": {"KeyState": "Enabled"}}

    def describe_load_balancers(self, **_: Any) -> dict[str, Any]:
        return {"LoadBalancers": []}

    def list_buckets(self) -> dict[str, Any]:
        return {"Buckets": []}

    def list_backup_vaults(self, **_: Any) -> dict[str, Any]:
        return {"BackupVaultList": [{"BackupVaultName": "Default"}]}


def test_more_than_one_secondary_keeps_a_connected_one_and_says_which_are_left_out() -> None:
    members = [
        member("us-east-1", True),
        member("eu-west-1", False, "pending-resync"),
        member("us-west-2", False, "connected"),
        member("ap-south-1", False, "connected"),
    ]
    d = discover(Fake(members), name="n", global_cluster_id="g", start_region="us-east-1")
    assert {n: r["role"] for n, r in d.stack["regions"].items()} == {
        "us-east-1": "primary",
        "us-west-2": "secondary",
    }
    left = [g["what"] for g in d.not_found if g["what"].startswith("database")]
    assert len(left) == 2 and any("eu-west-1" in w for w in left) and any("ap-south-1" in w for w in left)
    assert d.stack["regions"]["us-west-2"]["kms_key_arn"] == "arn:aws:kms:us-west-2:1:key/k"
    assert d.traffic_method == "none"
    assert {g["what"].split(":")[0].split(" (")[0] for g in d.not_found} >= {"traffic", "backups", "lock table"}


def test_a_global_cluster_without_a_secondary_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as e:
        discover(Fake([member("us-east-1", True)]), name="n", global_cluster_id="g", start_region="us-east-1")
    assert "no secondary region" in e.value.message and e.value.code == ExitCode.CONFIG
