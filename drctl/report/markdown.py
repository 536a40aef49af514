"""The run report as Markdown: readable in a terminal, a wiki or a ticket, without drctl."""

from __future__ import annotations

from drctl.report.model import RunModel, Topology, capacity_text


def num(value: float | None, unit: str = " s") -> str:
    """3 decimals at most, no trailing zeros: 2.695 s, 0 s; `unknown` for None."""
    if value is None:
        return "unknown"
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return f"{'0' if text in ('', '-0') else text}{unit}"


def cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


ONLY_WORDS = {
    "database": "database only: promotion, traffic not moved",
    "traffic": "traffic only: flip, no promotion",
}


def headline(m: RunModel) -> str:
    move = f"{m.mode} failover {m.from_region} → {m.to_region}"
    if m.only == "database":
        return f"{move} ({ONLY_WORDS['database']})"
    parts = f"{ONLY_WORDS['traffic']}; " if m.only == "traffic" else ""
    return f"{move} ({parts}flip: {m.flip_method})"


def rto_text(m: RunModel) -> tuple[str, str]:
    """(figure, source) for the RTO line: not applicable when nothing moved."""
    if not m.moved:
        return "not applicable", f"nothing failed over (the run took {num(m.rto_s)})"
    return num(m.rto_s), m.rto_source


CHECK_MARK = {True: "ok", False: "NO", None: "--"}


def canary_rows(m: RunModel) -> list[tuple[str, str]]:
    """Ground truth beside the estimate: the canary's RPO and write outage (empty without --canary)."""
    if not m.canary:
        return []
    from drctl.canary.check import outage_text, rpo_text

    rpo, outage = rpo_text(m.canary), outage_text(m.canary)
    return [
        ("RPO (canary, measured)", rpo.split(": ", 1)[1]),
        ("Write outage (canary, measured)", outage.split(": ", 1)[1]),
    ]


def render_markdown(m: RunModel) -> str:
    lines = [
        f"# drctl failover report — {m.run_id}",
        "",
        f"**Outcome: {m.outcome}** — {headline(m)}. {m.message}".rstrip(),
        "",
        "| | |",
        "|---|---|",
        f"| Started | {m.started} |",
        f"| Finished | {m.finished or 'not finished'} |",
        f"| Attempts | {m.attempts} |",
        f"| RTO | **{rto_text(m)[0]}** — {cell(rto_text(m)[1])} |",
        *([f"| RTO clock | {cell(m.rto_clock)} |"] if m.rto_clock else []),
        f"| RPO | **{num(m.rpo_s)}**{' (estimate)' if m.rpo_estimate else ''} — {cell(m.rpo_source)} |",
    ]
    if m.rpo_evidence:
        lines.append(f"| RPO evidence | {cell(m.rpo_evidence)} |")
    for name, text in canary_rows(m):
        lines.append(f"| {name} | {cell(text)} |")
    if capacity_text(m):
        lines.append(f"| Capacity | {cell(capacity_text(m))} |")
    lines += [
        "",
        "## Objectives",
        "",
        "| Objective | Target | Measured | Verdict | Detail |",
        "|---|---|---|---|---|",
    ]
    for o in m.objectives:
        lines.append(
            f"| {o.name} | {num(o.objective_s)} | {num(o.measured_s)} | **{o.verdict}** | {cell(o.detail)} |"
        )
    lines += _timeline(m) + _topology(m)
    if m.checks or m.refusals:
        lines += ["", "## Preflight", ""]
        lines += [
            f"- {CHECK_MARK.get(c.get('ok'), '--')} {c.get('name', '')}: {c.get('detail', '')}" for c in m.checks
        ]
        lines += [f"- **refused**: {r}" for r in m.refusals]
    if m.verification:
        lines += ["", "## Verification", ""]
        for name, v in m.verification.items():
            lines.append(f"- **{name}**: {v.get('verdict', '?')} — {v.get('detail', '')}".rstrip(" —"))
    lines += _calls(m)
    if m.warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in m.warnings]
    lines += [
        "",
        "---",
        f"Rebuilt from the journal alone (`{m.journal}`): {m.api_calls} AWS calls, {m.retries} botocore retries.",
        "",
    ]
    return "\n".join(lines)


def _timeline(m: RunModel) -> list[str]:
    out = [
        "",
        "## Timeline",
        "",
        "Seconds from the run header (the journal's first line).",
        "",
        "| Phase | Start | End | Duration | Steps | Outcome |",
        "|---|---|---|---|---|---|",
    ]
    for p in m.phases:
        steps = ", ".join(p.steps)
        out.append(f"| {p.name} | {num(p.start_s)} | {num(p.end_s)} | {num(p.seconds)} | {steps} | {p.outcome} |")
    out.append("")
    if m.rto_s is not None and m.rto_start_s is not None:
        what = "RTO" if m.moved else "Run time (nothing moved)"
        end = m.rto_end_s if m.rto_end_s is not None else m.rto_start_s + m.rto_s
        out.append(f"- **{what}** {num(m.rto_s)}: clock from {num(m.rto_start_s)} to {num(end)}.")
        if m.rto_clock:
            out.append(f"- {m.rto_clock}.")
    if m.run_s is not None:
        out.append(f"- **The run itself** took {num(m.run_s)} (drctl's own clock; a phase, not the RTO).")
    if m.recovery:
        out += [
            "",
            "### Recovery, as users see it",
            "",
            "Seconds from drctl's start (the confirmation prompt left out).",
            "",
            "| Milestone | At | Source |",
            "|---|---|---|",
        ]
        out += [
            f"| {p.name}{' (bound)' if p.bound else ''} | {num(p.at_s)} | {cell(p.source)} |" for p in m.recovery
        ]
        out.append("")
    s = m.rpo_sample
    if s is not None:
        out.append(
            f"- **RPO sample** at {num(s.at_s)}: {num(s.value_ms, ' ms')} — {s.metric} of {s.cluster_id} in "
            f"{s.region} (datapoint {s.timestamp}, {num(s.age_s)} old when read)."
        )
    else:
        out.append("- **RPO sample**: none in the journal.")
    return out


def _topology(m: RunModel) -> list[str]:
    def row(name: str, before: str | None, bsrc: str, after: str | None, asrc: str) -> str:
        return f"| {name} | {before or 'unknown'} — {cell(bsrc)} | {after or 'unknown'} — {cell(asrc)} |"

    b: Topology = m.before
    a: Topology = m.after
    return [
        "",
        "## Topology",
        "",
        "| | Before | After |",
        "|---|---|---|",
        row("Writer", b.writer, b.writer_source, a.writer, a.writer_source),
        row("Serving", b.serving, b.serving_source, a.serving, a.serving_source),
    ]


def _calls(m: RunModel) -> list[str]:
    out = ["", "## Mutating AWS calls", ""]
    if not m.calls:
        return [*out, "None."]
    out.append("At: when the journal recorded the call (a promotion: when it was sent; others: their step's end).")
    out.append("")
    out += ["| # | At | Step | Call | Region | Request id | Result |", "|---|---|---|---|---|---|---|"]
    for i, c in enumerate(m.calls, 1):
        result = c.error or (str(c.status) if c.status is not None else "no response")
        out.append(
            f"| {i} | {num(c.at_s)} | {c.step} | {c.service}:{c.operation} | {c.region or '?'} | "
            f"`{c.request_id or 'none'}` | {result} |"
        )
    return out
