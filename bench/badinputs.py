"""Bad inputs across drctl's commands: each must give a one-line error and a documented non-zero exit code.

Every case is run as a subprocess of the real CLI (`python -m drctl ...`). A case passes when the exit code is
one of drctl.errors.ExitCode other than OK and ERROR (ERROR means "a bug in drctl"), stderr holds exactly one
non-empty line starting with "drctl: error:" and no traceback, and nothing but JSON (or nothing) is on stdout.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import drctl_argv

TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    home: str = "twin"  # "twin": the bench twin's home (lab running); "empty": a home with nothing in it


@dataclass
class Outcome:
    case: Case
    rc: int
    stderr: str
    stdout: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML for {type(v).__name__}")


def _stack_variants(base: dict[str, Any]) -> dict[str, Callable[[dict[str, Any]], None]]:
    """name -> a mutation of a copy of the valid stack mapping."""
    r1, r2 = list(base["regions"])

    def drop(*path: str) -> Callable[[dict[str, Any]], None]:
        def f(d: dict[str, Any]) -> None:
            for p in path[:-1]:
                d = d[p]
            d.pop(path[-1], None)

        return f

    def put(value: Any, *path: str) -> Callable[[dict[str, Any]], None]:
        def f(d: dict[str, Any]) -> None:
            for p in path[:-1]:
                d = d.setdefault(p, {})
            d[path[-1]] = value

        return f

    def rename_region(new: str) -> Callable[[dict[str, Any]], None]:
        def f(d: dict[str, Any]) -> None:
            d["regions"][new] = d["regions"].pop(r2)

        return f

    def third_region(d: dict[str, Any]) -> None:
        d["regions"]["eu-west-1"] = dict(d["regions"][r2])

    return {
        "no [regions]": drop("regions"),
        "no [database]": drop("database"),
        "no database.global_cluster_id": drop("database", "global_cluster_id"),
        "one region only": drop("regions", r2),
        "three regions": third_region,
        "unknown region name us-moon-1": rename_region("us-moon-1"),
        "role = tertiary": put("tertiary", "regions", r2, "role"),
        "two primaries": put("primary", "regions", r2, "role"),
        "rto_s is a string": put("ten minutes", "objectives", "rto_s"),
        "negative rpo_s": put(-5, "objectives", "rpo_s"),
        "negative max_switchover_lag_ms": put(-1, "objectives", "max_switchover_lag_ms"),
        "real-looking static key": put("AKIAIOSFODNN7EXAMPLE", "aws", "static_credentials", "access_key_id"),
        "endpoint is not a URL": put("not a url", "aws", "endpoints", r1),
        "no cluster_id in a region": drop("regions", r1, "cluster_id"),
        "global cluster that does not exist": put("no-such-global", "database", "global_cluster_id"),
        "cluster that does not exist": put("no-such-cluster", "regions", r1, "cluster_id"),
    }


def make_stack_files(valid: Path, folder: Path, closed_port: int) -> dict[str, Path]:
    """Broken stack files next to each other in `folder`; name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    base = tomllib.loads(valid.read_text(encoding="utf-8"))
    out: dict[str, Path] = {}
    for i, (name, mutate) in enumerate(_stack_variants(base).items()):
        data = tomllib.loads(valid.read_text(encoding="utf-8"))
        mutate(data)
        path = folder / f"bad-{i:02d}.toml"
        path.write_text(_dump(data), encoding="utf-8")
        out[name] = path
    raw = {
        "empty file": "",
        "TOML syntax error": valid.read_text(encoding="utf-8").replace("[database]", "[database", 1),
        "binary garbage": "\x00\x01\x02\xff" * 16,
    }
    for j, (name, text) in enumerate(raw.items()):
        path = folder / f"raw-{j:02d}.toml"
        path.write_bytes(text.encode("latin-1") if name == "binary garbage" else text.encode())
        out[name] = path
    data = tomllib.loads(valid.read_text(encoding="utf-8"))
    data.setdefault("aws", {})["endpoints"] = {
        k: f"http://127.0.0.1:{closed_port}" for k in (*data["regions"], "global")
    }
    path = folder / "unreachable.toml"
    path.write_text(_dump(data), encoding="utf-8")
    out["every endpoint refuses connections"] = path
    directory = folder / "a-directory.toml"
    directory.mkdir(exist_ok=True)
    out["a directory"] = directory
    out["no such file"] = folder / "missing.toml"
    return out


def _dump(data: dict[str, Any]) -> str:
    """TOML for a stack mapping: top-level scalars, then tables; regions and endpoints quoted."""
    lines: list[str] = []

    def table(name: str, d: dict[str, Any]) -> None:
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
        lines.append(f"\n[{name}]")
        lines.extend(f'"{k}" = {_toml_value(v)}' for k, v in scalars.items())
        for k, v in d.items():
            if isinstance(v, dict):
                table(f'{name}."{k}"', v)

    lines.extend(f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict))
    for k, v in data.items():
        if isinstance(v, dict):
            table(k, v)
    return "\n".join(lines) + "\n"


def cases(stacks: dict[str, Path], valid: Path, commands: set[str]) -> list[Case]:
    """The bad invocations. `commands`: the top-level commands this drctl has (deploy/report are optional)."""
    s = str(valid)
    out: list[Case] = []
    for name, path in stacks.items():
        out.append(
            Case(f"status: stack file: {name}", ("status", "--json", "--timeout", "5", "--stack", str(path)))
        )
    for name in ("TOML syntax error", "unknown region name us-moon-1", "no such file"):
        out.append(
            Case(
                f"failover: stack file: {name}",
                ("failover", "--to", "secondary", "--yes", "--stack", str(stacks[name])),
            )
        )
    out += [
        Case(
            "status: DRCTL_STACK names a missing file",
            ("status",),
            env=(("DRCTL_STACK", "/nonexistent/stack.toml"),),
        ),
        Case("status: no stack anywhere (empty home)", ("status",), home="empty"),
        Case("status --timeout abc", ("status", "--stack", s, "--timeout", "abc")),
        Case("status --timeout 0", ("status", "--stack", s, "--timeout", "0")),
        Case("status --watch --interval 0.1", ("status", "--stack", s, "--watch", "--interval", "0.1")),
        Case("status --watch --json", ("status", "--stack", s, "--watch", "--json")),
        Case("status --bogus", ("status", "--stack", s, "--bogus")),
        Case("status extra argument", ("status", "--stack", s, "extra")),
        Case("status --stack (no value)", ("status", "--stack")),
        Case("failover without --to", ("failover", "--stack", s, "--yes")),
        Case("failover --to us-moon-1", ("failover", "--stack", s, "--to", "us-moon-1", "--yes")),
        Case(
            "failover --to eu-west-1 (not in the stack)", ("failover", "--stack", s, "--to", "eu-west-1", "--yes")
        ),
        Case("failover --to ''", ("failover", "--stack", s, "--to", "", "--yes")),
        Case(
            "failover --mode sideways",
            ("failover", "--stack", s, "--to", "secondary", "--mode", "sideways", "--yes"),
        ),
        Case(
            "failover --allow-data-loss (planned)",
            ("failover", "--stack", s, "--to", "secondary", "--allow-data-loss", "--yes"),
        ),
        Case(
            "failover --mode unplanned without --allow-data-loss",
            ("failover", "--stack", s, "--to", "secondary", "--mode", "unplanned", "--yes"),
        ),
        Case(
            "failover --flip-method teleport",
            ("failover", "--stack", s, "--to", "secondary", "--flip-method", "teleport", "--yes"),
        ),
        Case("failover --resume not-a-run-id", ("failover", "--stack", s, "--resume", "not-a-run-id", "--yes")),
        Case("failover --resume ../../etc", ("failover", "--stack", s, "--resume", "../../etc", "--yes")),
        Case(
            "failover --resume (well-formed, no such run)",
            ("failover", "--stack", s, "--resume", "20261129T121500Z-ab12", "--yes"),
        ),
        Case(
            "failover --resume with --to",
            ("failover", "--stack", s, "--resume", "20261129T121500Z-ab12", "--to", "secondary", "--yes"),
        ),
        Case("failover --bogus", ("failover", "--stack", s, "--to", "secondary", "--bogus")),
        Case("lab latency -5", ("lab", "latency", "--", "-5")),
        Case("lab latency abc", ("lab", "latency", "abc")),
        Case("lab latency 1e309 (inf)", ("lab", "latency", "1e309")),
        Case("lab faults --throttle 1.5", ("lab", "faults", "--throttle", "1.5")),
        Case("lab faults --throttle -0.1", ("lab", "faults", "--throttle", "-0.1")),
        Case("lab faults --errors nan", ("lab", "faults", "--errors", "nan")),
        Case("lab set-lag 2500parsecs", ("lab", "set-lag", "2500parsecs")),
        Case("lab set-lag -1ms", ("lab", "set-lag", "--", "-1ms")),
        Case("lab set-lag ''", ("lab", "set-lag", "")),
        Case("lab set-backlog -1 5", ("lab", "set-backlog", "--", "-1", "5")),
        Case("lab set-backlog x y", ("lab", "set-backlog", "x", "y")),
        Case("lab outage us-moon-1", ("lab", "outage", "us-moon-1")),
        Case("lab outage eu-west-1 (not in the lab)", ("lab", "outage", "eu-west-1")),
        Case("lab restore us-moon-1", ("lab", "restore", "us-moon-1")),
        Case("lab app-fault us-east-1 maybe", ("lab", "app-fault", "us-east-1", "maybe")),
        Case("lab durations --switchover -3", ("lab", "durations", "--switchover", "-3")),
        Case("lab durations --warmup abc", ("lab", "durations", "--warmup", "abc")),
        Case("lab up --regions us-east-1", ("lab", "up", "--regions", "us-east-1"), home="empty"),
        Case(
            "lab up --regions us-east-1,us-east-1", ("lab", "up", "--regions", "us-east-1,us-east-1"), home="empty"
        ),
        Case("lab up --regions us-east-1,mars-1", ("lab", "up", "--regions", "us-east-1,mars-1"), home="empty"),
        Case("lab up --port-base 70000", ("lab", "up", "--port-base", "70000"), home="empty"),
        Case("lab latency 100 (no lab running)", ("lab", "latency", "100"), home="empty"),
        Case("unknown command", ("nosuchcommand",)),
        Case("unknown global option", ("--nosuch",)),
    ]
    # failover --only: a value not in the choices, a guard override without the part it overrides (exit 2)
    for name, extra in (
        ("failover --only everything", ("--only", "everything")),
        ("failover --force-traffic without --only traffic", ("--force-traffic",)),
    ):
        out.append(Case(name, ("failover", "--stack", s, "--to", "secondary", *extra, "--yes")))
    # deploy: only inputs refused before Terraform runs (a wrong one would run `terraform init`).
    if "deploy" in commands:
        out += [
            Case("deploy --bogus", ("deploy", "--bogus")),
            Case("deploy --terraform-dir missing", ("deploy", "--terraform-dir", "/nonexistent/terraform")),
            Case("deploy --var-file missing", ("deploy", "--var-file", "/nonexistent/prod.tfvars.json")),
            Case("deploy --var-file not JSON", ("deploy", "--var-file", str(stacks["TOML syntax error"]))),
        ]
    if "runs" in commands:
        out.append(Case("runs --bogus", ("runs", "--bogus")))
    if "report" in commands:
        out += [
            Case("report no-such-run", ("report", "20261129T121500Z-ab12")),
            Case("report ../../etc/passwd", ("report", "../../etc/passwd")),
        ]
    return out


def run_case(case: Case, *, twin_env: dict[str, str], empty_home: Path) -> Outcome:
    env = dict(twin_env)
    if case.home == "empty":
        env["DRCTL_HOME"] = str(empty_home)
    env.update(dict(case.env))
    try:
        p = subprocess.run(
            drctl_argv(*case.args),
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as e:
        return Outcome(case, -1, str(e.stderr or ""), str(e.stdout or ""), [f"no exit within {TIMEOUT_S:g}s"])
    return Outcome(case, p.returncode, p.stderr, p.stdout, judge(p.returncode, p.stderr, p.stdout))


def judge(rc: int, stderr: str, stdout: str) -> list[str]:
    """Why this answer to a bad input is not acceptable (empty: it is)."""
    from drctl.errors import ExitCode

    problems = []
    documented = {int(c) for c in ExitCode}
    if rc == 0:
        problems.append("exit 0: the bad input was accepted")
    elif rc == int(ExitCode.ERROR):
        problems.append("exit 1: drctl reports an internal error (a bug)")
    elif rc not in documented:
        problems.append(f"exit {rc} is not a documented exit code")
    if "Traceback (most recent call last)" in stderr or "Traceback (most recent call last)" in stdout:
        problems.append("traceback")
    lines = [line for line in stderr.splitlines() if line.strip()]
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr")
    elif not lines[0].startswith("drctl: error:"):
        problems.append("stderr line does not start with 'drctl: error:'")
    if stdout.strip() and not stdout.lstrip().startswith(("{", "[")):
        problems.append("text on stdout")
    return problems


def top_level_commands() -> set[str]:
    """The commands this drctl registers (deploy and report may not exist yet)."""
    from drctl.cli.app import _register, app

    _register()
    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    names |= {g.name or "" for g in app.registered_groups}
    return {n.replace("_", "-") for n in names if n}


def closed_port() -> int:
    from drctl.lab.ports import free_ports

    return free_ports(1)[0]  # closed again when chosen: connections are refused


def empty_home(root: Path) -> Path:
    home = root / "empty-home"
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    return home
