"""Read-only preflight: who writes, is the target connected and the same version, lag, capacity.

Planned mode reads both regions; unplanned mode reads only the target region (the source may be gone).
Problems become `Facts.refusals`; the caller turns them into ExitCode.REFUSED before anything changes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict

from botocore.exceptions import BotoCoreError, ClientError

from drctl.aws import autoscaling, rds, route53
from drctl.aws.clients import GLOBAL_REGION
from drctl.aws.errors import error_code, global_path_down, to_drctl_error
from drctl.aws.rds import TRANSITION_STATUSES
from drctl.errors import DrctlError, Unreachable
from drctl.failover import observe
from drctl.failover.observe import Clients
from drctl.failover.plan import (
    DATABASE_ONLY,
    INVERT,
    PLANNED,
    TRAFFIC_ONLY,
    Facts,
    Request,
    facts_flip_calls,
)
from drctl.failover.waiting import NotYet, wait_until
from drctl.models import GlobalCluster
from drctl.stack import HEALTH_CHECK, NO_TRAFFIC, SWITCH, Stack

FIRST_SAMPLE_WAIT_S = 15.0  # Aurora publishes lag every minute on AWS, every second in the lab


@contextlib.contextmanager
def aws_errors(action: str, region: str, req: Request) -> Iterator[None]:
    """AWS errors of the reads inside become one-line typed errors naming the action and its region."""
    try:
        yield
    except (ClientError, BotoCoreError) as e:
        raise _preflight_error(e, action, region, req) from e


def _preflight_error(e: BaseException, action: str, region: str, req: Request) -> DrctlError:
    err = to_drctl_error(e, action=action, region=region)
    if isinstance(err, Unreachable) and req.mode == PLANNED:  # both regions needed: say what to do instead
        err.hint = (
            "a planned switchover needs both regions; if one is down, "
            f"`drctl failover --to {req.to_region} --mode unplanned --allow-data-loss`"
        )
    return err


def read_global(clients: Clients, stack: Stack, region: str) -> GlobalCluster:
    return rds.describe_global_cluster(clients.client("rds", region), stack.global_cluster_id)


def run_preflight(
    clients: Clients, stack: Stack, req: Request, progress: Callable[[str], None] | None = None
) -> Facts:
    facts = Facts()
    source, target = stack.regions[req.from_region], stack.regions[req.to_region]
    planned = req.mode == PLANNED

    gc: GlobalCluster | None = None
    try:
        gc = read_global(clients, stack, target.name)
    except (ClientError, BotoCoreError) as e:
        if planned or not global_path_down(e):
            raise _preflight_error(e, "rds:DescribeGlobalClusters", target.name, req) from e
        facts.global_path_ok = False
        facts.warnings.append(
            f"global cluster not readable in {target.name} ({error_code(e) or type(e).__name__})"
        )

    if req.only == TRAFFIC_ONLY:
        return _traffic_only(clients, stack, req, facts, gc)
    if gc is not None:
        writer = gc.writer
        facts.writer_region = writer.region if writer else None
        split = _split(clients, stack, gc, req)
        if split:
            facts.refusals.append(split)
            return facts
        member = gc.member_in(target.name)
        fs = gc.failover_state
        if (
            writer is not None
            and writer.region == target.name
            and (fs is None or fs.status not in TRANSITION_STATUSES)
        ):
            facts.noop = True
            facts.noop_reason = f"{target.name} ({writer.cluster_id}) already writes; nothing to do"
            # After `--only database` the traffic may still be elsewhere: say how to move just that.
            facts.noop_reason += f" (traffic: `drctl failover --to {target.name} --only traffic` moves it)"
            return facts
        if fs is not None and fs.status in TRANSITION_STATUSES:
            facts.refusals.append(
                f"a global cluster transition is in progress ({fs.status} {fs.from_arn} -> {fs.to_arn})"
            )
        if member is None:
            facts.refusals.append(
                f"{target.cluster_id} is not a member of {stack.global_cluster_id}: after a detach-and-promote "
                "the old primary must be re-added as a secondary (e.g. `drctl deploy`) before failing back"
            )
        else:
            facts.target_sync = member.synchronization_status
            sync = member.synchronization_status
            if planned and sync not in (None, "connected"):
                facts.refusals.append(f"{target.cluster_id} is {sync}, not connected: it cannot take over yet")
            facts.check("target member connected", sync in (None, "connected"), str(sync or "not reported"))

    with aws_errors("rds:DescribeDBClusters", target.name, req):
        target_cluster = rds.describe_cluster(clients.client("rds", target.name), target.cluster_id, target.name)
    facts.engine_versions[target.name] = target_cluster.engine_version
    if planned:
        with aws_errors("rds:DescribeDBClusters", source.name, req):
            source_cluster = rds.describe_cluster(
                clients.client("rds", source.name), source.cluster_id, source.name
            )
        facts.engine_versions[source.name] = source_cluster.engine_version
        same = source_cluster.engine_version == target_cluster.engine_version
        facts.check("engine versions match", same, ", ".join(f"{r} {v}" for r, v in facts.engine_versions.items()))
        if not same:
            facts.refusals.append(
                f"engine versions differ ({source_cluster.engine_version} vs {target_cluster.engine_version})"
            )

    with aws_errors("cloudwatch:GetMetricData", target.name, req):
        _lag(clients, stack, req, facts, progress)
    _tier_warnings(clients, stack, req, facts)
    if req.only == DATABASE_ONLY:
        facts.warnings.append(traffic_stays_warning(req))
        with aws_errors("rds:DescribeDBClusterSnapshots", target.name, req):
            facts.snapshots_to_keep = observe.unplanned_failover_snapshots(clients, target.name, target.cluster_id)
        return facts
    _capacity(clients, stack, req, facts)
    _flip_state(clients, stack, req, facts)
    if planned:
        with aws_errors("rds:DescribeDBClusterSnapshots", target.name, req):
            facts.snapshots_to_keep = observe.unplanned_failover_snapshots(clients, target.name, target.cluster_id)
    return facts


def traffic_stays_warning(req: Request) -> str:
    """What `--only database` leaves: users still reach the source region, whose cluster becomes a secondary."""
    s, t = req.from_region, req.to_region
    return (
        f"--only database: traffic still goes to {s}. Once {t} writes, {s}'s cluster is a read-only secondary: "
        f"the application in {s} writes only if it reaches the writer in {t} (e.g. through the global writer "
        f"endpoint), each write crossing regions; writes sent to {s}'s cluster endpoint fail. "
        f"Move the traffic with `drctl failover --to {t} --only traffic`"
    )


def _flip_state(clients: Clients, stack: Stack, req: Request, facts: Facts) -> None:
    """What the flip needs to know: is the target's switch thrown; the Route53 checks for --flip-method invert;
    for a traffic-only move, is the source's switch thrown already."""
    source, target = stack.regions[req.from_region], stack.regions[req.to_region]
    if req.mode == PLANNED and stack.traffic_method == SWITCH:
        with aws_errors("cloudwatch:DescribeAlarms", target.switch_alarm_region, req):
            state = observe.alarm_state(clients, target.switch_alarm_region, target.switch_alarm_name)
        facts.target_drained = state == "ALARM"
        if req.flip_method == INVERT:  # the fallback flips through the Route53 control plane anyway
            with aws_errors("route53:GetHealthCheck", GLOBAL_REGION, req):
                r53 = clients.client("route53", GLOBAL_REGION)
                check = route53.get_health_check(r53, target.health_check_id)
                facts.target_inverted = check.inverted
                facts.target_children = len(check.children)
                facts.target_held_out = (check.health_threshold or 0) > len(check.children)
    switch = req.flip_method != INVERT and stack.traffic_method == SWITCH
    if req.only == TRAFFIC_ONLY and switch and source.role == "primary":
        # The source's switch lives in the target's region (readable in both modes).
        with aws_errors("cloudwatch:DescribeAlarms", source.switch_alarm_region, req):
            state = observe.alarm_state(clients, source.switch_alarm_region, source.switch_alarm_name)
        facts.source_drained = state == "ALARM"


def _traffic_only(clients: Clients, stack: Stack, req: Request, facts: Facts, gc: GlobalCluster | None) -> Facts:
    """`--only traffic`: no promotion, so no lag, version or membership checks; the guard is that the target's
    database writes (refused otherwise, unless --force-traffic), then capacity and the switches as a full run."""
    target = stack.regions[req.to_region]
    if gc is not None:
        facts.writer_region = gc.writer.region if gc.writer else None
        split = _split(clients, stack, gc, req)
        if split:
            facts.refusals.append(split)
            return facts
        fs = gc.failover_state
        moving = fs.status if fs is not None and fs.status in TRANSITION_STATUSES else None
        facts.target_writes = facts.writer_region == target.name and moving is None
        detail = (
            f"a global cluster transition is in progress ({moving})"
            if moving
            else f"{facts.writer_region or 'no region'} writes (DescribeGlobalClusters in {target.name})"
        )
    else:
        detail = f"global cluster not readable in {target.name}"
    facts.check("target database writes", facts.target_writes, detail)
    if not facts.target_writes:
        why = f"{target.name}'s database does not write ({detail})"
        if req.force_traffic:
            facts.warnings.append(
                f"--force-traffic: sending traffic to {target.name} although {why}: the application there "
                "fails its writes unless it reaches the writer in another region"
            )
        else:
            facts.refusals.append(
                f"{why}: its application's writes would fail; promote it first "
                f"(`drctl failover --to {target.name} --only database`), or pass --force-traffic"
            )
    _tier_warnings(clients, stack, req, facts)
    _capacity(clients, stack, req, facts)
    _flip_state(clients, stack, req, facts)
    if not facts.refusals and not facts_flip_calls(stack, req, facts):
        _nothing_to_flip(stack, req, facts)
    return facts


def _nothing_to_flip(stack: Stack, req: Request, facts: Facts) -> None:
    """No flip call is needed: a no-op when the switches were read, a refusal when the one that matters could
    not be (unplanned mode does not call the region where the target's switch lives)."""
    source, target = stack.regions[req.from_region], stack.regions[req.to_region]
    if stack.traffic_method == HEALTH_CHECK:
        if facts.records:  # else not read (unplanned, Route53 down): the flip step reads them again
            facts.noop = True
            facts.noop_reason = (
                f"traffic already goes to {target.name}: its failover record is PRIMARY "
                "(ListResourceRecordSets); nothing to flip"
            )
        return
    if facts.target_drained is None and source.role != "primary":
        facts.refusals.append(
            f"{target.name}'s switch lives in {target.switch_alarm_region}, which unplanned mode does not call: "
            f"drctl cannot tell whether {target.name} is drained, nor un-drain it; "
            f"use --mode planned once {target.switch_alarm_region} answers"
        )
        return
    said = []
    if facts.source_drained:
        said.append(f"{source.name}'s switch is thrown")
    if facts.target_drained is False:
        said.append(f"{target.name}'s switch is not thrown")
    elif facts.target_drained is None:
        said.append(f"{target.name}'s switch was not read (unplanned mode)")
    facts.noop = True
    facts.noop_reason = f"traffic already goes to {target.name}: {', '.join(said)}; nothing to flip"


def _split(clients: Clients, stack: Stack, gc: GlobalCluster, req: Request) -> str:
    """A stack cluster outside the global database that writes on its own (what RemoveFromGlobalCluster leaves:
    RDS API reference) means two writers. No failover or failback is safe; the way back is `drctl rejoin`.
    Unplanned mode asks only the target region (the source may be gone); a region that does not answer cannot
    be judged here (status shows the split when it answers)."""
    names = stack.region_names if req.mode == PLANNED else (req.to_region,)
    for region in (stack.regions[n] for n in names):
        if gc.member_in(region.name) is not None:
            continue
        try:
            cluster = rds.describe_cluster(clients.client("rds", region.name), region.cluster_id, region.name)
        except (ClientError, BotoCoreError):
            continue
        if cluster.standalone_writer:
            where = (
                f"{gc.writer.region} is still the global writer"
                if gc.writer
                else "the global database has no writer"
            )
            return (
                f"split: {region.cluster_id} in {region.name} writes outside {stack.global_cluster_id} while "
                f"{where}; re-form the global database with `drctl rejoin --writer {region.name}`"
            )
    return ""


def _lag(
    clients: Clients, stack: Stack, req: Request, facts: Facts, progress: Callable[[str], None] | None
) -> None:
    target = stack.regions[req.to_region]
    source_region = facts.writer_region or req.from_region  # the writer's region is the SourceRegion dimension
    reading = observe.lag_reading(clients, target.cluster_id, target.name, source_region)
    if reading is None and req.mode == PLANNED:
        # Right after a switchover the new secondary has not published its first lag datapoint yet.
        def first_sample() -> observe.LagReading:
            got = observe.lag_reading(clients, target.cluster_id, target.name, source_region)
            if got is None:
                raise NotYet(f"no lag sample for {target.cluster_id} yet")
            return got

        with contextlib.suppress(DrctlError):
            reading = wait_until(
                f"a first replication-lag sample for {target.cluster_id}",
                first_sample,
                deadline_s=FIRST_SAMPLE_WAIT_S,
                progress=progress,
            )
    facts.lag = asdict(reading) if reading else None
    bound = stack.objectives.max_switchover_lag_ms
    if req.mode != PLANNED:
        facts.check("replication lag (RPO at risk)", None, f"{reading.value_ms:g} ms" if reading else "no sample")
        return
    if reading is None:
        detail = observe.no_lag_sample(source_region)
        ok = False
    else:
        ok = reading.value_ms <= bound
        detail = (
            f"{reading.metric} {reading.value_ms:g} ms at {reading.timestamp}, {reading.age_s:.0f} s old"
            f" (bound {bound:g} ms)"
        )
    facts.check("replication lag within bound", ok, detail)
    if not ok:
        if req.force:
            facts.warnings.append(f"--force: proceeding although {detail}")
        else:
            why = "replication lag unknown" if reading is None else "replication lag above the bound"
            facts.refusals.append(f"{why}: {detail} (--force overrides this check only)")


def _tier_warnings(clients: Clients, stack: Stack, req: Request, facts: Facts) -> None:
    """Say what this run will not do for want of a tier; read the records the health-check method swaps."""
    if stack.traffic_method == HEALTH_CHECK and req.moves_traffic:  # --only database reads no records
        facts.warnings.append(
            "traffic method health-check: moving traffic needs Route53's control plane (ChangeResourceRecordSets "
            "in us-east-1), not a data-plane switch"
        )
        try:
            facts.records = route53.read_record_sets(
                clients.client("route53", GLOBAL_REGION), stack.zone_id, stack.record_name
            )
        except (ClientError, BotoCoreError) as e:
            if req.mode == PLANNED:
                raise _preflight_error(e, "route53:ListResourceRecordSets", GLOBAL_REGION, req) from e
            facts.warnings.append(
                f"Route53's control plane did not answer ({error_code(e) or type(e).__name__}): the flip will try "
                "again; until the records are swapped traffic follows the endpoint health checks only"
            )
        names = {r.get("SetIdentifier") for r in facts.records if r.get("Failover")}
        target = stack.regions[req.to_region]
        if facts.records and target.record_set_identifier not in names:
            facts.refusals.append(
                f"no failover record with SetIdentifier {target.record_set_identifier!r} for {stack.record_name} "
                f"in zone {stack.zone_id}: the stack file is out of date (`drctl discover`)"
            )
    elif stack.traffic_method == NO_TRAFFIC:
        facts.warnings.append("traffic method none: drctl promotes the database and does not move traffic")
    if not stack.has("lock table"):
        facts.warnings.append(
            "run lock off: the stack has no lock table, so only this machine's lock file keeps two operators "
            "apart (--without-lock)"
        )


def _capacity(clients: Clients, stack: Stack, req: Request, facts: Facts) -> None:
    source, target = stack.regions[req.from_region], stack.regions[req.to_region]
    if not stack.has("compute"):
        facts.capacity_source = "no compute tier in the stack"
        facts.check("target can take the load", None, "not checked: no compute tier (ALB, ASG) in the stack")
        facts.warnings.append("no compute tier: the target's capacity is neither checked nor scaled")
        return
    with aws_errors("autoscaling:DescribeAutoScalingGroups", target.name, req):
        t = autoscaling.read_asg(clients.client("autoscaling", target.name), target.asg_name, target.name)
    facts.target_desired, facts.target_max = t.desired, t.max_size
    if req.mode == PLANNED:
        with aws_errors("autoscaling:DescribeAutoScalingGroups", source.name, req):
            s = autoscaling.read_asg(clients.client("autoscaling", source.name), source.asg_name, source.name)
        facts.wanted_capacity = max(s.desired, t.desired)
        facts.capacity_source = f"source {source.asg_name} desired {s.desired}"
        ok = t.max_size >= s.desired
        facts.check("target can take the load", ok, f"target max {t.max_size}, source desired {s.desired}")
        if not ok:
            facts.refusals.append(
                f"{target.asg_name} max size {t.max_size} < source desired capacity {s.desired}: "
                "the target cannot take the load"
            )
    else:
        # The source cannot be read in unplanned mode: give the target all it is allowed to have.
        facts.wanted_capacity = max(t.max_size, t.desired)
        facts.capacity_source = f"target {target.asg_name} max size (source not read in unplanned mode)"
        facts.check("target can take the load", t.max_size > 0, f"target max {t.max_size}")
