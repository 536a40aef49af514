"""Find every `drctl ...` command in Markdown and check it against drctl's real command tree.

Commands are taken from fenced code blocks (a line starting with `drctl`, `$ drctl` or `uv run drctl`,
backslash continuations joined) and from inline code spans that start with `drctl`. Each is parsed by the
CLI's own parser (typer's click, `make_context`) level by level — unknown commands, unknown options, bad
option values and missing arguments are errors — and nothing is executed. Shell syntax after the command
(`| jq ...`, `&&`, `>`) is cut off. Placeholders are plain words (RUN_ID), never `<...>`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import typer.main

PREFIX = re.compile(r"^\s*(?:\$\s+)?(?:uv run\s+)?drctl(?=\s|$)")
HELP = {"--help", "-h"}
SHELL_OPERATORS = set("|&;<>")


@dataclass(frozen=True)
class Found:
    source: str
    line: int
    text: str

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}: {self.text}"


def extract(markdown: str, source: str = "<text>") -> list[Found]:
    """Every drctl command line in fenced code blocks and inline code spans, with its line number."""
    found: list[Found] = []
    in_fence = False
    pending = ""
    pending_line = 0
    for number, raw in enumerate(markdown.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
            pending = ""
            continue
        if in_fence:
            if pending:
                raw = pending + " " + stripped
            elif PREFIX.match(raw):
                pending_line = number
            else:
                continue
            if raw.rstrip().endswith("\\"):
                pending = raw.rstrip()[:-1].rstrip()
                continue
            pending = ""
            found.append(Found(source, pending_line, raw.strip()))
            continue
        for span in re.findall(r"`([^`]+)`", raw):
            if PREFIX.match(span):
                found.append(Found(source, number, span.strip()))
    return found


def argv_of(command: str) -> list[str]:
    """The arguments after `drctl`, up to the first shell operator."""
    lexer = shlex.shlex(PREFIX.sub("", command, count=1), posix=True, punctuation_chars="".join(SHELL_OPERATORS))
    lexer.whitespace_split = True
    argv = []
    for token in lexer:
        if token and set(token) <= SHELL_OPERATORS:
            break
        argv.append(token)
    return argv


def root_command() -> Any:
    from drctl.cli.app import _register, app

    _register()
    return typer.main.get_command(app)


def check(root: Any, argv: list[str]) -> str | None:
    """None when `drctl ARGV` parses against the real CLI; else what is wrong."""
    wants_help = any(a in HELP for a in argv)
    args = [a for a in argv if a not in HELP]
    cmd, name, parent = root, "drctl", None
    path = ["drctl"]
    while True:
        if not args and not wants_help and getattr(cmd, "no_args_is_help", False):
            return f"`{' '.join(path)}` needs arguments (alone it only prints its help)"
        try:
            ctx = cmd.make_context(name, list(args), parent=parent, resilient_parsing=wants_help)
        except typer.Exit:
            return None  # an eager option such as --version
        except typer.TyperException as e:
            return f"`{' '.join(path)}`: {e.format_message()}"
        commands = getattr(cmd, "commands", None)
        if not isinstance(commands, dict):
            return None
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]  # click keeps the sub-command name apart
        if not rest:
            return None if wants_help else f"`{' '.join(path)}` needs a sub-command ({', '.join(commands)})"
        sub = commands.get(rest[0])
        if sub is None:
            return f"`{' '.join(path)}` has no sub-command {rest[0]!r} (it has {', '.join(commands)})"
        cmd, name, parent, args = sub, rest[0], ctx, rest[1:]
        path.append(name)


def check_files(paths: list[Path]) -> tuple[list[Found], list[str]]:
    """(commands found, problems) over the given Markdown files."""
    root = root_command()
    found: list[Found] = []
    problems: list[str] = []
    for path in paths:
        for f in extract(path.read_text(encoding="utf-8"), path.name):
            found.append(f)
            error = check(root, argv_of(f.text))
            if error:
                problems.append(f"{f.where}\n    {error}")
    return found, problems
