"""Fault figures: the reliability scenarios on the offline twin, in one table.

    uv run python -m bench.faults            # its own twin; prints the table (also part of `python -m bench`)

Scenarios: a region outage (status, then an unplanned failover), a SIGKILL at every step boundary followed
by `--resume` (drctl's DRCTL_TEST_KILL_AT hook), throttling and 5xx rates (status and a planned failover,
with the retries they needed), two operators at once (exactly one may proceed), bad inputs across the
commands (each must give one line and a documented exit code), and secrets left in state, logs, journals,
temp files and command output.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import badinputs
from bench.common import BENCH_SECRET, BenchTwin, md_table, private_twin

PROMOTIONS = ("SwitchoverGlobalCluster", "FailoverGlobalCluster", "RemoveFromGlobalCluster")
KILL_STEPS = ("lock", "preflight", "sample_rpo", "capacity", "promote", "flip", "verify")
# Password-like values the twin knows of (the seed's database master password) and patterns for others.
KNOWN_SECRETS = (BENCH_SECRET, "lab-password-1")
SECRET_PATTERNS = (
    re.compile(
        r"(?i)\"?(master_?user_?password|password|passwd|secret_?access_?key)\"?\s*[:=]\s*\"?([^\s\",}]{4,})"
    ),
)


@dataclass
class Row:
    scenario: str
    tried: str
    survived: str
    detail: str
    ok: bool


@dataclass
class FaultsResult:
    rows: list[Row] = field(default_factory=list)
    bad_inputs: list[badinputs.Outcome] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # "where: what" for drctl-written files and output
    lab_secrets: list[str] = field(default_factory=list)  # in the lab's own files (emulator state, gateway log)
    transcript: list[str] = field(default_factory=list)  # every stdout/stderr, scanned for secrets


class Runner:
    """Runs drctl against the twin and keeps what it printed (the secrets scan reads it)."""

    def __init__(self, twin: BenchTwin, result: FaultsResult) -> None:
        self.twin, self.result = twin, result

    def drctl(self, *args: str, timeout: float = 180.0, **env: str) -> subprocess.CompletedProcess[str]:
        p = self.twin.drctl(*args, timeout=timeout, **env)
        self.result.transcript += [p.stdout, p.stderr]
        return p

    def failover(self, to: str, *extra: str, **env: str) -> tuple[int, dict[str, Any], str]:
        p = self.drctl("failover", "--to", to, "--yes", "--json", "--stack", str(self.twin.stack), *extra, **env)
        return p.returncode, _json(p.stdout), p.stderr

    def status(self, timeout_s: float = 8.0) -> tuple[int, dict[str, Any], float]:
        t = time.perf_counter()
        p = self.drctl("status", "--json", "--timeout", f"{timeout_s:g}", "--stack", str(self.twin.stack))
        return p.returncode, _json(p.stdout), time.perf_counter() - t


def _json(text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def writer_region(twin: BenchTwin, region: str | None = None) -> str:
    """Who writes, read from the twin directly (the given region's endpoint; default the second region)."""
    import boto3

    from drctl.stack import load_stack

    stack = load_stack(twin.stack)
    region = region or twin.info.regions[1]
    rds = boto3.client(
        "rds",
        region_name=region,
        endpoint_url=twin.info.endpoints[region],
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    gc = rds.describe_global_clusters(GlobalClusterIdentifier=stack.global_cluster_id)["GlobalClusters"][0]
    writers = [m["DBClusterArn"].split(":")[3] for m in gc["GlobalClusterMembers"] if m["IsWriter"]]
    return writers[0] if len(writers) == 1 else f"{len(writers)} writers"


def promotions_ok(twin: BenchTwin) -> int:
    return len([r for r in twin.control.requests() if r.get("operation") in PROMOTIONS and r.get("status") == 200])


def _prepare(twin: BenchTwin) -> None:
    """Writer back in the first region, short modelled durations, lag samples present, nothing injected."""
    twin.reseed()
    twin.control.set_durations(switchover_s=1.0, failover_s=1.0, promote_s=1.0, warmup_s=0.5)
    twin.control.set_lag(200)
    twin.wait_for_lag()
    twin.control.clear_requests()


# --- scenarios -----------------------------------------------------------------------------------------------


def region_outage(r: Runner) -> list[Row]:
    twin = r.twin
    _prepare(twin)
    r1, r2 = twin.info.regions
    rows = []
    twin.control.outage(r2)
    rc, doc, secs = r.status()
    reach = {k: v.get("reachable") for k, v in doc.get("regions", {}).items()}
    ok = rc == 3 and reach.get(r1) is True and reach.get(r2) is False
    rows.append(
        Row(
            f"secondary ({r2}) outage: status",
            "1",
            "1/1" if ok else "0/1",
            f"exit {rc} in {secs:.1f}s; reachable {reach}",
            ok,
        )
    )
    # Planned failover *to* a region that does not answer: refused at once, one line, nothing changed.
    twin.control.clear_requests()
    t = time.perf_counter()
    rc, rep, err = r.failover("secondary")
    secs = time.perf_counter() - t
    lines = [x for x in err.splitlines() if x.startswith("drctl: error:")]
    sends = promotions_ok(twin)
    ok = rc in (6, 7) and sends == 0 and writer_region(twin, r1) == r1
    rows.append(
        Row(
            f"secondary ({r2}) outage: planned failover to it",
            "1",
            "1/1" if ok else "0/1",
            f"exit {rc} in {secs:.1f}s ({(lines[-1] if lines else err.strip()[-120:])[:140]}); "
            f"promotions sent {sends}",
            ok,
        )
    )
    twin.control.restore()
    twin.control.set_lag(2500)
    time.sleep(2.2)
    twin.control.outage(r1, route53=True)
    rc, doc, secs = r.status()
    reach = {k: v.get("reachable") for k, v in doc.get("regions", {}).items()}
    ok = rc == 3 and reach.get(r1) is False and reach.get(r2) is True
    rows.append(
        Row(
            f"primary ({r1}) + Route53 outage: status",
            "1",
            "1/1" if ok else "0/1",
            f"exit {rc} in {secs:.1f}s; reachable {reach}; Route53 reachable {doc.get('route53_reachable')}",
            ok,
        )
    )
    twin.control.clear_requests()
    t = time.perf_counter()
    rc, rep, err = r.failover(r2, "--mode", "unplanned", "--allow-data-loss")
    secs = time.perf_counter() - t
    log = twin.control.requests()
    to_failed = [x for x in log if x.get("port_role") in (r1, "global") or x.get("region") == r1]
    twin.control.restore()
    writer = writer_region(twin)
    ok = rc == 0 and rep.get("outcome") == "completed" and writer == r2 and not to_failed
    rows.append(
        Row(
            f"primary ({r1}) + Route53 outage: unplanned failover",
            "1",
            "1/1" if ok else "0/1",
            f"exit {rc}, {rep.get('outcome') or err.strip()[-120:]} in {secs:.1f}s; RPO {rep.get('rpo_s')}s; "
            f"writer now {writer}; calls to the failed region: {len(to_failed)}",
            ok,
        )
    )
    return rows


def outage_mid_failover(r: Runner) -> list[Row]:
    """The source region goes down right after the switchover was sent: the run must still complete from the
    target region (fencing then reads as unverifiable, never as a failure)."""
    twin = r.twin
    _prepare(twin)
    twin.control.set_durations(switchover_s=3.0, warmup_s=0.5)
    r1, r2 = twin.info.regions
    argv = [
        sys.executable,
        "-m",
        "drctl",
        "failover",
        "--to",
        "secondary",
        "--yes",
        "--json",
        "--stack",
        str(twin.stack),
    ]
    t = time.perf_counter()
    proc = subprocess.Popen(argv, env=twin.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sent = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and not sent:
        sent = any(x.get("operation") in PROMOTIONS for x in twin.control.requests())
        time.sleep(0.1)
    if sent:
        twin.control.outage(r1)
    out, err = proc.communicate(timeout=180)
    secs = time.perf_counter() - t
    r.result.transcript += [out, err]
    twin.control.restore()
    rep = _json(out)
    fencing = (rep.get("verification") or {}).get("fencing", {}).get("verdict")
    writer = writer_region(twin)
    ok = sent and proc.returncode == 0 and rep.get("outcome") == "completed" and writer == r2
    lines = [x for x in err.splitlines() if x.startswith("drctl: error:")]
    detail = (
        f"exit {proc.returncode}, {rep.get('outcome') or (lines[-1] if lines else err.strip()[-140:])} in "
        f"{secs:.1f}s; writer now {writer}; fencing {fencing}"
    )
    return [
        Row(f"primary ({r1}) lost right after the switchover was sent", "1", "1/1" if ok else "0/1", detail, ok)
    ]


def kill_points(r: Runner, say: Callable[[str], None]) -> list[Row]:
    """SIGKILL at every step boundary (and right after the promotion is sent), then --resume."""
    twin = r.twin
    _prepare(twin)
    points = [f"{s}:{w}" for s in KILL_STEPS for w in ("before", "after")]
    points.insert(points.index("promote:after"), "promote:sent")
    survived, failures = 0, []
    to = "secondary"
    for point in points:
        _prepare(twin)  # writer back in the first region: every kill interrupts the same failover
        before = set(_run_ids(twin))
        rc, _, err = r.failover(to, DRCTL_TEST_KILL_AT=point)
        new = sorted(set(_run_ids(twin)) - before)
        if rc != -9 or not new:
            failures.append(f"{point}: not killed (exit {rc}) {err.strip()[-100:]}")
            continue
        p = r.drctl("failover", "--resume", new[-1], "--yes", "--json", "--stack", str(twin.stack))
        rep = _json(p.stdout)
        from drctl.stack import load_stack

        target = load_stack(twin.stack).resolve_region(to).name
        writer = writer_region(twin)
        sends = promotions_ok(twin)
        ok = p.returncode == 0 and rep.get("outcome") in ("completed", "no-op") and writer == target and sends == 1
        if ok:
            survived += 1
        else:
            failures.append(
                f"{point}: resume exit {p.returncode} {rep.get('outcome')}, writer {writer}, "
                f"promotions sent {sends}: {p.stderr.strip()[-160:]}"
            )
        say(f"  kill at {point}: {'survived' if ok else 'FAILED'}")
    detail = "resume completed, target writes, exactly one promotion sent"
    if failures:
        detail += "; failed: " + " | ".join(failures)
    return [
        Row(
            "SIGKILL at each step boundary, then --resume",
            str(len(points)),
            f"{survived}/{len(points)}",
            detail,
            survived == len(points),
        )
    ]


def _run_ids(twin: BenchTwin) -> list[str]:
    runs = twin.home / "runs"
    return sorted(p.name for p in runs.iterdir()) if runs.is_dir() else []


STATUS_UNDER_FAULTS = 3  # status runs per fault setting (the seeded world is ready: exit 0 expected)


def fault_rates(r: Runner, say: Callable[[str], None]) -> list[Row]:
    """Throttling and 5xx injected as rates: status (a ready world must still read as ready) and one planned
    failover under each, with the faulted answers (= retries botocore had to make) they met."""
    twin = r.twin
    rows = []
    for throttle, errors in ((0.2, 0.0), (0.0, 0.2), (0.5, 0.0)):
        _prepare(twin)
        twin.control.set_faults(throttle_rate=throttle, error_rate=errors)
        ready, faulted, lost, secs, why = 0, 0, 0, [], set()
        for _ in range(STATUS_UNDER_FAULTS):
            twin.control.clear_requests()
            rc_s, doc, t = r.status()  # the default 8 s deadline, as an operator runs it
            secs.append(t)
            faulted += sum(1 for x in twin.control.requests() if x.get("status") in (400, 429, 500, 503))
            lost += len([w for w in doc.get("warnings", []) if re.search(r"Throttl|SlowDown|Internal|5\d\d", w)])
            ready += rc_s == 0
            why |= set(doc.get("reasons", []))
        twin.control.clear_requests()
        rc_f, rep, err = r.failover("secondary")
        sends = promotions_ok(twin)
        twin.control.set_faults()
        ok_f = rc_f == 0 and rep.get("outcome") == "completed" and sends == 1
        n = STATUS_UNDER_FAULTS
        rows.append(
            Row(
                f"throttle {throttle:.0%}, 5xx {errors:.0%}",
                f"{n} status + 1 planned failover",
                f"{ready + int(ok_f)}/{n + 1}",
                f"status: ready {ready}/{n}, {faulted} faulted answers retried, {lost} reads still failing after "
                f"{_status_attempts(twin)} attempts, {max(secs):.1f}s at most"
                f"{'; not ready because: ' + ' / '.join(sorted(why)) if why else ''}. failover: exit {rc_f} "
                f"{rep.get('outcome') or err.strip()[-100:]}, {rep.get('retries')} retries in "
                f"{rep.get('api_calls')} calls, promotions sent {sends}",
                ready == n and ok_f,
            )
        )
        say(
            f"  faults {throttle}/{errors}: status ready {ready}/{n}, failover {rc_f} {rep.get('retries')} retries"
        )
    return rows


def _status_attempts(twin: BenchTwin) -> int:
    from drctl.stack import load_stack

    return load_stack(twin.stack).aws.max_attempts


def concurrent_operators(r: Runner, trials: int, say: Callable[[str], None]) -> list[Row]:
    """Two `drctl failover` processes started together: the same home (local lock) and two homes (the
    DynamoDB conditional write in the target region decides)."""
    twin = r.twin
    rows = []
    to = "secondary"
    for shared in (True, False):
        good, details = 0, []
        for _ in range(trials):
            _prepare(twin)
            twin.control.set_durations(switchover_s=2.0, warmup_s=0.5)
            homes = [twin.home, twin.home] if shared else [twin.home, twin.home / "operator-b"]
            procs = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "drctl",
                        "failover",
                        "--to",
                        to,
                        "--yes",
                        "--json",
                        "--stack",
                        str(twin.stack),
                    ],
                    env={**twin.env(), "DRCTL_HOME": str(h)},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for h in homes
            ]
            outs = [p.communicate(timeout=180) for p in procs]
            for o in outs:
                r.result.transcript += list(o)
            codes = sorted(p.returncode for p in procs)
            outcomes = sorted(str(_json(o[0]).get("outcome", "-")) for o in outs)
            sends = promotions_ok(twin)
            ok = sends == 1 and outcomes.count("completed") == 1 and codes in ([0, 8], [0, 0])
            good += ok
            details.append(f"exits {codes}, outcomes {outcomes}, promotions {sends}")
        label = "same DRCTL_HOME (local lock)" if shared else "two homes (DynamoDB lock in the target region)"
        rows.append(
            Row(
                f"two operators at once, {label}",
                str(trials),
                f"{good}/{trials}",
                "; ".join(sorted(set(details))),
                good == trials,
            )
        )
        say(f"  concurrent ({label}): {good}/{trials}")
    return rows


def bad_inputs(r: Runner, say: Callable[[str], None]) -> tuple[list[Row], list[badinputs.Outcome]]:
    twin = r.twin
    folder = twin.home / "bad-inputs"
    stacks = badinputs.make_stack_files(twin.stack, folder, badinputs.closed_port())
    cases = badinputs.cases(stacks, twin.stack, badinputs.top_level_commands())
    empty = badinputs.empty_home(folder)
    outcomes = []
    for case in cases:
        o = badinputs.run_case(case, twin_env=twin.env(), empty_home=empty)
        r.result.transcript += [o.stdout, o.stderr]
        outcomes.append(o)
    twin.control.reset()  # a bad input the lab accepted must not leak into what follows
    good = sum(o.ok for o in outcomes)
    codes = sorted({o.rc for o in outcomes})
    tracebacks = sum("traceback" in o.problems for o in outcomes)
    say(f"  bad inputs: {good}/{len(outcomes)} one-line + documented exit code")
    return [
        Row(
            "bad inputs (stack files, flags, values, commands)",
            str(len(outcomes)),
            f"{good}/{len(outcomes)}",
            f"exit codes seen {codes}; tracebacks {tracebacks}; defects listed below",
            good == len(outcomes),
        )
    ], outcomes


def scan_secrets(r: Runner) -> list[Row]:
    """Known secrets and password-like values in what drctl wrote and printed (must be 0), and separately
    in the lab's own files (emulator state, gateway logs)."""
    twin = r.twin
    # Seed once more without clearing the request log afterwards, so the lab's own files are scanned as a
    # fresh lab leaves them (the seed creates the database with a master password).
    twin.reseed()
    own_stack_files = {twin.stack.resolve(), (twin.home / "stack-throttled.toml").resolve()}
    drctl_hits, lab_hits = [], []
    scanned = 0
    for path in sorted(twin.home.rglob("*")):
        if not path.is_file() or path.resolve() in own_stack_files or "bad-inputs" in path.parts:
            continue
        if "ministack-venv" in path.parts:
            continue
        scanned += 1
        try:
            text = path.read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        hits = _hits(text)
        if hits:
            where = path.relative_to(twin.home)
            (lab_hits if where.parts[0] == "lab" else drctl_hits).extend(f"{where}: {h}" for h in hits)
    out_hits = _hits("\n".join(r.result.transcript))
    drctl_hits += [f"command output: {h}" for h in out_hits]
    r.result.secrets, r.result.lab_secrets = drctl_hits, lab_hits
    return [
        Row(
            "secrets in drctl's state, journals, reports, locks, temp files and output",
            f"{scanned} files + output",
            "0 found" if not drctl_hits else f"{len(drctl_hits)} found",
            "; ".join(drctl_hits[:5])
            or "looked for the stack's static secret, the seed's DB password and password=/secret= values",
            not drctl_hits,
        ),
        Row(
            "secrets in the lab's own files (emulator state, gateway request log)",
            "lab/",
            f"{len(lab_hits)} found",
            "; ".join(sorted({h.split(":")[0] for h in lab_hits})) or "-",
            True,
        ),
    ]


def _hits(text: str) -> list[str]:
    found = [f"'{s[:6]}…' (known secret)" for s in KNOWN_SECRETS if s in text]
    for pat in SECRET_PATTERNS:
        for m in pat.finditer(text):
            value = m.group(2)
            if value in ("null", "None", "true", "false", "***", "REDACTED") or value.startswith("<"):
                continue
            found.append(f"{m.group(1)}=… (password-like)")
    return sorted(set(found))


# --- all together ----------------------------------------------------------------------------------------------


SCENARIOS = ("outage", "kill", "rates", "concurrent", "bad", "secrets")


def run_all(
    twin: BenchTwin,
    *,
    say: Callable[[str], None] = print,
    concurrent_trials: int = 3,
    only: tuple[str, ...] = SCENARIOS,
) -> FaultsResult:
    res = FaultsResult()
    r = Runner(twin, res)
    steps: list[tuple[str, str, Callable[[], list[Row]]]] = [
        ("outage", "region outage", lambda: region_outage(r) + outage_mid_failover(r)),
        ("kill", "kill points", lambda: kill_points(r, say)),
        ("rates", "throttling and 5xx", lambda: fault_rates(r, say)),
        ("concurrent", "concurrent operators", lambda: concurrent_operators(r, concurrent_trials, say)),
    ]
    for key, name, fn in steps:
        if key not in only:
            continue
        say(f"faults: {name}")
        t = time.perf_counter()
        try:
            res.rows += fn()
        except Exception as e:  # one broken scenario must not hide the others' figures
            res.rows.append(Row(name, "-", "error", f"the scenario itself failed: {type(e).__name__}: {e}", False))
        say(f"  ({time.perf_counter() - t:.0f}s)")
    if "bad" in only:
        say("faults: bad inputs")
        rows, res.bad_inputs = bad_inputs(r, say)
        res.rows += rows
    if "secrets" in only:
        res.rows += scan_secrets(r)
    twin.control.reset()
    return res


def markdown(res: FaultsResult) -> str:
    table = md_table(
        ["scenario", "tried", "survived", "detail", ""],
        [[x.scenario, x.tried, x.survived, x.detail.replace("|", "/"), "✅" if x.ok else "❌"] for x in res.rows],
    )
    lines = [table, "", "Bad inputs (exit code, first line of stderr):", ""]
    lines.append(
        md_table(
            ["input", "exit", "stderr", "verdict"],
            [
                [
                    o.case.name.replace("|", "/"),
                    o.rc,
                    (_first_line(o.stderr) or "-").replace("|", "/")[:140],
                    "ok" if o.ok else "DEFECT: " + "; ".join(o.problems),
                ]
                for o in res.bad_inputs
            ],
        )
    )
    return "\n".join(lines)


def _first_line(text: str) -> str:
    lines = [x for x in text.splitlines() if x.strip()]
    return lines[-1] if lines else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=3, help="concurrent-operator trials per variant (default 3)")
    ap.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    args = ap.parse_args(argv)
    only = tuple(x.strip() for x in args.only.split(",") if x.strip())
    if set(only) - set(SCENARIOS):
        ap.error(f"unknown scenario(s) {sorted(set(only) - set(SCENARIOS))}; choose from {', '.join(SCENARIOS)}")

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    with private_twin(progress=say) as twin:
        res = run_all(twin, say=say, concurrent_trials=args.trials, only=only)
    print(markdown(res))
    return 0 if all(x.ok for x in res.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
