"""AWS Backup reads: the vault's latest recovery point and the latest cross-region copy job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drctl.models import BackupState, CopyJob, RecoveryPoint

_EPOCH = datetime.min.replace(tzinfo=UTC)


def _created(item: dict[str, Any]) -> datetime:
    created = item.get("CreationDate")
    return created if isinstance(created, datetime) else _EPOCH


def read_backups(backup: Any, vault: str) -> BackupState:
    """Latest recovery point in `vault` and latest copy job whose source is that vault (None when none)."""
    points = backup.list_recovery_points_by_backup_vault(BackupVaultName=vault, MaxResults=100).get(
        "RecoveryPoints", []
    )
    latest_point = max(points, key=_created, default=None)
    jobs = backup.list_copy_jobs(MaxResults=100).get("CopyJobs", [])
    jobs = [j for j in jobs if str(j.get("SourceBackupVaultArn", "")).endswith(f":backup-vault:{vault}")]
    latest_job = max(jobs, key=_created, default=None)
    return BackupState(
        vault=vault,
        latest_recovery_point=(
            RecoveryPoint(
                arn=str(latest_point.get("RecoveryPointArn", "")),
                created=latest_point.get("CreationDate"),
                status=str(latest_point.get("Status", "")),
            )
            if latest_point
            else None
        ),
        latest_copy=(
            CopyJob(
                job_id=str(latest_job.get("CopyJobId", "")),
                state=str(latest_job.get("State", "")),
                created=latest_job.get("CreationDate"),
                completed=latest_job.get("CompletionDate"),
                destination_vault_arn=latest_job.get("DestinationBackupVaultArn"),
            )
            if latest_job
            else None
        ),
    )


def vault_names(backup: Any) -> list[str]:
    """ListBackupVaults (first 100): the region's vault names."""
    return [
        str(v["BackupVaultName"]) for v in backup.list_backup_vaults(MaxResults=100).get("BackupVaultList", [])
    ]
