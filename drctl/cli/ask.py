"""Questions to the operator: asked on stderr, answered on stdin; stdout carries only the result.

Not typer.confirm / typer.prompt: click writes a prompt's last space through input(), to stdout, which breaks
"`--json` prints only JSON on stdout" (and puts a stray space before any other result).
"""

from __future__ import annotations

import sys


def ask(question: str) -> str:
    """The operator's answer, stripped ("" at end of input)."""
    sys.stderr.write(question.rstrip() + " ")
    sys.stderr.flush()
    return sys.stdin.readline().strip()


def confirm(question: str) -> bool:
    """[y/N]: only y or yes is a yes; anything else, or end of input, is a no."""
    return ask(f"{question} [y/N]:").lower() in ("y", "yes")
