"""`drctl keep-snapshots`: keep the snapshots AWS made of an old primary after an unplanned failover.

Aurora snapshots the old primary as `rds:unplanned-global-failover-...` when it rebuilds it after a managed
failover, and keeps that snapshot only for the cluster's backup retention period; it holds the writes the
failover lost. drctl copies each to a manual `drctl-keep-...` snapshot (kept until deleted). A failover
tries this right away; when the old primary's region did not answer yet, the snapshot is owed: `drctl
status` lists it, and this command keeps it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from drctl.cli.app import app
from drctl.cli.options import StackOpt
from drctl.errors import Failed, Unreachable


@app.command(
    "keep-snapshots",
    epilog=(
        "Examples:\n\n"
        "  drctl keep-snapshots --dry-run\n\n"
        "  drctl keep-snapshots --json\n\n"
        "Exit codes: 0 nothing owed or all kept; 4 stack file problem; 5 credentials/permissions; "
        "6 a region did not answer (what it could keep, it kept); 9 a copy failed."
    ),
)
def keep_snapshots(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the copies it would make; make none.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")] = False,
    stack_file: StackOpt = None,
) -> None:
    """Keep every owed unplanned-failover snapshot as a manual snapshot. Example: drctl keep-snapshots"""
    from botocore.exceptions import BotoCoreError, ClientError

    from drctl.aws import rds
    from drctl.aws.clients import ClientFactory
    from drctl.aws.errors import error_code
    from drctl.failover.plan import keep_snapshot_call
    from drctl.failover.steps import SnapshotNotKept, keep_owed
    from drctl.stack import load_stack

    stack = load_stack(stack_file)
    clients = ClientFactory(stack.aws)
    regions: list[dict[str, Any]] = []
    for region in stack.regions.values():
        row: dict[str, Any] = {"region": region.name, "cluster_id": region.cluster_id, "kept": [], "owed": []}
        regions.append(row)
        try:
            ids = rds.cluster_snapshot_ids(clients.client("rds", region.name), region.cluster_id)
        except (ClientError, BotoCoreError) as e:
            row["error"] = (
                f"{region.name} did not answer DescribeDBClusterSnapshots ({error_code(e) or type(e).__name__})"
            )
            continue
        owed = rds.owed_snapshots(ids)
        row["owed"] = owed
        if dry_run:
            row["would_call"] = [keep_snapshot_call(region.name, s, "keep-snapshots").line() for s in owed]
            continue
        try:
            row["kept"] = keep_owed(clients, region.name, region.cluster_id, "keep-snapshots", owed)
        except SnapshotNotKept as e:
            row["error"] = str(e)
        else:
            row["owed"] = []
    if as_json:
        typer.echo(json.dumps({"dry_run": dry_run, "regions": regions}, indent=2))
    else:
        _print(regions, dry_run)
    failed = [r for r in regions if "error" in r]
    if any("did not answer" in r["error"] for r in failed):
        raise Unreachable("; ".join(r["error"] for r in failed), hint="run it again once the region answers")
    if failed:
        raise Failed("; ".join(r["error"] for r in failed))


def _print(regions: list[dict[str, Any]], dry_run: bool) -> None:
    for r in regions:
        if "error" in r:
            typer.echo(f"{r['region']}: {r['error']}", err=True)
        for line in r.get("would_call", []):
            typer.echo(f"{r['region']}: would call {line}")
        for k in r["kept"]:
            how = "already kept as" if k["already"] else "kept as"
            typer.echo(f"{r['region']}: {k['snapshot']} {how} {k['kept_as']}")
        if not r["owed"] and not r["kept"] and "error" not in r:
            typer.echo(f"{r['region']}: no unplanned-failover snapshot owed")
    if dry_run:
        typer.echo("dry run: nothing was copied", err=True)
