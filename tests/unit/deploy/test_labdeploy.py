"""The lab-only override: generated into a work copy of terraform/, never into the source tree."""

from __future__ import annotations

from pathlib import Path

from drctl.deploy.labdeploy import OVERRIDE_NAME, lab_aws_section, prepare_lab_workdir

ROOT = Path(__file__).resolve().parents[3]
ENDPOINTS = {
    "us-east-1": "http://127.0.0.1:5001",
    "us-west-2": "http://127.0.0.1:5002",
    "global": "http://127.0.0.1:5000",
}


def test_work_copy_gets_the_overrides_and_keeps_state(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "terraform.tfstate").write_text("{}")  # state of a previous lab deploy survives a refresh
    (work / "stale.tf").write_text("# removed from the source since")
    prepare_lab_workdir(ROOT / "terraform", work, ENDPOINTS, ("us-east-1", "us-west-2"))

    assert (work / "terraform.tfstate").read_text() == "{}"
    assert not (work / "stale.tf").exists()
    assert (work / "main.tf").read_text() == (ROOT / "terraform" / "main.tf").read_text()
    root_override = (work / OVERRIDE_NAME).read_text()
    assert 'alias                       = "primary"' in root_override and '"us-west-2"' in root_override
    assert (
        'rds            = "http://127.0.0.1:5002"' in root_override or '"http://127.0.0.1:5002"' in root_override
    )
    assert 'route53 = "http://127.0.0.1:5000"' in root_override
    assert (
        "skip_credentials_validation = true" in root_override
        and 'access_key                  = "test"' in root_override
    )
    module_override = (work / "modules" / "region" / OVERRIDE_NAME).read_text()
    assert 'resource "aws_rds_cluster" "this"' in module_override
    # an override replaces the list: the module's own failover ignores must still be there
    assert "global_cluster_identifier, replication_source_identifier" in module_override
    assert not (ROOT / "terraform" / OVERRIDE_NAME).exists()


def test_stack_file_aws_table_for_the_twin() -> None:
    aws = lab_aws_section(ENDPOINTS)
    assert aws["endpoints"] == ENDPOINTS and aws["static_credentials"]["access_key_id"] == "test"
