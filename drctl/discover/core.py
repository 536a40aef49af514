"""Read a deployment from AWS into a stack mapping (parse_stack's shape): what was found, what was not and what
that costs. Reads only; every call is in drctl/aws. A read that fails for want of permission or because a
service does not answer leaves its tier out and says so — only the global database must be readable.

What is linked to what (nothing is guessed from names alone):
  global cluster  -> members (region, cluster ARN: DescribeGlobalClusters) -> KMS key (DescribeDBClusters)
  record name     -> failover records -> the load balancer each answers with (alias target or CNAME value =
                     an ALB's DNSName in a stack region) and its health check (GetHealthCheck: an endpoint check,
                     or a CALCULATED one whose CLOUDWATCH_METRIC child is a switch alarm)
  load balancer   -> its one target group -> the one Auto Scaling group registering into it
  buckets         -> a replication rule from a bucket in the writer's region to one in the other region
  backup vaults   -> the one vault per region besides AWS's Default
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from drctl.aws import autoscaling, backup, elbv2, kms, rds, route53, s3
from drctl.aws.clients import GLOBAL_REGION
from drctl.aws.errors import error_code, is_not_found, to_drctl_error
from drctl.errors import ConfigError
from drctl.models import GlobalCluster, HealthCheck
from drctl.stack import HEALTH_CHECK, NO_TRAFFIC, SWITCH, TIERS, TRAFFIC_COST, TRAFFIC_KEYS

ENDPOINT_TYPES = ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP")
MAX_BUCKETS = 200  # buckets examined for a replication pair (each costs two reads)
T = TypeVar("T")


class Clients(Protocol):
    def client(self, service: str, region: str) -> Any: ...


@dataclass
class Discovery:
    """The stack mapping and the account of how it was found."""

    stack: dict[str, Any]
    traffic_method: str = NO_TRAFFIC
    found: list[str] = field(default_factory=list)
    not_found: list[dict[str, str]] = field(default_factory=list)  # {"what", "cost"}

    def missing(self, what: str, cost: str) -> None:
        self.not_found.append({"what": what, "cost": cost})

    def to_json(self, path: str) -> dict[str, Any]:
        return {
            "stack_file": path,
            "name": self.stack.get("name"),
            "traffic_method": self.traffic_method,
            "regions": {n: r.get("role") for n, r in self.stack.get("regions", {}).items()},
            "found": self.found,
            "not_found": self.not_found,
        }


class _Unread(Exception):
    """A read that did not answer usefully: its tier is left out, with the reason."""


def _read(what: str, fn: Callable[..., T], *args: Any) -> T:
    try:
        return fn(*args)
    except (ClientError, BotoCoreError) as e:
        raise _Unread(f"{what}: {error_code(e) or type(e).__name__}") from e


def _bare(name: str) -> str:
    name = name.lower().rstrip(".")
    return name.removeprefix("dualstack.")


def _tier_cost(name: str) -> str:
    tier = next(t for t in TIERS if t.name == name)
    return f"drctl will not {tier.will_not}; {tier.cost}"


def discover(
    clients: Clients,
    *,
    name: str,
    global_cluster_id: str,
    start_region: str,
    zone_id: str = "",
    record_name: str = "",
) -> Discovery:
    """Read the deployment around `global_cluster_id` (and the failover records of `record_name`)."""
    d = Discovery(stack={"name": name})
    gc = _global_cluster(clients, global_cluster_id, start_region)
    regions = _database(clients, gc, d)
    d.stack["database"] = {"global_cluster_id": global_cluster_id, "engine_version": gc.engine_version}
    albs = _load_balancers(clients, regions, d)
    if zone_id:
        _traffic(clients, d, regions, albs, zone_id, record_name)
    else:
        d.missing(
            "traffic: no --zone-id/--record-name given",
            f"drctl will not {TRAFFIC_COST[NO_TRAFFIC][0]}; {TRAFFIC_COST[NO_TRAFFIC][1]}",
        )
    d.stack["traffic"] = {"method": d.traffic_method}
    _compute(clients, d, regions, albs)
    _replication(clients, d, regions)
    _backups(clients, d, regions)
    d.missing(
        "notifications: SNS topics are not linked to the database or the records", _tier_cost("notifications")
    )
    d.missing("lock table: drctl's own DynamoDB table, not part of the deployment", _tier_cost("lock table"))
    d.stack["regions"] = regions
    return d


# ---------------------------------------------------------------------------------------------- database


def _global_cluster(clients: Clients, global_cluster_id: str, region: str) -> GlobalCluster:
    try:
        return rds.describe_global_cluster(clients.client("rds", region), global_cluster_id)
    except (ClientError, BotoCoreError) as e:
        if is_not_found(e):
            raise ConfigError(
                f"global cluster {global_cluster_id!r} not found (DescribeGlobalClusters in {region})",
                hint="check --global-cluster and --region",
            ) from e
        raise to_drctl_error(e, action="rds:DescribeGlobalClusters", region=region) from e


def _database(clients: Clients, gc: GlobalCluster, d: Discovery) -> dict[str, dict[str, Any]]:
    writer = gc.writer
    if writer is None:
        raise ConfigError(f"global cluster {gc.identifier} has no writer member", hint="nothing was written")
    secondaries = [m for m in gc.members if not m.is_writer]
    if not secondaries:
        raise ConfigError(
            f"global cluster {gc.identifier} has no secondary region: there is nothing to fail over to",
            hint="nothing was written",
        )
    connected = [m for m in secondaries if m.synchronization_status in (None, "connected")]
    secondary = (connected or secondaries)[0]
    for extra in (m for m in secondaries if m is not secondary):
        d.missing(
            f"database: secondary {extra.cluster_id} in {extra.region} (drctl operates two regions)",
            f"drctl will not fail over to {extra.region}; status does not show it",
        )
    regions: dict[str, dict[str, Any]] = {}
    for member, role in ((writer, "primary"), (secondary, "secondary")):
        region: dict[str, Any] = {"role": role, "cluster_id": member.cluster_id, "cluster_arn": member.cluster_arn}
        try:
            config = _read(
                f"DescribeDBClusters {member.cluster_id}",
                rds.cluster_config,
                clients.client("rds", member.region),
                member.cluster_id,
            )
        except _Unread as e:
            d.missing(f"KMS key of {member.cluster_id} ({e})", "drctl rejoin cannot re-add this region by itself")
            config = {}
        key = config.get("kms_key_id") or ""
        where = "writer" if member.is_writer else f"secondary, {member.synchronization_status or 'connected'}"
        d.found.append(f"database: {member.cluster_id} in {member.region} ({where}), deployment role {role}")
        if key:
            region["kms_key_arn"] = key
            try:
                state = _read("DescribeKey", kms.key_state, clients.client("kms", member.region), key)
                d.found.append(f"KMS key {key} ({state}) encrypts {member.cluster_id}")
            except _Unread as e:
                d.found.append(f"KMS key {key} encrypts {member.cluster_id} (state not read: {e})")
        regions[member.region] = region
    return regions


# ------------------------------------------------------------------------------------------------ traffic


def _load_balancers(
    clients: Clients, regions: dict[str, Any], d: Discovery
) -> dict[str, tuple[str, dict[str, Any]]]:
    """DNS name -> (region, load balancer) for every load balancer of the stack's regions."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for region in regions:
        try:
            lbs = _read(
                f"DescribeLoadBalancers in {region}", elbv2.list_load_balancers, clients.client("elbv2", region)
            )
        except _Unread as e:
            d.missing(f"load balancers ({e})", _tier_cost("compute"))
            continue
        for lb in lbs:
            out[_bare(str(lb.get("DNSName", "")))] = (region, lb)
    return out


def _record_region(
    raw: dict[str, Any], regions: dict[str, Any], albs: dict[str, tuple[str, dict[str, Any]]]
) -> str | None:
    alias = raw.get("AliasTarget") or {}
    values = [str(v.get("Value", "")) for v in raw.get("ResourceRecords", [])]
    target = _bare(str(alias.get("DNSName", "")) or (values[0] if values else ""))
    if target in albs:
        return albs[target][0]
    return next((r for r in regions if f".{r}." in f".{target}."), None)


def _traffic(
    clients: Clients,
    d: Discovery,
    regions: dict[str, dict[str, Any]],
    albs: dict[str, tuple[str, dict[str, Any]]],
    zone_id: str,
    record_name: str,
) -> None:
    r53 = clients.client("route53", GLOBAL_REGION)
    try:
        raw_records = _read("ListResourceRecordSets", route53.read_record_sets, r53, zone_id, record_name)
    except _Unread as e:
        d.missing(f"traffic: records of {record_name} ({e})", f"drctl will not {TRAFFIC_COST[NO_TRAFFIC][0]}")
        return
    route53_table: dict[str, Any] = {"zone_id": zone_id, "record_name": record_name.rstrip(".")}
    failover = [r for r in raw_records if r.get("Failover") and r.get("SetIdentifier")]
    if not failover:
        d.missing(
            f"traffic: no failover records named {record_name} in zone {zone_id}",
            f"drctl will not {TRAFFIC_COST[NO_TRAFFIC][0]}; {TRAFFIC_COST[NO_TRAFFIC][1]}",
        )
        d.stack["route53"] = route53_table
        return
    switch_ready, checked = set(), set()
    for raw in failover:
        region = _record_region(raw, regions, albs)
        if region is None or region not in regions:
            d.missing(
                f"traffic: record {raw['SetIdentifier']!r} ({raw['Failover']}) answers no load balancer of "
                f"{', '.join(regions)}",
                "that record is not in the stack",
            )
            continue
        r = regions[region]
        r["record_set_identifier"] = raw["SetIdentifier"]
        target = (raw.get("AliasTarget") or {}).get("DNSName") or next(
            (v.get("Value") for v in raw.get("ResourceRecords", [])), ""
        )
        d.found.append(f"record {raw['SetIdentifier']!r} ({raw['Failover']}) -> {target} in {region}")
        if raw.get("TTL") is not None:
            route53_table["ttl_s"] = int(raw["TTL"])
        if target and _bare(str(target)) in albs:
            r["_alb"] = albs[_bare(str(target))][1]
        check_id = raw.get("HealthCheckId")
        if not check_id:
            d.missing(
                f"traffic: record {raw['SetIdentifier']!r} has no health check", "Route53 never fails it over"
            )
            continue
        try:
            check = _read(f"GetHealthCheck {check_id}", route53.get_health_check, r53, check_id)
        except _Unread as e:
            d.missing(
                f"traffic: health check of record {raw['SetIdentifier']!r} ({e})",
                "its region is not in the traffic tier",
            )
            continue
        r["health_check_id"] = check.id
        checked.add(region)
        if _classify(r53, d, r, check, albs, route53_table):
            switch_ready.add(region)
    d.stack["route53"] = route53_table
    if switch_ready == set(regions):
        d.traffic_method = SWITCH
        d.found.append("traffic method switch: a CALCULATED check per record with a CloudWatch switch alarm")
    elif checked == set(regions):
        d.traffic_method = HEALTH_CHECK
        for r in regions.values():  # a switch check in one region only: not the switch method
            for key in ("switch_health_check_id", "switch_alarm_name", "switch_alarm_region"):
                r.pop(key, None)
        will_not, cost = TRAFFIC_COST[HEALTH_CHECK]
        d.missing(
            "traffic: no switch (no CloudWatch alarm in the records' health checks)",
            f"drctl will not {will_not}; {cost}",
        )
        d.found.append("traffic method health-check: failover records with endpoint health checks")
    else:
        for r in regions.values():
            for key in TRAFFIC_KEYS[SWITCH]:
                r.pop(key, None)
        will_not, cost = TRAFFIC_COST[NO_TRAFFIC]
        d.missing(
            "traffic: not every region has a failover record with a health check",
            f"drctl will not {will_not}; {cost}",
        )


def _classify(
    r53: Any,
    d: Discovery,
    region: dict[str, Any],
    check: HealthCheck,
    albs: dict[str, tuple[str, dict[str, Any]]],
    route53_table: dict[str, Any],
) -> bool:
    """Note what the record's check watches; True for drctl's switch shape (CALCULATED: endpoint + alarm)."""
    leaves = [check]
    if check.is_calculated:
        leaves = []
        for child in check.children:
            try:
                leaves.append(_read(f"GetHealthCheck {child}", route53.get_health_check, r53, child))
            except _Unread as e:
                d.missing(
                    f"traffic: child check of {check.id} ({e})", "what the record's check watches is unknown"
                )
        d.found.append(
            f"health check {check.id}: CALCULATED, {check.health_threshold} of {len(check.children)} children"
        )
    switch = False
    for leaf in leaves:
        if leaf.type in ENDPOINT_TYPES:
            region["alb_health_check_id"] = leaf.id
            route53_table["health_check_interval_s"] = leaf.request_interval_s or 30
            route53_table["health_check_failure_threshold"] = leaf.failure_threshold or 3
            watched = _bare(leaf.fqdn or "")
            lb = albs.get(watched)
            what = (
                f"load balancer {lb[1].get('LoadBalancerName')} in {lb[0]}"
                if lb
                else (leaf.fqdn or "an IP address")
            )
            d.found.append(
                f"health check {leaf.id}: {leaf.type} {leaf.fqdn or ''}{leaf.resource_path or ''} watches {what}"
            )
            if lb and "_alb" not in region:
                region["_alb"] = lb[1]
            for word, on in (("Inverted", leaf.inverted), ("Disabled", leaf.disabled)):
                if on:
                    d.missing(
                        f"health check {leaf.id} is {word}", "Route53 reads it healthy when the region is dead"
                    )
        elif leaf.type == "CLOUDWATCH_METRIC" and leaf.alarm_name and leaf.alarm_region:
            region.update(
                switch_health_check_id=leaf.id,
                switch_alarm_name=leaf.alarm_name,
                switch_alarm_region=leaf.alarm_region,
            )
            d.found.append(f"health check {leaf.id}: follows alarm {leaf.alarm_name} in {leaf.alarm_region}")
            switch = check.is_calculated
    return switch and "alb_health_check_id" in region


# ------------------------------------------------------------------------------------------------ compute


def _compute(clients: Clients, d: Discovery, regions: dict[str, dict[str, Any]], albs: dict[str, Any]) -> None:
    found: dict[str, dict[str, str]] = {}
    for name, r in regions.items():
        lb = r.pop("_alb", None)
        if lb is None:
            d.missing(f"compute in {name}: no load balancer linked to the failover records", _tier_cost("compute"))
            continue
        arn, lb_name = str(lb["LoadBalancerArn"]), lb.get("LoadBalancerName")
        try:
            groups = _read(
                f"DescribeTargetGroups {lb_name}", elbv2.target_groups_of, clients.client("elbv2", name), arn
            )
            if len(groups) != 1:
                raise _Unread(f"{lb_name} has {len(groups)} target groups, not one")
            tg = str(groups[0]["TargetGroupArn"])
            asgs = _read(
                "DescribeAutoScalingGroups",
                autoscaling.groups_with_target_group,
                clients.client("autoscaling", name),
                tg,
            )
            if len(asgs) != 1:
                raise _Unread(
                    f"{len(asgs)} Auto Scaling groups register into {groups[0].get('TargetGroupName')}, not one"
                )
        except _Unread as e:
            d.missing(f"compute in {name} ({e})", _tier_cost("compute"))
            continue
        found[name] = {
            "alb_arn": arn,
            "alb_dns_name": str(lb.get("DNSName", "")),
            "target_group_arn": tg,
            "asg_name": asgs[0],
        }
        d.found.append(
            f"compute in {name}: ALB {lb_name} -> target group {groups[0].get('TargetGroupName')} -> ASG {asgs[0]}"
        )
    if len(found) == len(regions):
        for name, keys in found.items():
            regions[name].update(keys)
    elif found:
        d.missing(f"compute: found in {', '.join(found)} only, so left out", _tier_cost("compute"))


# ------------------------------------------------------------------------------------ replication, backups


def _replication(clients: Clients, d: Discovery, regions: dict[str, dict[str, Any]]) -> None:
    writer = next(n for n, r in regions.items() if r["role"] == "primary")
    other = next(n for n in regions if n != writer)
    s3_w = clients.client("s3", writer)
    try:
        names = _read("ListBuckets", s3.bucket_names, s3_w)[:MAX_BUCKETS]
        pairs: list[tuple[str, str, str]] = []
        where: dict[str, str] = {}
        for bucket in names:
            where[bucket] = _read(f"GetBucketLocation {bucket}", s3.bucket_region, s3_w, bucket)
        for bucket in (b for b in names if where[b] == writer):
            rules = _read(f"GetBucketReplication {bucket}", s3.replication_rules, s3_w, bucket)
            for rule in rules:
                dest = str((rule.get("Destination") or {}).get("Bucket", "")).rsplit(":", 1)[-1]
                if where.get(dest) == other and rule.get("Status") == "Enabled":
                    pairs.append((bucket, dest, str(rule.get("ID", ""))))
    except _Unread as e:
        d.missing(f"object replication ({e})", _tier_cost("object replication"))
        return
    if len(pairs) != 1:
        listed = ", ".join(f"{a}->{b}" for a, b, _ in pairs) or "none"
        d.missing(
            f"object replication: {len(pairs)} enabled rules from {writer} to {other} ({listed}), not one",
            _tier_cost("object replication"),
        )
        return
    src, dest, rule_id = pairs[0]
    regions[writer]["bucket"], regions[other]["bucket"] = src, dest
    if rule_id:
        d.stack["s3"] = {"replication_rule_id": rule_id}
    d.found.append(f"object replication: {src} ({writer}) -> {dest} ({other}), rule {rule_id or '(no id)'}")


def _backups(clients: Clients, d: Discovery, regions: dict[str, dict[str, Any]]) -> None:
    vaults: dict[str, str] = {}
    for name in regions:
        try:
            names = _read(f"ListBackupVaults in {name}", backup.vault_names, clients.client("backup", name))
        except _Unread as e:
            d.missing(f"backups ({e})", _tier_cost("backups"))
            return
        own = [v for v in names if v != "Default"]
        if len(own) != 1:
            d.missing(
                f"backups: {len(own)} vaults in {name} besides Default ({', '.join(own) or 'none'}), not one",
                _tier_cost("backups"),
            )
            return
        vaults[name] = own[0]
    for name, vault in vaults.items():
        regions[name]["backup_vault"] = vault
        d.found.append(f"backups: vault {vault} in {name}")
