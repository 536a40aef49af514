"""Checks before `terraform plan`: right account, both regions answer, the engine version supports Aurora global
databases in both regions, KMS usable in both regions, and which region writes now (so a redeploy after a failover
keeps the new topology). Each failure is one DrctlError saying what to do; nothing has been changed yet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drctl.errors import AuthError, DrctlError, Refused

ENGINE = "aurora-postgresql"


@dataclass(frozen=True)
class PreflightResult:
    account_id: str
    writer_region: str | None  # None: no global cluster yet (first deploy)
    global_versions: dict[str, list[str]]  # region -> versions supporting global databases


def _aws_error(e: Exception, action: str, region: str) -> DrctlError:
    from drctl.aws.errors import to_drctl_error

    return to_drctl_error(e, action=action, region=region)


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in v.split("."))


def check_engine_version(version: str, by_region: dict[str, list[str]]) -> None:
    """Refuse a version that does not support global databases in every region, naming those that would."""
    missing = [r for r, versions in by_region.items() if version not in versions]
    if not missing:
        return
    common = set.intersection(*(set(v) for v in by_region.values())) if by_region else set()
    would_work = ", ".join(sorted(common, key=_version_key, reverse=True)[:8]) or "none"
    raise Refused(
        f"aurora-postgresql {version} does not support global databases in {', '.join(missing)}",
        hint=f"set engine_version to one that does in both regions: {would_work}",
    )


def run_preflight(
    client: Callable[[str, str], Any],
    *,
    regions: tuple[str, str],
    engine_version: str,
    expected_account: str | None,
    global_cluster_id: str | None,
    say: Callable[[str], None] = lambda _m: None,
) -> PreflightResult:
    """`client(service, region)` gives a boto3 client (ClientFactory.client)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from drctl.aws import kms, rds, sts

    try:
        account = sts.caller_account(client("sts", regions[0]))
    except (BotoCoreError, ClientError) as e:
        raise _aws_error(e, "sts:GetCallerIdentity", regions[0]) from e
    if expected_account and account != expected_account:
        raise AuthError(
            f"the credentials in use belong to account {account}, the stack to {expected_account}",
            hint="switch profile (AWS_PROFILE) to the stack's account",
        )
    say(f"preflight: account {account}")

    by_region: dict[str, list[str]] = {}
    for region in regions:
        try:
            by_region[region] = rds.global_db_engine_versions(client("rds", region), ENGINE)
        except (BotoCoreError, ClientError) as e:
            raise _aws_error(e, "rds:DescribeDBEngineVersions", region) from e
        try:
            kms.probe(client("kms", region))
        except (BotoCoreError, ClientError) as e:
            raise _aws_error(e, "kms:ListAliases", region) from e
        say(f"preflight: {region} reachable, KMS usable")
    check_engine_version(engine_version, by_region)
    say(f"preflight: aurora-postgresql {engine_version} supports global databases in both regions")

    writer = current_writer(client, regions, global_cluster_id) if global_cluster_id else None
    if writer:
        say(f"preflight: {writer} writes now")
    return PreflightResult(account_id=account, writer_region=writer, global_versions=by_region)


def current_writer(
    client: Callable[[str, str], Any], regions: tuple[str, str], global_cluster_id: str
) -> str | None:
    """The region of the global cluster's writer, asking each region in turn; None if it does not exist yet."""
    from botocore.exceptions import BotoCoreError, ClientError

    from drctl.aws.errors import error_code
    from drctl.aws.rds import describe_global_cluster

    for region in regions:
        try:
            cluster = describe_global_cluster(client("rds", region), global_cluster_id)
        except ClientError as e:
            if error_code(e) == "GlobalClusterNotFoundFault":
                return None
            continue
        except BotoCoreError:
            continue
        writer = cluster.writer
        return writer.region if writer else None
    return None
