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


NOT_IN_STACK = Text("not in the stack", style="dim")


def _cells(r: RegionReport, report: StatusReport) -> dict[str, RenderableType]:
    """One region's column of the screen, keyed by row label (a tier the stack does not describe: said so)."""
    cells = _all_cells(r, report)
    absent = {g.tier for g in report.not_covered}
    rows = {
        "compute": ("alb targets", "asg"),
        "object replication": ("s3 replication", "s3 backlog"),
        "backups": ("latest backup", "latest copy"),
        "notifications": ("sns topic",),
    }
    for tier, labels in rows.items():
        if tier in absent:
            cells.update({label: NOT_IN_STACK for label in labels})
    return cells


def _all_cells(r: RegionReport, report: StatusReport) -> dict[str, RenderableType]:
    now = report.generated_at
    role = Text(f"{r.role} / {r.deployment_role}", style="bold")
    cells: dict[str, RenderableType] = {"role now / deployed": role}
    cells["reachable"] = (
        Text("yes", style="green") if r.reachable else Text(f"NO: {r.unreachable_reason}", style="bold red")
    )
    member = r.member
    db = r.cluster.status if r.cluster else "?"
    if member is not None and not member.is_writer and member.synchronization_status:
        db += f", {member.synchronization_status}"
    cells["database"] = db
    writer = r.role == "writer"
    cells["replication lag"] = "(writer)" if writer else _sample_ms(r.lag.replication_lag_ms if r.lag else None)
    cells["rpo lag"] = "(writer)" if writer else _sample_ms(r.lag.rpo_lag_ms if r.lag else None)
    health = _health(r.health)
    if r.health is not None:
        health.append(f" ({r.health.reason})", style="dim")
    cells["health (record)"] = health
    checks = Text()
    for child in r.health_children:
        if checks:
            checks.append("\n")
        checks.append(f"{child.check_id[:8]} ")
        checks.append(_health(child))
        checks.append(f" {child.reason}", style="dim")
    cells["health checks"] = checks
    cells["route53 answers"] = Text("◀ this region", style="bold cyan") if r.serving else "-"
    cells["alb targets"] = f"{r.targets.healthy}/{r.targets.total} healthy" if r.targets else "?"
    cells["asg"] = (
        f"{r.asg.in_service}/{r.asg.desired} in service (min {r.asg.min_size}, max {r.asg.max_size})"
        if r.asg
        else "?"
    )
    rep = r.replication
    cells["s3 replication"] = "?"
    if rep is not None:
        rtc = "RTC on" if rep.rtc_enabled else "RTC off"
        cells["s3 replication"] = f"{rep.rule_status or 'no rule'} → {rep.destination_bucket or '-'}, {rtc}"
    b = r.s3_backlog
    cells["s3 backlog"] = ""
    if b is not None and r.role == "writer":
        ops = f"{b.operations_pending.value:,.0f}" if b.operations_pending else "?"
        size = f"{b.bytes_pending.value:,.0f} B" if b.bytes_pending else "?"
        latency = f"{b.replication_latency_s.value:,.1f}s" if b.replication_latency_s else "?"
        cells["s3 backlog"] = f"{ops} ops, {size}, latency {latency}"
    cells["latest backup"] = cells["latest copy"] = "?"
    if r.backups is not None:
        point, copy = r.backups.latest_recovery_point, r.backups.latest_copy
        cells["latest backup"] = _age(point.created if point else None, now)
        cells["latest copy"] = _age((copy.completed or copy.created) if copy else None, now)
    cells["sns topic"] = "?" if r.topic is None else ("ok" if r.topic.exists else Text("MISSING", style="red"))
    return cells


def _regions_table(report: StatusReport) -> Table:
    """Regions as columns, aspects as rows: fits 80 columns with two regions."""
    columns = {name: _cells(r, report) for name, r in report.regions.items()}
    labels: list[str] = []
    for cells in columns.values():
        labels += [k for k in cells if k not in labels]
    table = Table(show_lines=False)
    table.add_column("")
    for name in columns:
        table.add_column(name, style=None)
    for label in labels:
        table.add_row(Text(label, style="dim"), *(columns[n].get(label, "") for n in columns))
    return table


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


def _milestones(report: StatusReport) -> Table:
    """The estimate as the run's recovery points: each milestone's time from the run's start and its step."""
    t = Table(
        title="Estimated RTO (milestones as in a run's report)",
        title_justify="left",
        show_header=False,
        box=None,
        padding=(0, 1),
    )
    t.add_column()
    t.add_column(justify="right")
    t.add_column(justify="right", style="dim")
    t.add_column(style="dim")
    for p in report.rto_milestones:
        label = f"{p.name}{' (estimate)' if p.estimate else ''}{' (bound)' if p.bound else ''}"
        t.add_row(label, _secs(p.at_s), f"+{_secs(p.step_s)}", p.source)
    total = report.estimated_rto_s
    within = total is not None and total <= report.rto_objective_s
    t.add_row(
        Text(
            "RTO (database writable: drctl moves no traffic)"
            if report.traffic_method == "none"
            else "RTO (DNS answers target)",
            style="bold",
        ),
        Text(_secs(total), style="green" if within else "bold red"),
        "",
        f"objective {report.rto_objective_s:g}s",
    )
    return t


def render_screen(report: StatusReport) -> RenderableType:
    parts: list[RenderableType] = [_headline(report), _regions_table(report)]
    rpo_total = report.rpo_exposure_s
    parts.append(_terms("RPO exposure now (database)", rpo_total, report.rpo_objective_s, report.rpo_terms[:1]))
    if len(report.rpo_terms) > 1:
        s3 = report.rpo_terms[1]
        parts.append(Text(f"  S3 objects: {_secs(s3.seconds)} ({s3.source})", style="dim"))
    if report.rto_milestones:
        parts.append(_milestones(report))
    else:
        parts.append(_terms("Estimated RTO", report.estimated_rto_s, report.rto_objective_s, report.rto_terms))
    if report.reasons:
        parts.append(Text("Not ready because:", style="bold red"))
        parts.extend(Text(f"  • {reason}") for reason in report.reasons)
    for warning in report.warnings:
        parts.append(Text(f"  ! {warning}", style="yellow"))
    if report.not_covered:
        parts.append(Text(f"Not covered by this stack (traffic method: {report.traffic_method}):", style="bold"))
        for gap in report.not_covered:
            parts.append(Text(f"  - {gap.tier}: drctl will not {gap.will_not}; cost: {gap.cost}"))
    parts.append(Text(f"read at {report.generated_at:%H:%M:%S}Z", style="dim"))
    return Group(*parts)
