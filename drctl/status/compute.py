"""Turn raw readings into the status report: health, serving record, RPO exposure, RTO estimate, readiness.

Pure functions over already-read data (no AWS calls), so every rule here is unit-tested.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from drctl.aws.cloudwatch import STANDARD_PERIOD_S
from drctl.journal.phases import RECOVERY_ORDER
from drctl.models import (
    AsgState,
    AuroraLag,
    ClusterState,
    EstimatedPoint,
    GlobalCluster,
    GlobalMember,
    HealthCheck,
    HealthVerdict,
    Observation,
    RecordSet,
    RegionReport,
    S3Backlog,
    StatusReport,
    TargetHealth,
    Term,
    TierGap,
)
from drctl.stack import HEALTH_CHECK, NO_TRAFFIC, Stack
from drctl.status.estimates import CAPACITY_WARMUP_ESTIMATE_S, PROMOTION_ESTIMATE_S
from drctl.status.gather import GLOBAL, DbReading, Readings
from drctl.status.health import calculated_verdict, leaf_verdict, serving_record

# ------------------------------------------------------------------------------------------------ health


def health_verdicts(
    configs: Mapping[str, HealthCheck], observations: Mapping[str, Sequence[Observation] | None]
) -> dict[str, HealthVerdict]:
    """Verdicts for every known check; CALCULATED ones from their children (one level, as Route53 allows)."""
    verdicts: dict[str, HealthVerdict] = {}
    for check_id, check in configs.items():
        if not check.is_calculated:
            verdicts[check_id] = leaf_verdict(check, observations.get(check_id))
    for check_id, check in configs.items():
        if check.is_calculated:
            children = {c: verdicts.get(c) or _unknown(c) for c in check.children}
            verdicts[check_id] = calculated_verdict(check, children)
    return verdicts


def _unknown(check_id: str) -> HealthVerdict:
    return HealthVerdict(check_id, None, "configuration could not be read")


# --------------------------------------------------------------------------------------------- RPO / RTO


def _looked_where(lag: AuroraLag | None) -> str:
    """' under {A} / {B} in the last N minutes' for a lag read that found nothing ('' if none was made)."""
    if lag is None or not lag.dimension_sets:
        return ""
    sets = " / ".join(f"{{{s}}}" for s in lag.dimension_sets)
    return f" under {sets} in the last {lag.lookback_s / 60:g} minutes"


def rpo_terms(lag: AuroraLag | None, s3_backlog: S3Backlog | None) -> tuple[float | None, tuple[Term, ...]]:
    """Data at risk if the writer region were lost now: the database term (AuroraGlobalDBRPOLag, else
    AuroraGlobalDBReplicationLag) is the headline; S3 ReplicationLatency is a separate term for objects."""
    db_s: float | None = None
    source = f"no lag sample for the non-writer member{_looked_where(lag)}"
    if lag is not None:
        sample, metric = lag.rpo_lag_ms, "AuroraGlobalDBRPOLag"
        if sample is None:
            sample, metric = lag.replication_lag_ms, "AuroraGlobalDBReplicationLag"
        if sample is not None:
            db_s = sample.value / 1000.0
            source = f"{metric} of {lag.cluster_id} in {lag.region}, sample {sample.age_s:.0f}s old"
            if lag.found_under:
                source += f" ({{{lag.found_under}}})"
            source += ": an estimate, a lower bound (what the writer committed after the sample is not in it)"
    terms = [Term("database", db_s, source, estimate=db_s is not None)]
    latency = s3_backlog.replication_latency_s if s3_backlog else None
    terms.append(
        Term(
            "s3 objects",
            latency.value if latency else None,
            f"S3 ReplicationLatency, sample {latency.age_s:.0f}s old"
            if latency
            else "no ReplicationLatency sample",
        )
    )
    return db_s, tuple(terms)


# The run's recovery point names, defined once in drctl/journal/phases.py (unpacking fails loudly if they change).
(
    PROMOTION_SENT,
    DB_WRITABLE,
    DATAPOINT_PUT,
    _HEALTH_CHECK_CHANGED,
    RECORDS_CHANGED,
    ALARM_IN_ALARM,
    DNS_ANSWERS,
    CLIENTS_CONVERGE,
    _TARGET_SERVING,
    _APPLICATION_HEALTHY,
) = RECOVERY_ORDER


def rto_terms(
    stack: Stack,
    detection: HealthCheck | None,
    record: RecordSet | None,
    target_asg: AsgState | None,
    writer_asg: AsgState | None,
) -> tuple[float, tuple[Term, ...]]:
    """The estimate as terms (each milestone's step up to the headline): their sum is `estimated_rto_s`."""
    total, terms, _ = rto_estimate(stack, detection, record, target_asg, writer_asg)
    return total, terms


def rto_estimate(
    stack: Stack,
    detection: HealthCheck | None,
    record: RecordSet | None,
    target_asg: AsgState | None,
    writer_asg: AsgState | None,
) -> tuple[float, tuple[Term, ...], tuple[EstimatedPoint, ...]]:
    """Estimated time to recover, as the run's recovery points (drctl/journal/phases.py RECOVERY_ORDER), so
    `drctl status` and a run's report compare name by name. Cumulative from the run's start:

    database writable   + Aurora global promotion, typical (an estimate)
    switch datapoint put  when the database writes and the target has capacity (warm-up: an estimate)
    alarm in ALARM      + the switch alarm's period: 60 s, standard resolution, the only kind a CLOUDWATCH_METRIC
                        check follows (https://docs.aws.amazon.com/Route53/latest/APIReference/API_AlarmIdentifier.html);
                        evaluated when the period with the datapoint closes
    DNS answers target  + RequestInterval x FailureThreshold of the record's health check (Route53 turns it after
                        that many consecutive results: dns-failover-determining-health-of-endpoints.html)
    clients converge    + the record's TTL (a bound: resolvers may keep the old answer that long)

    Traffic method health-check: "failover records changed" (ChangeResourceRecordSets, once the database
    writes) + Route 53's documented propagation (60 s) to "DNS answers target"; method none: the estimate ends at
    "database writable" (drctl moves no traffic).

    The headline (`estimated_rto_s`) is "DNS answers target", as the run's. Not estimated: "health check
    changed" (--flip-method invert only), "target serving" and "application healthy" (probes of the run)."""
    interval = (detection.request_interval_s if detection else None) or stack.health_check_interval_s
    threshold = (detection.failure_threshold if detection else None) or stack.health_check_failure_threshold
    src = "health check" if detection and detection.request_interval_s else "stack file"
    ttl = record.ttl_s if record is not None and record.ttl_s is not None else stack.record_ttl_s
    ttl_src = "failover record" if record is not None and record.ttl_s is not None else "stack file (alias)"
    needs_warmup, why = _warmup_needed(target_asg, writer_asg)
    if not stack.has("compute"):
        needs_warmup, why = False, "no compute tier in the stack: capacity is neither read nor waited for"
    warmup = CAPACITY_WARMUP_ESTIMATE_S if needs_warmup else 0.0
    capacity_wait = max(0.0, warmup - PROMOTION_ESTIMATE_S)  # capacity and promotion run side by side
    steps: list[tuple[str, float, str, bool, bool]] = [
        (PROMOTION_SENT, 0.0, "the run's start (preflight reads take seconds: counted as 0)", False, False),
        (DB_WRITABLE, PROMOTION_ESTIMATE_S, "Aurora global promotion, typical", True, False),
    ]
    # NO_TRAFFIC: drctl moves no traffic, so the estimate ends where the database writes.
    if stack.traffic_method == HEALTH_CHECK:
        steps += [
            (
                RECORDS_CHANGED,
                capacity_wait,
                "ChangeResourceRecordSets through Route 53's control plane (us-east-1) once the database writes"
                + f"; capacity warm-up {warmup:g}s alongside the promotion: {why}",
                needs_warmup,
                False,
            ),
            (
                DNS_ANSWERS,
                ROUTE53_PROPAGATION_S,
                f"Route 53 propagates a record change to its name servers, generally within "
                f"{ROUTE53_PROPAGATION_S:g}s (resource-record-sets-editing.html)",
                True,
                False,
            ),
            _converge(ttl, ttl_src),
        ]
    elif stack.traffic_method != NO_TRAFFIC:
        steps += _switch_steps(
            stack, interval, threshold, src, ttl, ttl_src, warmup, capacity_wait, why, needs_warmup
        )
    points: list[EstimatedPoint] = []
    at = 0.0
    for name, step, source, estimate, bound in steps:
        at += step
        points.append(EstimatedPoint(name, round(at, 3), round(step, 3), source, estimate, bound))
    headline = next((p for p in points if p.name == DNS_ANSWERS), points[1])
    upto = points[: points.index(headline) + 1]
    terms = tuple(Term(p.name, p.step_s, p.source, p.estimate) for p in upto)
    return headline.at_s, terms, tuple(points)


# "Changes generally propagate to all Route 53 name servers within 60 seconds."
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-editing.html
ROUTE53_PROPAGATION_S = 60.0


def _switch_steps(
    stack: Stack,
    interval: int,
    threshold: int,
    src: str,
    ttl: int,
    ttl_src: str,
    warmup: float,
    capacity_wait: float,
    why: str,
    needs_warmup: bool,
) -> list[tuple[str, float, str, bool, bool]]:
    period = float(STANDARD_PERIOD_S)
    return [
        (
            DATAPOINT_PUT,
            capacity_wait,
            f"capacity warm-up {warmup:g}s alongside the promotion: {why}",
            needs_warmup,
            False,
        ),
        (
            ALARM_IN_ALARM,
            period,
            f"the switch alarm's {period:g}s period closes and is evaluated (standard resolution: Route 53 "
            "follows no other)",
            False,
            False,
        ),
        (
            DNS_ANSWERS,
            float(interval * threshold),
            f"Route 53 turns the health check: {interval}s interval x {threshold} failures ({src})",
            False,
            False,
        ),
        _converge(ttl, ttl_src),
    ]


def _converge(ttl: int, ttl_src: str) -> tuple[str, float, str, bool, bool]:
    return (
        CLIENTS_CONVERGE,
        float(ttl),
        f"bound: + TTL {ttl}s ({ttl_src}); resolvers may keep the old answer that long",
        False,
        True,
    )


def _warmup_needed(target: AsgState | None, writer: AsgState | None) -> tuple[bool, str]:
    """Does the target region need to launch instances to carry the writer region's load?"""
    if target is None:
        return True, "target region's Auto Scaling group could not be read"
    if writer is None:
        if target.in_service >= max(target.desired, 1):
            return False, "writer region's capacity unknown; target runs its desired capacity"
        return True, "target region runs below its desired capacity"
    if target.in_service >= max(writer.in_service, 1):
        return (
            False,
            f"target region already runs {target.in_service} instances (writer region {writer.in_service})",
        )
    return True, f"target region runs {target.in_service} instances, writer region {writer.in_service}"


# ----------------------------------------------------------------------------------------------- readiness


def readiness_reasons(
    *,
    stack: Stack,
    gc: GlobalCluster | None,
    target: str | None,
    target_health: HealthVerdict | None,
    lag: AuroraLag | None,
    rpo_exposure_s: float | None,
    estimated_rto_s: float,
    targets: TargetHealth | None,
    target_asg: AsgState | None,
    unreachable: Sequence[str],
) -> list[str]:
    """Why a failover to `target` (the non-writer region) is not safe now; empty when ready."""
    obj = stack.objectives
    reasons = [f"{name} is unreachable" for name in unreachable]
    if gc is None or gc.writer is None:
        return [*reasons, "writer unknown: the global cluster could not be read or has no writer"]
    if gc.writer.region not in stack.regions:
        reasons.append(f"the writer is in {gc.writer.region}, which the stack file does not list")
    if gc.failover_state is not None:
        reasons.append(f"a switchover/failover is in progress ({gc.failover_state.status})")
    member = gc.member_in(target) if target else None
    if target is None or member is None:
        reasons.append("the global cluster has no secondary member")
    elif member.synchronization_status not in (None, "connected"):
        reasons.append(f"secondary {target} is {member.synchronization_status}, not connected")
    if stack.moves_traffic and (target_health is None or target_health.healthy is not True):
        why = target_health.reason if target_health else "not read"
        reasons.append(f"secondary {target} health check is not healthy ({why})")
    sample = lag.replication_lag_ms if lag else None
    if sample is None:
        sample = lag.rpo_lag_ms if lag else None
    if sample is None:
        reasons.append(f"no replication lag sample for the secondary{_looked_where(lag)}")
    elif sample.value > obj.max_switchover_lag_ms:
        reasons.append(f"replication lag {sample.value:.0f} ms > max {obj.max_switchover_lag_ms:.0f} ms")
    if rpo_exposure_s is not None and rpo_exposure_s > obj.rpo_s:
        reasons.append(f"RPO exposure {rpo_exposure_s:g}s > objective {obj.rpo_s:g}s")
    if estimated_rto_s > obj.rto_s:
        reasons.append(f"estimated RTO {estimated_rto_s:g}s > objective {obj.rto_s:g}s")
    if not stack.has("compute"):
        return reasons  # no compute tier: capacity is not checked (status lists the tier as not covered)
    if targets is None:
        reasons.append(f"ALB target health in {target} could not be read")
    elif targets.healthy < 1:
        reasons.append(f"no healthy ALB targets in {target}")
    if target_asg is None:
        reasons.append(f"Auto Scaling group in {target} could not be read")
    elif target_asg.in_service < max(target_asg.desired, 1):
        in_service, desired = target_asg.in_service, target_asg.desired
        reasons.append(f"Auto Scaling group in {target}: {in_service} of {desired} instances in service")
    return reasons


# ------------------------------------------------------------------------------------------------- report


def build_report(stack: Stack, readings: Readings, now: datetime) -> StatusReport:
    names = stack.region_names
    dbs: dict[str, DbReading | None] = {n: readings.value(f"db:{n}") for n in names}
    gc = next((d.global_cluster for d in dbs.values() if d is not None), None)
    writer = gc.writer.region if gc is not None and gc.writer is not None else None
    target = next((n for n in names if n != writer), None) if writer else None

    configs = {k[3:]: v for k, o in readings.outcomes.items() if k.startswith("hc:") and (v := o.value)}
    observations = {k[4:]: o.value for k, o in readings.outcomes.items() if k.startswith("hcs:") and o.ok}
    verdicts = health_verdicts(configs, observations)
    records: list[RecordSet] = readings.value("records") or []
    answer = serving_record(records, verdicts)
    serving_region = _record_region(stack, answer.record)

    route53_down = readings.unreachable(GLOBAL)
    unreachable = [n for n in names if readings.unreachable(n)]

    reports: dict[str, RegionReport] = {}
    for name in names:
        rs = stack.regions[name]
        record = next((r for r in records if _record_region(stack, r) == name), None)
        check_id = (record.health_check_id if record else None) or rs.health_check_id
        config = configs.get(check_id)
        no_health = "no traffic tier in the stack" if not stack.moves_traffic and not check_id else None
        db = dbs[name]
        lag = db.lag if db is not None else None
        member = gc.member_in(name) if gc else None
        why_down = readings.unreachable(name)
        cluster = readings.value(f"cluster:{name}")
        reports[name] = RegionReport(
            name=name,
            deployment_role=rs.role,
            role=_role(member, cluster),
            reachable=not why_down,
            unreachable_reason=why_down[0] if why_down else None,
            member=member,
            cluster=cluster,
            lag=lag,
            health=verdicts.get(check_id)
            or HealthVerdict(
                check_id, None, no_health or ("Route53 did not answer" if route53_down else "not read")
            ),
            health_children=tuple(verdicts[c] for c in (config.children if config else ()) if c in verdicts),
            serving=serving_region == name,
            targets=readings.value(f"targets:{name}"),
            asg=readings.value(f"asg:{name}"),
            replication=readings.value(f"replication:{name}"),
            s3_backlog=readings.value(f"s3_backlog:{name}"),
            backups=readings.value(f"backups:{name}"),
            topic=readings.value(f"topic:{name}"),
            errors=tuple(readings.errors(name)),
            owed_snapshots=tuple(readings.value(f"snapshots:{name}") or ()),
        )

    standalone = tuple(n for n, r in reports.items() if r.role == STANDALONE_WRITER)
    target_r = reports.get(target) if target else None
    writer_r = reports.get(writer) if writer else None
    rpo_s, rpo = rpo_terms(target_r.lag if target_r else None, writer_r.s3_backlog if writer_r else None)
    target_record = next((r for r in records if _record_region(stack, r) == target), None)
    writer_stack = stack.regions.get(writer) if writer else None  # None: AWS's writer is not in the stack file
    detection = (
        configs.get(writer_stack.alb_health_check_id or writer_stack.health_check_id) if writer_stack else None
    )
    rto_s, rto, milestones = rto_estimate(
        stack,
        detection,
        target_record,
        target_r.asg if target_r else None,
        writer_r.asg if writer_r else None,
    )
    reasons = readiness_reasons(
        stack=stack,
        gc=gc,
        target=target,
        target_health=target_r.health if target_r else None,
        lag=target_r.lag if target_r else None,
        rpo_exposure_s=rpo_s,
        estimated_rto_s=rto_s,
        targets=target_r.targets if target_r else None,
        target_asg=target_r.asg if target_r else None,
        unreachable=unreachable + (["Route53"] if route53_down else []),
    )
    reasons = [*_split_reasons(stack, writer, standalone), *reasons]
    return StatusReport(
        stack_name=stack.name,
        generated_at=now,
        global_cluster=gc,
        writer_region=writer,
        regions=reports,
        serving_region=serving_region,
        serving_reason=(
            "Route53 did not answer"
            if route53_down
            else answer.reason
            if stack.zone_id
            else "no [route53] in the stack: records not read"
        ),
        rpo_exposure_s=rpo_s,
        rpo_terms=rpo,
        estimated_rto_s=rto_s,
        rto_terms=rto,
        rpo_objective_s=stack.objectives.rpo_s,
        rto_objective_s=stack.objectives.rto_s,
        max_switchover_lag_ms=stack.objectives.max_switchover_lag_ms,
        ready=not reasons,
        reasons=tuple(reasons),
        warnings=tuple(_warnings(reports, writer, serving_region)),
        route53_reachable=not route53_down,
        standalone_writers=standalone,
        rto_milestones=milestones,
        traffic_method=stack.traffic_method,
        not_covered=tuple(TierGap(t.name, t.will_not, t.cost) for t in stack.missing_tiers()),
    )


STANDALONE_WRITER = "standalone writer"


def _role(member: GlobalMember | None, cluster: ClusterState | None) -> str:
    if member is not None:
        return "writer" if member.is_writer else "secondary"
    if cluster is not None and cluster.standalone_writer:
        return STANDALONE_WRITER
    return "unknown"


def _split_reasons(stack: Stack, writer: str | None, standalone: tuple[str, ...]) -> list[str]:
    """A cluster of the stack that writes outside the global database (after a detach-and-promote) is a split:
    two writers, each believing it is the database. Nothing else is safe until one is retired."""
    out = []
    for region in standalone:
        cluster = stack.regions[region].cluster_id
        others = f"{writer} is still the global writer" if writer else "the global database has no writer"
        out.append(
            f"split: {cluster} in {region} writes outside global database {stack.global_cluster_id} while "
            f"{others}; keep the old writer fenced and re-form with `drctl rejoin --writer {region}`"
        )
    return out


def _record_region(stack: Stack, record: RecordSet | None) -> str | None:
    if record is None:
        return None
    for rs in stack.regions.values():
        if record.set_identifier == rs.record_set_identifier or (
            record.health_check_id and record.health_check_id == rs.health_check_id
        ):
            return rs.name
    return None


def _warnings(reports: Mapping[str, RegionReport], writer: str | None, serving: str | None) -> list[str]:
    out: list[str] = []
    if writer and serving and writer != serving:
        # After a switchover without a traffic flip (or the reverse): the app writes across regions or fails.
        out.append(f"Route53 answers {serving} but the writer is {writer}")
    for r in reports.values():
        if r.replication is not None and (r.replication.rule_status != "Enabled" or not r.replication.rtc_enabled):
            out.append(f"S3 replication of {r.replication.bucket} is not enabled with RTC")
        if r.topic is not None and not r.topic.exists:
            out.append(f"SNS topic {r.topic.arn} does not exist")
        for snap in r.owed_snapshots:
            out.append(
                f"{r.name}: unplanned-failover snapshot {snap} is kept only for the cluster's backup retention; "
                "keep it with `drctl keep-snapshots`"
            )
        out.extend(f"{r.name}: {e}" for e in r.errors)
    return out
