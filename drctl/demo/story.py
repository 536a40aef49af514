"""`drctl lab demo`: the whole product on the offline twin, narrated, from nothing to failback.

Twin up → stack deployed into it → status → injected lag and a us-east-1 outage (Route53 control plane too) →
unplanned failover to us-west-2 → status → region restored and re-synced → planned failback → both reports.
The failovers are the real thing (drctl.failover.runner against the lab endpoints); only AWS is simulated.
The measured RTO and RPO are returned beside the twin's own truth (injected lag, wall clock) to compare.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drctl.aws.clients import ClientFactory
from drctl.canary.check import outage_text, rpo_text
from drctl.canary.failover import FailoverCanary
from drctl.demo.stack import deploy_stack, reusable, start_from_nothing
from drctl.errors import DrctlError, ExitCode
from drctl.failover import observe, runner
from drctl.failover.plan import PLANNED, UNPLANNED, Request
from drctl.journal.log import Journal
from drctl.lab.control import LabControl
from drctl.lab.runtime import LabInfo, lab_down, lab_up
from drctl.models import GlobalMember
from drctl.report import write_reports
from drctl.stack import Stack

# The demo's lab runs AWS's durations at 1/20: a 60 s alarm period takes 3 s.
DEMO_TIME_SCALE = 0.05

OUTAGE_LAG_MS = 2500.0  # replication lag when the region fails: the data the unplanned failover loses (RPO)
RESYNC_LAG_MS = 200.0  # after re-sync: under the switchover bound, so the planned failback is allowed
# AWS: minutes (the lab's defaults); the demo runs on seconds
DURATIONS = {"switchover_s": 2.0, "failover_s": 2.0, "promote_s": 2.0, "warmup_s": 1.0, "resync_s": 2.0}
SIGNAL_WAIT_S = 20.0  # the lab publishes its signals every second; give a loaded machine some slack
# Aurora's lag metrics are standard resolution: drctl reads them at 60 s periods (the newest minute's Maximum),
# as on AWS, so a changed lag shows once the minute that still holds the old value has passed.
LAG_WAIT_S = 80.0
STATUS_TIMEOUT_S = 4.0
MEASURED_LAG_TOLERANCE_MS = 50.0  # a measured lag is the WAL delay plus the time to write, send and apply
# With the canary on, the region fails this long into the unplanned run: the canary has written longer than the
# WAL delay, so what it loses is the whole delayed window.
OUTAGE_AFTER_S = OUTAGE_LAG_MS / 1000 + 1.0
STEPS = 9

Say = Callable[[str], None]
Show = Callable[[Any], None]  # prints a rich renderable (status screens) for people


@dataclass
class DemoRun:
    """One failover of the demo, measured by drctl and by the demo's own clock, with the twin's truth."""

    run_id: str
    mode: str
    from_region: str
    to_region: str
    outcome: str
    rto_s: float | None
    rpo_s: float | None
    rpo_source: str
    wall_s: float  # wall clock from the demo's call to the journal's finish record: what RTO is compared with
    call_s: float  # the demo's clock until the call returned (also the lock release and the reports)
    lab_lag_ms: float  # the lag the twin was publishing when the failover started: the truth RPO is compared with
    reports: dict[str, str] = field(default_factory=dict)
    # The canary's ground truth (drctl/canary), when the lab runs databases: acknowledged transactions lost
    # and the write outage, measured (CheckResult.to_dict()).
    canary: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoResult:
    lab: bool
    home: str
    stack: str
    deployed_by: str
    runs: list[DemoRun]
    duration_s: float
    kept: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_demo(
    home: Path, *, keep: bool, say: Say, show: Show | None = None, ports: dict[str, int] | None = None
) -> DemoResult:
    """Run the demo under drctl home `home`; the lab goes down at the end (also on error/Ctrl-C) unless `keep`."""
    started = time.monotonic()
    try:
        say(f"lab [1/{STEPS}] starting the twin: an AWS emulator behind drctl's lab gateway, on 127.0.0.1 only.")
        info = lab_up(home, ports=ports, progress=say, time_scale=DEMO_TIME_SCALE)
        control = LabControl(info.admin_url)
        _clear_injections(control, info)
        say(
            f"lab [2/{STEPS}] deploying the project's terraform/ into the twin (Aurora global database, ALB + "
            "ASG, Route53 failover records and health checks, switch alarms, S3 replication, lock tables)."
        )
        if reusable(home, info, _healthy) is not None:
            say("      the stack the last demo left is healthy: re-applying terraform/ (expect no changes).")
        else:
            say("      starting from nothing: the twin is reset.")
            start_from_nothing(home, control)
            _clear_injections(control, info)
        stack, stack_path, deployed_by = deploy_stack(info, home, say)
        say(f"      stack file: {stack_path}")
        clients = ClientFactory(stack.aws)
        primary, secondary = (r.name for r in (stack.primary, stack.secondary))
        databases = bool(info.databases)
        control.set_lag(RESYNC_LAG_MS)
        _wait_for_lag(clients, stack, secondary, RESYNC_LAG_MS, measured=databases)
        _status(stack, f"lab [3/{STEPS}] status before the incident: {primary} writes and serves.", say, show)

        if databases:
            say(
                f"lab [4/{STEPS}] delaying the WAL stream to {secondary} by {OUTAGE_LAG_MS:g} ms (lab): real "
                "replication lag, the data at risk, the RPO."
            )
        else:
            say(
                f"lab [4/{STEPS}] injecting {OUTAGE_LAG_MS:g} ms replication lag (lab): the data at risk, the RPO."
            )
        control.set_lag(OUTAGE_LAG_MS)
        _wait_for_lag(clients, stack, secondary, OUTAGE_LAG_MS, measured=databases)

        def region_fails() -> None:
            say(
                f"      lab outage: {primary} and the global endpoint (Route53 control plane) now refuse "
                "connections, databases included."
            )
            control.outage(primary, route53=True)

        if not stack.canary.on_failover:
            region_fails()
        say(f"lab [5/{STEPS}] unplanned failover to {secondary}: only {secondary} is called; data loss accepted.")
        out = _failover(stack, stack_path, control, secondary, UNPLANNED, say, region_fails)
        _status(
            stack,
            f"lab [6/{STEPS}] status during the outage: {primary} unreachable, {secondary} writes.",
            say,
            show,
        )

        say(f"lab [7/{STEPS}] restoring {primary} (lab) and re-syncing it as a secondary of the global database.")
        control.restore(primary)
        _resync(clients, stack, primary, say)
        control.set_lag(RESYNC_LAG_MS)
        _wait_for_lag(clients, stack, primary, RESYNC_LAG_MS, measured=databases)

        say(f"lab [8/{STEPS}] planned failback to {primary}: a lossless switchover, guarded by the lag bound.")
        back = _failover(stack, stack_path, control, primary, PLANNED, say)
        _status(stack, f"lab [9/{STEPS}] status after failback: {primary} writes and serves again.", say, show)
        return DemoResult(True, str(home), str(stack_path), deployed_by, [out, back], _since(started), keep)
    finally:
        if not keep:
            say("lab: taking the twin down (keep it for exploring with `drctl lab demo --keep`).")
            lab_down(home)


def _since(t: float) -> float:
    return round(time.monotonic() - t, 3)


def _clear_injections(control: LabControl, info: LabInfo) -> None:
    """No outage, fault, latency or application fault left from an earlier session; demo durations and lag."""
    control.restore()
    control.set_faults()
    control.set_latency(0)
    for region in info.regions:
        control.set_app_fault(region, failing=False)
    control.set_durations(**DURATIONS)
    control.set_lag(RESYNC_LAG_MS)


def _healthy(stack: Stack) -> bool:
    """The topology a demo leaves: the deployment's primary writing and serving, no split. Not `ready`: the
    lag the last demo injected stays in CloudWatch's per-minute datapoint for up to a minute (as on AWS), and
    the demo waits for its own lag before each failover anyway."""
    from drctl.status import collect_status

    report = collect_status(stack, timeout_s=STATUS_TIMEOUT_S)
    primary = stack.primary.name
    return report.writer_region == primary and report.serving_region == primary and not report.standalone_writers


def _wait_for_lag(clients: ClientFactory, stack: Stack, secondary: str, ms: float, *, measured: bool) -> None:
    """Until the lab's published lag for the secondary's cluster reads `ms` (CloudWatch has the new value);
    `measured`: the lab's databases measure it from real replication, a little above the WAL stream's delay."""
    tolerance = MEASURED_LAG_TOLERANCE_MS + ms * 0.05 if measured else 1.0
    member = stack.regions[secondary]
    deadline = time.monotonic() + LAG_WAIT_S
    seen = None
    while time.monotonic() < deadline:
        reading = observe.lag_reading(clients, member.cluster_id, secondary, stack.other(secondary).name)
        seen = reading.value_ms if reading else None
        if seen is not None and abs(seen - ms) < tolerance:
            return
        time.sleep(0.5)
    raise DrctlError(
        f"the lab did not publish {ms:g} ms lag for {member.cluster_id} within {LAG_WAIT_S:g} s (last: {seen})",
        code=ExitCode.LAB,
        hint="check `drctl lab status`; the lab's log is under the lab folder",
    )


def _status(stack: Stack, title: str, say: Say, show: Show | None) -> None:
    say(title)
    if show is None:
        return
    from drctl.render.status_screen import render_screen
    from drctl.status import collect_status

    show(render_screen(collect_status(stack, timeout_s=STATUS_TIMEOUT_S)))


def _failover(
    stack: Stack,
    stack_path: Path,
    control: LabControl,
    to: str,
    mode: str,
    say: Say,
    region_fails: Callable[[], None] | None = None,
) -> DemoRun:
    """One failover through drctl's runner; with the stack's canary on (the lab's databases), the canary writes
    for the whole run and `region_fails` is called OUTAGE_AFTER_S into it, while the canary writes."""
    req = Request(to_region=to, from_region=stack.other(to).name, mode=mode, stack_path=str(stack_path))
    truth = float(control.health()["signals"]["profile"]["lag_ms"])
    canary = FailoverCanary.prepare(stack) if stack.canary.on_failover else None

    def on_journal(journal: Journal) -> None:
        assert canary is not None
        canary.start(journal)
        say(f"      canary: writing to {', '.join(map(str, canary.endpoints))} at {canary.rate:g}/s")
        if region_fails is not None:
            time.sleep(OUTAGE_AFTER_S)
            region_fails()

    t0, t0_wall = time.monotonic(), time.time()
    try:
        report = runner.start(
            stack,
            req,
            progress=lambda m: say(f"      {m}"),
            confirm=None,
            started=t0,
            on_journal=on_journal if canary is not None else None,
        )
    except BaseException:
        if canary is not None and canary.writer is not None:  # no writer left behind
            canary.writer.stop()
            canary.writer.close()
        raise
    if canary is not None and report.journal:
        report.canary = canary.finish(report.journal)
    call = _since(t0)
    wall = round(_finished_at(Path(report.journal)) - t0_wall, 3)
    if report.outcome != "completed":
        raise DrctlError(
            f"the demo's {mode} failover ended {report.outcome}: {report.message}",
            code=ExitCode.INTERRUPTED if report.outcome == "interrupted" else ExitCode.FAILED,
            hint=f"see `drctl report {report.run_id}`",
        )
    paths = write_reports(Path(report.journal).parent)
    rpo = report.rpo.get("rpo_s")
    say(
        f"      {mode} failover {report.from_region} → {report.to_region} completed: RTO {report.rto_s:.2f} s "
        f"(wall clock {wall:.2f} s), RPO {'unknown' if rpo is None else f'{rpo:g} s'} "
        f"(lab lag was {truth:g} ms) — {report.rpo.get('source', '')}"
    )
    if report.canary:
        say(f"      ground truth, beside the estimate: {rpo_text(report.canary)}; {outage_text(report.canary)}")
    return DemoRun(
        run_id=report.run_id,
        mode=mode,
        from_region=report.from_region,
        to_region=report.to_region,
        outcome=report.outcome,
        rto_s=report.rto_s,
        rpo_s=None if rpo is None else float(rpo),
        rpo_source=str(report.rpo.get("source", "")),
        wall_s=wall,
        call_s=call,
        lab_lag_ms=truth,
        reports={k: str(v) for k, v in paths.items()},
        canary=report.canary,
    )


def _finished_at(journal: Path) -> float:
    """The wall-clock time (epoch seconds) of the run's finish record: when the failover was over."""
    from drctl.journal.log import RunLog

    finish = RunLog.read(journal).finished
    if finish is None:
        raise DrctlError(f"{journal}: the run has no finish record", code=ExitCode.FAILED)
    return finish.at.timestamp()


def _resync(clients: ClientFactory, stack: Stack, old_primary: str, say: Say) -> None:
    """Bring the old primary back as a connected secondary (what AWS does after a managed failover; after a
    detach-and-promote it has to be re-created as a new secondary, which the lab does here)."""
    region = stack.regions[old_primary]
    member = _member(clients, stack, old_primary)
    if member is None:
        _readd_secondary(clients.client("rds", old_primary), stack, old_primary)
        say(f"      {region.cluster_id} was detached: re-created as a secondary of {stack.global_cluster_id}.")
    elif member.is_writer:
        raise DrctlError(f"{region.cluster_id} still writes after the failover", code=ExitCode.FAILED)
    else:
        say(
            f"      {region.cluster_id} is already a member of {stack.global_cluster_id} "
            f"({member.synchronization_status or 'connected'}), not writer: nothing to re-add."
        )
    deadline = time.monotonic() + SIGNAL_WAIT_S
    while time.monotonic() < deadline:
        member = _member(clients, stack, old_primary)
        if member is not None and member.synchronization_status in (None, "connected"):
            return
        time.sleep(0.5)
    raise DrctlError(
        f"{region.cluster_id} is not a connected secondary after {SIGNAL_WAIT_S:g} s", code=ExitCode.LAB
    )


def _member(clients: ClientFactory, stack: Stack, region: str) -> GlobalMember | None:
    from drctl.aws import rds

    return rds.describe_global_cluster(clients.client("rds", region), stack.global_cluster_id).member_in(region)


def _readd_secondary(rds_client: Any, stack: Stack, region_name: str) -> None:
    """Lab only: replace a detached cluster by a new secondary with the same name (Terraform would on AWS)."""
    region = stack.regions[region_name]
    cluster = rds_client.describe_db_clusters(DBClusterIdentifier=region.cluster_id)["DBClusters"][0]
    for m in cluster.get("DBClusterMembers", []):
        rds_client.delete_db_instance(DBInstanceIdentifier=m["DBInstanceIdentifier"], SkipFinalSnapshot=True)
    rds_client.delete_db_cluster(DBClusterIdentifier=region.cluster_id, SkipFinalSnapshot=True)
    rds_client.create_db_cluster(
        DBClusterIdentifier=region.cluster_id,
        Engine=cluster["Engine"],
        EngineVersion=cluster["EngineVersion"],
        GlobalClusterIdentifier=stack.global_cluster_id,
        StorageEncrypted=True,
        KmsKeyId=region.kms_key_arn or cluster.get("KmsKeyId", ""),
    )
    rds_client.create_db_instance(
        DBInstanceIdentifier=f"{region.cluster_id}-1",
        DBClusterIdentifier=region.cluster_id,
        Engine=cluster["Engine"],
        DBInstanceClass="db.r6g.large",
    )
