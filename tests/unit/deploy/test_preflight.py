"""Preflight before plan: wrong account and engine versions without global-database support are refused, naming
what would work; the current writer is found so a redeploy keeps the topology."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from drctl.deploy.preflight import run_preflight
from drctl.errors import DrctlError, ExitCode

REGIONS = ("us-east-1", "us-west-2")


class Stub:
    """Stands in for boto3 clients: sts, rds, kms, per region."""

    def __init__(
        self,
        account: str = "111111111111",
        versions: dict[str, list[tuple[str, bool]]] | None = None,
        writer_region: str | None = None,
    ) -> None:
        self.account = account
        self.versions = versions or {r: [("15.12", True), ("16.6", True), ("16.8", True)] for r in REGIONS}
        self.writer_region = writer_region
        self.region = ""

    def __call__(self, service: str, region: str) -> Any:
        self.region = region
        return self

    def get_caller_identity(self) -> dict[str, str]:
        return {"Account": self.account}

    def describe_db_engine_versions(self, **kw: Any) -> dict[str, Any]:
        assert kw["Engine"] == "aurora-postgresql"
        rows = [{"EngineVersion": v, "SupportsGlobalDatabases": g} for v, g in self.versions[self.region]]
        return {"DBEngineVersions": rows}

    def list_aliases(self, **kw: Any) -> dict[str, Any]:
        return {"Aliases": []}

    def describe_global_clusters(self, **kw: Any) -> dict[str, Any]:
        if self.writer_region is None:
            raise ClientError({"Error": {"Code": "GlobalClusterNotFoundFault"}}, "DescribeGlobalClusters")
        members = [
            {"DBClusterArn": f"arn:aws:rds:{r}:111111111111:cluster:c-{r}", "IsWriter": r == self.writer_region}
            for r in REGIONS
        ]
        return {
            "GlobalClusters": [
                {"GlobalClusterIdentifier": kw["GlobalClusterIdentifier"], "GlobalClusterMembers": members}
            ]
        }


def preflight(stub: Stub, version: str = "16.8", account: str | None = None) -> Any:
    return run_preflight(
        stub,
        regions=REGIONS,
        engine_version=version,
        expected_account=account,
        global_cluster_id="payments-prod-global",
    )


def test_engine_version_without_global_support_is_refused_naming_versions_that_work() -> None:
    stub = Stub(
        versions={
            "us-east-1": [("16.6", False), ("16.8", True), ("15.12", True)],
            "us-west-2": [("16.6", True), ("16.8", True), ("15.12", True)],
        }
    )
    with pytest.raises(DrctlError) as e:
        preflight(stub, version="16.6")
    assert e.value.code == ExitCode.REFUSED
    assert "aurora-postgresql 16.6 does not support global databases in us-east-1" in e.value.message
    assert "16.8, 15.12" in (e.value.hint or "")


def test_engine_version_missing_in_one_region_is_refused() -> None:
    stub = Stub(versions={"us-east-1": [("16.8", True)], "us-west-2": [("15.12", True)]})
    with pytest.raises(DrctlError) as e:
        preflight(stub)
    assert "in us-west-2" in e.value.message and "none" in (e.value.hint or "")


def test_wrong_account_is_refused() -> None:
    with pytest.raises(DrctlError) as e:
        preflight(Stub(account="999999999999"), account="111111111111")
    assert e.value.code == ExitCode.AWS_AUTH
    assert "999999999999" in e.value.message and "111111111111" in e.value.message


def test_current_writer_is_reported_and_absent_before_the_first_deploy() -> None:
    assert preflight(Stub(writer_region="us-west-2")).writer_region == "us-west-2"
    assert preflight(Stub()).writer_region is None
