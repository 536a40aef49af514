"""The run's timeline as an inline SVG Gantt chart: one bar per phase, the RTO clock, the RPO sample.

Plain SVG text (no scripts, no external assets), so it renders in any browser and survives being emailed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape

from drctl.report.markdown import num
from drctl.report.model import RunModel

WIDTH = 1000
LEFT = 130  # label column
RIGHT = 40
ROW = 34
BAR = 20
TOP = 30
COLOURS = {
    "preflight": "#4e79a7",
    "capacity": "#59a14f",
    "promotion": "#e15759",
    "traffic flip": "#f28e2b",
    "verification": "#76b7b2",
}
OTHER = "#9c755f"


def _ticks(lo: float, hi: float) -> list[float]:
    span = max(hi - lo, 1e-3)
    raw = span / 8
    step = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if raw <= step * mult:
            step *= mult
            break
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 6) for i in range(int((hi - first) / step) + 1)]


def timeline_svg(m: RunModel) -> str:
    lo = min(0.0, m.rto_start_s or 0.0)
    ends = [m.end_s]
    if m.rto_s is not None and m.rto_start_s is not None:
        ends.append(m.rto_end_s if m.rto_end_s is not None else m.rto_start_s + m.rto_s)
    if m.rpo_sample is not None:
        ends.append(m.rpo_sample.at_s)
    hi = max(ends) * 1.12 + 0.05  # room for the duration labels right of the bars
    plot = WIDTH - LEFT - RIGHT

    def x(t: float) -> float:
        return round(LEFT + (t - lo) / (hi - lo) * plot, 2)

    rows = len(m.phases) + 1  # + the RTO row
    axis_y = TOP + rows * ROW + 6
    height = axis_y + 62
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" style="max-width:{WIDTH}px;height:auto" role="img" aria-label="failover timeline">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]
    for t in _ticks(lo, hi):
        out.append(
            f'<line class="tick" x1="{x(t)}" y1="{TOP - 6}" x2="{x(t)}" y2="{axis_y}" stroke="#e3e3e3"/>'
            f'<text x="{x(t)}" y="{axis_y + 16}" font-size="11" text-anchor="middle" fill="#555">{t:g} s</text>'
        )
    for i, p in enumerate(m.phases):
        y = TOP + i * ROW
        w = max(x(p.end_s) - x(p.start_s), 2.0)
        colour = COLOURS.get(p.name, OTHER)
        stroke = ' stroke="#b00020" stroke-width="2"' if p.outcome != "ok" else ""
        out.append(
            f'<text x="{LEFT - 8}" y="{y + BAR - 5}" font-size="13" text-anchor="end" fill="#222">{escape(p.name)}'
            "</text>"
            f'<rect class="phase-bar" data-phase="{escape(p.name)}" data-start="{p.start_s}" data-end="{p.end_s}" '
            f'x="{x(p.start_s)}" y="{y}" width="{round(w, 2)}" height="{BAR}" rx="3" fill="{colour}"{stroke}>'
            f"<title>{escape(p.name)}: {num(p.start_s)} → {num(p.end_s)} ({escape(', '.join(p.steps))}; "
            f"{escape(p.outcome)})</title></rect>" + _duration_label(p.seconds, p.outcome, x(p.start_s), w, y)
        )
    out += _rto(m, x, TOP + len(m.phases) * ROW, axis_y)
    out += _rpo(m, x, axis_y)
    out.append(
        f'<line x1="{LEFT}" y1="{axis_y}" x2="{WIDTH - RIGHT}" y2="{axis_y}" stroke="#888"/>'
        f'<text x="{WIDTH - RIGHT}" y="{axis_y + 36}" font-size="11" text-anchor="end" fill="#555">'
        "seconds from the run header "
        "(the journal's first line)</text>"
    )
    out.append("</svg>")
    return "\n".join(out)


def _duration_label(seconds: float, outcome: str, left: float, width: float, y: int) -> str:
    """Inside the bar's right end when the bar is wide enough, else just right of it."""
    text = num(seconds) + ("" if outcome == "ok" else " — " + escape(outcome))
    if width > 12 + 7 * len(text):
        return (
            f'<text x="{round(left + width - 6, 2)}" y="{y + BAR - 5}" font-size="12" text-anchor="end" '
            f'fill="#ffffff">{text}</text>'
        )
    return f'<text x="{round(left + width + 6, 2)}" y="{y + BAR - 5}" font-size="12" fill="#333">{text}</text>'


def _rto(m: RunModel, x: Callable[[float], float], y: int, axis_y: int) -> list[str]:
    if m.rto_s is None or m.rto_start_s is None:
        return []
    start = m.rto_start_s
    end = m.rto_end_s if m.rto_end_s is not None else m.rto_start_s + m.rto_s
    label = f"RTO {num(m.rto_s)}" if m.moved else f"run took {num(m.rto_s)} (nothing moved)"
    label += " (estimate)" if m.finished is None else ""
    return [
        f'<text x="{LEFT - 8}" y="{y + BAR - 5}" font-size="13" font-weight="bold" text-anchor="end" '
        f'fill="#222">RTO</text>'
        f'<rect class="rto-bar" x="{x(start)}" y="{y + 6}" width="{max(x(end) - x(start), 2.0):.2f}" height="8" '
        f'fill="#222"><title>{escape(m.rto_source)}</title></rect>'
        f'<line class="rto-marker" x1="{x(end)}" y1="{TOP - 10}" x2="{x(end)}" y2="{axis_y}" stroke="#222" '
        'stroke-width="2" stroke-dasharray="6 3"/>'
        f'<text x="{x(end) - 4}" y="{TOP - 14}" font-size="12" font-weight="bold" text-anchor="end" '
        f'fill="#222">{escape(label)}</text>'
    ]


def _rpo(m: RunModel, x: Callable[[float], float], axis_y: int) -> list[str]:
    s = m.rpo_sample
    if s is None:
        return []
    at = x(s.at_s)
    label = f"RPO sample {num(s.value_ms, ' ms')} ({s.metric}, {s.region})"
    return [
        f'<line class="rpo-marker" x1="{at}" y1="{TOP - 10}" x2="{at}" y2="{axis_y}" stroke="#7b2cbf" '
        'stroke-width="2"/>'
        f'<path d="M {at} {axis_y - 7} l 6 7 l -6 7 l -6 -7 z" fill="#7b2cbf"><title>{escape(label)}: '
        f"{escape(m.rpo_source)}</title></path>"
        f'<text x="{max(at - 6, 4)}" y="{axis_y + 52}" font-size="12" fill="#7b2cbf">▲ {escape(label)}</text>'
    ]
