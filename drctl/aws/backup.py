"""AWS Backup reads: the vault's latest recovery point and the latest cross-region copy job.

Neither ListRecoveryPointsByBackupVault nor ListCopyJobs documents an order, and each returns a page at a time
(NextToken), so "latest" means: every page created within the look-back window (ByCreatedAfter, so the pages
stay few), newest chosen here. https://docs.aws.amazon.com/aws-backup/latest/devguide/API_ListCopyJobs.html ;
https://docs.aws.amazon.com/aws-backup/latest/devguide/API_ListRecoveryPointsByBackupVault.html
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from drctl.models import BackupState, CopyJob, RecoveryPoint

_EPOCH = datetime.min.replace(tzinfo=UTC)
LOOKBACK = timedelta(days=14)  # older than this is "none recent", which is what an incident screen needs to know
MAX_PAGES = 50  # of 100 items each: a bound on the incident screen's time, far above 14 days of daily copies


def _created(item: dict[str, Any]) -> datetime:
    created = item.get("CreationDate")
    return created if isinstance(created, datetime) else _EPOCH


def _pages(call: Callable[..., dict[str, Any]], key: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item of a NextToken-paged list call, at most MAX_PAGES pages."""
    token: str | None = None
    for _ in range(MAX_PAGES):
        page = call(**params, MaxResults=100, **({"NextToken": token} if token else {}))
        yield from page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return


def read_backups(backup: Any, vault: str, now: datetime | None = None) -> BackupState:
    """Latest recovery point in `vault` and latest copy job whose source is that vault, created within LOOKBACK
    of `now` (None when none)."""
    since = (now or datetime.now(UTC)) - LOOKBACK
    points = _pages(
        backup.list_recovery_points_by_backup_vault, "RecoveryPoints", BackupVaultName=vault, ByCreatedAfter=since
    )
    latest_point = max(points, key=_created, default=None)
    jobs = (
        j
        for j in _pages(backup.list_copy_jobs, "CopyJobs", ByCreatedAfter=since)
        if str(j.get("SourceBackupVaultArn", "")).endswith(f":backup-vault:{vault}")
    )
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
