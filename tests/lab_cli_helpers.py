"""Process and socket checks shared by the `drctl lab` CLI tests (tests/cli/lab and tests/twin/lab)."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit


def processes_in(folder: Path) -> list[int]:
    """Processes whose working directory is `folder` (the lab starts both of its processes there)."""
    found = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if cwd.readlink() == folder:
                found.append(int(cwd.parent.name))
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def one_line_error(stderr: str, *needles: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("drctl: error: ")
    for needle in needles:
        assert needle in lines[0]


def refused(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True
