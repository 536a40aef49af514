"""`drctl discover`: write a stack file for a deployment drctl did not make, by reading AWS (reads only)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from drctl.cli.app import app
from drctl.cli.options import JsonOpt
from drctl.errors import LabError, Refused, UsageError


@app.command(
    epilog=(
        "Examples:\n\n"
        "  drctl discover --global-cluster payments-global --zone-id Z0123 --record-name app.example.com\n\n"
        "  drctl discover --lab --global-cluster drctl-lab-global --zone-id Z1 --record-name app.lab.test\n\n"
        "Exit codes: 0 written; 2 bad command line; 4 global cluster not found or unusable; 5 credentials/"
        "permissions; 6 unreachable; 7 the file exists (--force replaces it); 11 --lab and no lab running."
    )
)
def discover(
    global_cluster: Annotated[
        str, typer.Option("--global-cluster", help="The Aurora global cluster id. Example: payments-global")
    ],
    zone_id: Annotated[
        str, typer.Option("--zone-id", help="Hosted zone of the failover records (with --record-name).")
    ] = "",
    record_name: Annotated[
        str, typer.Option("--record-name", help="Name of the failover records. Example: app.example.com")
    ] = "",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Stack file to write (default: $DRCTL_STACK, else $DRCTL_HOME/stack.toml)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing stack file.")] = False,
    region: Annotated[
        str,
        typer.Option(
            "--region", help="Region to ask first (default: $AWS_REGION / $AWS_DEFAULT_REGION, else us-east-1)."
        ),
    ] = "",
    profile: Annotated[str, typer.Option("--profile", help="AWS profile (written to the stack file).")] = "",
    name: Annotated[str, typer.Option("--name", help="Stack name (default: the global cluster id).")] = "",
    lab: Annotated[bool, typer.Option("--lab", help="Read the running offline lab (its endpoints).")] = False,
    json_output: JsonOpt = False,
) -> None:
    """Write a stack file by reading AWS: members, clusters, KMS keys; records, health checks and what they
    watch; load balancers, target groups, Auto Scaling groups; replication and backups. Reads only.

    Prints what it found, what it could not and what that costs. Writes no secret.
    """
    from drctl.aws.clients import ClientFactory
    from drctl.discover import discover as read_deployment
    from drctl.stack import AwsSettings, resolve_stack_path, write_stack_file

    if bool(zone_id) != bool(record_name):
        raise UsageError("--zone-id and --record-name go together", hint="give both, or neither")
    path = resolve_stack_path(out)
    if path.exists() and not force:
        raise Refused(f"{path} exists; nothing was read or written", hint="add --force to replace it, or --out")
    aws: dict[str, Any] = {"profile": profile} if profile else {}
    extra: dict[str, Any] = {}
    start = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    if lab:
        aws, extra, start = _lab_sections(record_name, region)
    settings = AwsSettings(
        profile=profile or None,
        endpoints=aws.get("endpoints", {}),
        static_access_key_id=(aws.get("static_credentials") or {}).get("access_key_id"),
        static_secret_access_key=(aws.get("static_credentials") or {}).get("secret_access_key"),
    )
    typer.echo(f"discover: reading {global_cluster} from {start}{' (the lab)' if lab else ''}", err=True)
    found = read_deployment(
        ClientFactory(settings),
        name=name or global_cluster,
        global_cluster_id=global_cluster,
        start_region=start,
        zone_id=zone_id,
        record_name=record_name,
    )
    data = found.stack
    if aws:
        data["aws"] = aws
    for table, values in extra.items():
        if "route53" in data:  # name servers and the probe go with the records
            data.setdefault(table, {}).update(values)
    write_stack_file(_ordered(data), path)
    if json_output:
        sys.stdout.write(json.dumps(found.to_json(str(path)), indent=2) + "\n")
        return
    lab_note = "LAB (offline emulator, not AWS): " if lab else ""
    typer.echo(f"{lab_note}found:")
    for line in found.found:
        typer.echo(f"  + {line}")
    if found.not_found:
        typer.echo("not found (and what that costs):")
        for gap in found.not_found:
            typer.echo(f"  - {gap['what']} — {gap['cost']}")
    typer.echo(f"traffic method: {found.traffic_method}")
    typer.echo(f"wrote {path} (check it, then `drctl status --stack {path}`)")


def _lab_sections(record_name: str, region: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The running lab's [aws] table (endpoints, its public test keys), DNS servers and probe; start region."""
    from drctl.lab.access import lab_aws_section, name_servers_section, probe_section
    from drctl.lab.runtime import lab_info
    from drctl.stack import drctl_home

    info = lab_info(drctl_home())
    if info is None:
        raise LabError(f"the lab is not running (home {drctl_home()})", hint="start it: drctl lab up")
    extra: dict[str, Any] = {}
    if record_name:
        extra["route53"] = name_servers_section(info.dns)
        extra.update(probe_section(info.http, record_name))
    return lab_aws_section(info.endpoints), extra, region or info.regions[0]


ORDER = ("name", "database", "traffic", "route53", "probe", "s3", "aws", "regions")


def _ordered(data: dict[str, Any]) -> dict[str, Any]:
    """Tables in the order of examples/stack.example.toml (scalars first: TOML needs them before tables)."""
    return {k: data[k] for k in sorted(data, key=lambda k: ORDER.index(k) if k in ORDER else len(ORDER))}
