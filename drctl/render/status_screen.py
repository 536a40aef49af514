"""`drctl status` for people: one screen built with rich (also used for `--watch`)."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from drctl.models import HealthVerdict, RegionReport, Sample, StatusReport, Term


def _health(v: HealthVerdict | None) -> Text:
    if v is None or v.healthy is None:
        return Text("unknown", style="yellow")
    return Text("healthy", style="green") if v.healthy else Text("UNHEALTHY", style="bold red")


def _sample_ms(s: Sample | None) -> str:
    return "no sample" if s is None else f"{s.value:,.0f} ms ({s.age_s:.0f}s ago)"


def _secs(x: float | None) -> str:
    return "unknown" if x is None else f"{x:,.1f}s"


def _age(t: datetime | None, now: datetime) -> str:
    if t is None:
        return "none"
    return f"{t:%Y-%m-%d %H:%M}Z ({(now - t).total_seconds() / 3600:.1f}h ago)"


def _headline(report: StatusReport) -> Text:
    state = (
        Text(" READY ", style="bold white on green")
        if report.ready
        else Text(" NOT READY ", style="bold white on red")
    )
    line = Text.assemble(
        state,
        f"  {report.stack_name}  writer: ",
        (report.writer_region or "unknown", "bold"),
        "  serving: ",
        (report.serving_region or "unknown", "bold"),
        f" ({report.serving_reason})",
    )
    gc = report.global_cluster
    if gc and gc.failover_state:
        line.append(f"  failover in progress: {gc.failover_state.status}", style="bold yellow")
    return line


def _region_row(r: RegionReport, report: StatusReport) -> list[RenderableType]:
    if not r.reachable:
        down = Text(f"UNREACHABLE ({r.unreachable_reason})", style="bold red")
        return [Text(r.name, style="bold"), f"{r.role} / {r.deployment_role}", down, "", "", "", "", ""]
    cluster = r.cluster.status if r.cluster else "?"
    sync = r.member.synchronization_status if r.member and not r.member.is_writer else None
    db = f"{cluster}" + (f", {sync}" if sync else "")
    lag = "writer" if r.role == "writer" else _sample_ms(r.lag.replication_lag_ms if r.lag else None)
    if r.lag and r.lag.rpo_lag_ms and r.role != "writer":
        lag += f"\nrpo {_sample_ms(r.lag.rpo_lag_ms)}"
    health = _health(r.health)
    for child in r.health_children:
        health.append(f"\n {child.check_id[:8]}: ")
        health.append(_health(child))
    targets = f"{r.targets.healthy}/{r.targets.total} healthy" if r.targets else "?"
    asg = f"{r.asg.in_service}/{r.asg.desired} in service ({r.asg.min_size}-{r.asg.max_size})" if r.asg else "?"
    return [
        Text(r.name, style="bold"),
        f"{r.role} / {r.deployment_role}",
        db,
        lag,
        health,
        Text("◀ serving", style="bold cyan") if r.serving else "",
        f"{targets}\n{asg}",
        _data_cell(r, report),
    ]


def _data_cell(r: RegionReport, report: StatusReport) -> str:
    lines = []
    rep = r.replication
    if rep:
        rtc = "RTC on" if rep.rtc_enabled else "RTC off"
        lines.append(f"s3 → {rep.destination_bucket or '-'} {rep.rule_status or 'no rule'}, {rtc}")
    b = r.s3_backlog
    if b and r.role == "writer":
        ops = f"{b.operations_pending.value:,.0f}" if b.operations_pending else "?"
        size = f"{b.bytes_pending.value:,.0f} B" if b.bytes_pending else "?"
        latency = f"{b.replication_latency_s.value:,.1f}s" if b.replication_latency_s else "?"
        lines.append(f"backlog {ops} ops / {size}, latency {latency}")
    if r.backups:
        point = r.backups.latest_recovery_point
        copy = r.backups.latest_copy
        lines.append(f"backup {_age(point.created if point else None, report.generated_at)}")
        lines.append(f"copy {_age((copy.completed or copy.created) if copy else None, report.generated_at)}")
    if r.topic is not None and not r.topic.exists:
        lines.append("SNS topic missing")
    return "\n".join(lines)


def _terms(title: str, total: float | None, objective: float, terms: tuple[Term, ...]) -> Table:
    t = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 1))
    t.add_column()
    t.add_column(justify="right")
    t.add_column(style="dim")
    for term in terms:
        label = f"{term.name}{' (estimate)' if term.estimate else ''}"
        t.add_row(label, _secs(term.seconds), term.source)
    within = total is not None and total <= objective
    t.add_row(
        Text("total", style="bold"),
        Text(_secs(total), style="green" if within else "bold red"),
        f"objective {objective:g}s",
    )
    return t


def render_screen(report: StatusReport) -> RenderableType:
    regions = Table(expand=False)
    for col in ("region", "role now / deployed", "database", "lag", "health", "dns", "capacity", "data"):
        regions.add_column(col)
    for r in report.regions.values():
        regions.add_row(*_region_row(r, report))
    parts: list[RenderableType] = [_headline(report), regions]
    rpo_total = report.rpo_exposure_s
    parts.append(_terms("RPO exposure now (database)", rpo_total, report.rpo_objective_s, report.rpo_terms[:1]))
    if len(report.rpo_terms) > 1:
        s3 = report.rpo_terms[1]
        parts.append(Text(f"  S3 objects: {_secs(s3.seconds)} ({s3.source})", style="dim"))
    parts.append(_terms("Estimated RTO", report.estimated_rto_s, report.rto_objective_s, report.rto_terms))
    if report.reasons:
        parts.append(Text("Not ready because:", style="bold red"))
        parts.extend(Text(f"  • {reason}") for reason in report.reasons)
    for warning in report.warnings:
        parts.append(Text(f"  ! {warning}", style="yellow"))
    parts.append(Text(f"read at {report.generated_at:%H:%M:%S}Z", style="dim"))
    return Group(*parts)
