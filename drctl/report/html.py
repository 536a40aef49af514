"""The run report as one self-contained HTML page: inline CSS, inline SVG timeline, no scripts, no links out."""

from __future__ import annotations

from html import escape

from drctl.report.markdown import CHECK_MARK, canary_rows, headline, num, rto_text
from drctl.report.model import RunModel, capacity_text
from drctl.report.timeline import timeline_svg

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 24px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 22px 0 6px; }
table { border-collapse: collapse; margin: 4px 0; } td, th { border: 1px solid #ddd; padding: 3px 8px; }
th { background: #f4f4f4; text-align: left; } code { font-size: 12px; }
.outcome { font-weight: bold; padding: 1px 8px; border-radius: 4px; color: #fff; background: #b00020; }
.outcome.completed, .outcome.no-op { background: #2e7d32; }
.met { color: #2e7d32; font-weight: bold; } .missed { color: #b00020; font-weight: bold; }
.unknown, .na { color: #777; } .figures td:first-child { font-weight: bold; }
"""


def _e(value: object) -> str:
    return escape(str(value))


def _table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """Cells are already escaped HTML."""
    h = "".join(f"<th>{c}</th>" for c in head)
    thead = f"<thead><tr>{h}</tr></thead>" if any(head) else ""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}">{thead}<tbody>{body}</tbody></table>'


def render_html(m: RunModel) -> str:
    rpo = f"{num(m.rpo_s)}{' (estimate)' if m.rpo_estimate else ''}"
    figures = [
        ["Started", _e(m.started)],
        ["Finished", _e(m.finished or "not finished")],
        ["Attempts", _e(m.attempts)],
        ["RTO", f"<strong>{_e(rto_text(m)[0])}</strong> — {_e(rto_text(m)[1])}"],
        *([["RTO clock", _e(m.rto_clock)]] if m.rto_clock else []),
        ["RPO", f"<strong>{_e(rpo)}</strong> — {_e(m.rpo_source)}"],
    ]
    if m.rpo_evidence:
        figures.append(["RPO evidence", _e(m.rpo_evidence)])
    for name, text in canary_rows(m):
        figures.append([_e(name), _e(text)])
    if capacity_text(m):
        figures.append(["Capacity", _e(capacity_text(m))])
    objectives = [
        [
            _e(o.name),
            _e(num(o.objective_s)),
            _e(num(o.measured_s)),
            f'<span class="{_e(o.verdict.replace("not applicable", "na"))}">{_e(o.verdict)}</span>',
            _e(o.detail),
        ]
        for o in m.objectives
    ]
    phases = [
        [
            _e(p.name),
            _e(num(p.start_s)),
            _e(num(p.end_s)),
            _e(num(p.seconds)),
            _e(", ".join(p.steps)),
            _e(p.outcome),
        ]
        for p in m.phases
    ]
    topology = [
        ["Writer", _e(f"{m.before.writer or 'unknown'} — {m.before.writer_source}"),
         _e(f"{m.after.writer or 'unknown'} — {m.after.writer_source}")],
        ["Serving", _e(f"{m.before.serving or 'unknown'} — {m.before.serving_source}"),
         _e(f"{m.after.serving or 'unknown'} — {m.after.serving_source}")],
    ]  # fmt: skip
    calls = [
        [
            _e(i),
            _e(num(c.at_s)),
            _e(c.step),
            _e(f"{c.service}:{c.operation}"),
            _e(c.region or "?"),
            f"<code>{_e(c.request_id or 'none')}</code>",
            _e(c.error or (c.status if c.status is not None else "no response")),
        ]
        for i, c in enumerate(m.calls, 1)
    ]
    verification = "".join(
        f"<li><strong>{_e(k)}</strong>: {_e(v.get('verdict', '?'))}"
        + (f" — {_e(v['detail'])}" if v.get("detail") else "")
        + "</li>"
        for k, v in m.verification.items()
    )
    warnings = "".join(f"<li>{_e(w)}</li>" for w in m.warnings)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>drctl report {_e(m.run_id)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>drctl failover report — {_e(m.run_id)}</h1>",
        f'<p><span class="outcome {_e(m.outcome)}">{_e(m.outcome)}</span> {_e(headline(m))}. {_e(m.message)}</p>',
        _table(["", ""], figures, "figures"),
        "<h2>Objectives</h2>",
        _table(["Objective", "Target", "Measured", "Verdict", "Detail"], objectives),
        "<h2>Timeline</h2>",
        timeline_svg(m),
        _table(["Phase", "Start", "End", "Duration", "Steps", "Outcome"], phases),
        *(
            [
                "<h2>Recovery, as users see it</h2>",
                "<p>Seconds from drctl's start (the confirmation prompt left out).</p>",
                _table(
                    ["Milestone", "At", "Source"],
                    [
                        [_e(p.name + (" (bound)" if p.bound else "")), _e(num(p.at_s)), _e(p.source)]
                        for p in m.recovery
                    ],
                ),
            ]
            if m.recovery
            else []
        ),
        "<h2>Topology</h2>",
        _table(["", "Before", "After"], topology),
    ]
    preflight = "".join(
        f"<li><code>{_e(CHECK_MARK.get(c.get('ok'), '--'))}</code> {_e(c.get('name', ''))}: "
        f"{_e(c.get('detail', ''))}</li>"
        for c in m.checks
    ) + "".join(f"<li><strong>refused</strong>: {_e(r)}</li>" for r in m.refusals)
    if preflight:
        parts += ["<h2>Preflight</h2>", f"<ul>{preflight}</ul>"]
    if verification:
        parts += ["<h2>Verification</h2>", f"<ul>{verification}</ul>"]
    parts.append("<h2>Mutating AWS calls</h2>")
    parts.append(
        _table(["#", "At", "Step", "Call", "Region", "Request id", "Result"], calls) if calls else "<p>None.</p>"
    )
    if warnings:
        parts += ["<h2>Warnings</h2>", f"<ul>{warnings}</ul>"]
    parts.append(
        f"<p><small>Rebuilt from the journal alone (<code>{_e(m.journal)}</code>): {m.api_calls} AWS calls, "
        f"{m.retries} botocore retries.</small></p></body></html>"
    )
    return "\n".join(parts) + "\n"
