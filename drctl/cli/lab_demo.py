"""`drctl lab demo`: the whole product on the offline twin in one command (registered on `drctl lab`)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from drctl.cli.lab import lab_app


@lab_app.command()
def demo(
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the twin running at the end, to explore it.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only the result (runs, RTO/RPO, report paths) as JSON.")
    ] = False,
    port_base: Annotated[
        int | None,
        typer.Option(help="First of ten loopback ports for the twin (default: the lab's own). Example: 4710"),
    ] = None,
) -> None:
    """Outage, unplanned failover, re-sync and failback on the offline twin, narrated. Example: drctl lab demo"""
    from rich.console import Console

    from drctl.canary.check import outage_text, rpo_text
    from drctl.demo.story import run_demo
    from drctl.lab.ports import default_ports
    from drctl.lab.runtime import DEFAULT_REGIONS
    from drctl.stack import drctl_home

    console = Console(stderr=True, highlight=False, soft_wrap=True)

    def say(message: str) -> None:
        console.print(message, markup=False)

    def show(renderable: Any) -> None:
        console.print(renderable)

    ports = default_ports(DEFAULT_REGIONS, port_base) if port_base is not None else None
    result = run_demo(drctl_home(), keep=keep, say=say, show=show, ports=ports)
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
        return
    typer.echo(f"lab demo done in {result.duration_s:.1f} s (everything above ran against the offline twin).")
    for r in result.runs:
        rpo = "unknown" if r.rpo_s is None else f"{r.rpo_s:g} s"
        typer.echo(
            f"  {r.mode:<9} {r.from_region} → {r.to_region}: RTO {r.rto_s:.2f} s (wall {r.wall_s:.2f} s), "
            f"RPO {rpo} (estimate; lab lag {r.lab_lag_ms:g} ms)"
        )
        if r.canary:
            typer.echo(f"    ground truth: {rpo_text(r.canary)}")
            typer.echo(f"                  {outage_text(r.canary)}")
        typer.echo(f"    report: {r.reports.get('html', '')}")
        typer.echo(f"            {r.reports.get('md', '')}")
    typer.echo("Explore: drctl runs; drctl report RUN_ID" + ("; drctl lab status" if result.kept else ""))
