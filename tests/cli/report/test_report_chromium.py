"""The HTML report renders in headless Chromium: a screenshot shows the timeline drawn (not a blank page)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from drctl.report.html import render_html
from drctl.report.model import load_model
from drctl.report.timeline import COLOURS

FIXTURES = Path(__file__).parents[2] / "fixtures" / "runs"
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit truecolour PNG — all a screenshot needs."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), f"unsupported PNG (depth {depth}, colour type {colour})"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw, stride, rows = zlib.decompress(idat), width * channels, []
    prev = bytearray(stride)
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    rgb = [b"".join(r[i : i + 3] for i in range(0, stride, channels)) for r in rows]
    return width, height, rgb


def pixels(rows: list[bytes]) -> list[tuple[int, int, int]]:
    return [(r[i], r[i + 1], r[i + 2]) for r in rows for i in range(0, len(r), 3)]


class Bars(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.phases: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "rect" and a.get("class") == "phase-bar":
            self.phases.append(str(a.get("data-phase")))


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (CI installs Debian's chromium in .ci/run)")
@pytest.mark.slow
def test_html_report_renders_with_its_timeline(tmp_path: Path) -> None:
    model = load_model(FIXTURES / "unplanned.jsonl")
    page = tmp_path / "report.html"
    page.write_text(render_html(model), encoding="utf-8")
    bars = Bars()
    bars.feed(page.read_text())
    assert bars.phases == ["preflight", "capacity", "promotion", "traffic flip", "verification"]

    png = tmp_path / "shot.png"
    assert CHROMIUM is not None
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            "--window-size=1200,900",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert png.is_file(), f"chromium wrote no screenshot (rc {proc.returncode}): {proc.stderr[-2000:]}"
    width, height, rows = decode_png(png.read_bytes())
    assert (width, height) == (1200, 900)
    seen = set(pixels(rows))
    assert len(seen) > 50, f"the page looks blank: {len(seen)} colours"
    # Every phase's bar colour is on screen: the SVG timeline was drawn, not only the text around it.
    wanted = {name: tuple(int(hexa[i : i + 2], 16) for i in (1, 3, 5)) for name, hexa in COLOURS.items()}
    missing = [name for name, rgb in wanted.items() if rgb not in seen]
    assert not missing, f"no pixels of these phase bars: {missing}"
