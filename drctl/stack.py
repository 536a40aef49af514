"""The stack description: what drctl acts on, loaded from a TOML file (see examples/stack.example.toml).

`drctl deploy` writes it from Terraform's `drctl_stack` output; during an incident drctl reads this file,
never Terraform state (which may live in the failed region). A hand-written file serves other deployments.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from drctl.errors import ConfigError

DEFAULT_HOME = ".drctl"
ROLES = ("primary", "secondary")
# How traffic moves between regions (`[traffic] method`): drctl's CloudWatch switch (data plane only,
# recommended), Route53 failover records with plain endpoint health checks (moving traffic needs Route53's
# control plane, us-east-1), or not at all.
SWITCH, HEALTH_CHECK, NO_TRAFFIC = "switch", "health-check", "none"
TRAFFIC_METHODS = (SWITCH, HEALTH_CHECK, NO_TRAFFIC)
REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


def drctl_home() -> Path:
    """Project-local folder for the stack file, run journals and the lab (`DRCTL_HOME`, default ./.drctl)."""
    return Path(os.environ.get("DRCTL_HOME", DEFAULT_HOME))


def default_stack_path() -> Path:
    return drctl_home() / "stack.toml"


@dataclass(frozen=True)
class AwsSettings:
    """How to reach AWS: credential source, endpoints (for emulators or VPC endpoints), timeouts."""

    profile: str | None = None
    # Per-region endpoint URLs, plus "global" for route53/iam/sts. Empty on real AWS.
    endpoints: Mapping[str, str] = field(default_factory=dict)
    # Only for emulators: keys that are refused if they look like real AWS keys.
    static_access_key_id: str | None = None
    static_secret_access_key: str | None = None
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 5.0
    # Total attempts per request, the first included (botocore's `total_max_attempts`; its `max_attempts`
    # counts retries only: https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html).
    max_attempts: int = 4
    account_id: str | None = None


@dataclass(frozen=True)
class Objectives:
    rpo_s: float = 5.0
    rto_s: float = 600.0
    max_switchover_lag_ms: float = 1000.0


@dataclass(frozen=True)
class FailoverSettings:
    # Unplanned mode: how long re-reads must show the global database's control path unavailable before a
    # detach-and-promote (RemoveFromGlobalCluster) may be sent, and then only with --allow-detach.
    detach_after_s: float = 60.0
    # Unplanned mode: the flip waits for the database to write and for this share (0-100 %) of the wanted
    # capacity to be healthy in the target, not for all of it (capacity may never come in a regional event);
    # the run waits for the rest after the flip. Planned mode always waits for all of it.
    min_capacity_share: float = 50.0


@dataclass(frozen=True)
class ProbeSettings:
    """The "target serving" probe: an HTTP(S) GET of a URL whose host is the record name, sent to the addresses
    the zone's authoritative servers answer for the target region (drctl/failover/serving.py). No url: off."""

    url: str = ""  # e.g. https://app.payments.example.com/health; "" = not probed
    # Statuses that count as serving: (low, high) ranges, inclusive. Default 200-399 (success and redirects).
    expect_status: tuple[tuple[int, int], ...] = ((200, 399),)
    timeout_s: float = 2.0  # each attempt's connect + TLS + response timeout

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    def expects(self, status: int) -> bool:
        return any(low <= status <= high for low, high in self.expect_status)

    def expected_text(self) -> str:
        return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.expect_status)


@dataclass(frozen=True)
class CanarySettings:
    """`[canary]`: where `drctl canary` and `drctl failover --canary` write (drctl/canary).

    `endpoints` are PostgreSQL "host:port"s tried in order; the writer is the first that accepts writes (a
    global writer endpoint alone, or one endpoint per region). Credentials: `secret_arn` (Secrets Manager, on AWS)
    or, for labs only, `[canary.static_credentials]` user/password; DRCTL_CANARY_USER/DRCTL_CANARY_PASSWORD in the
    environment override both. Hook for later: endpoints read from DescribeDBClusters (not done).
    An endpoint may be a host name (an Aurora cluster or global writer endpoint): it is resolved through
    `name_servers` when set (`[canary] name_servers`, default `[route53] name_servers`: a private resolver, the
    lab's DNS server), else by the system resolver."""

    endpoints: tuple[str, ...] = ()
    database: str = ""
    secret_arn: str = ""
    user: str = ""
    password: str = field(default="", repr=False)
    rate: float = 20.0
    name_servers: tuple[str, ...] = ()
    # `drctl failover` runs the canary without --canary (the lab turns this on once its databases exist)
    on_failover: bool = False

    @property
    def configured(self) -> bool:
        return bool(self.endpoints and self.database)


@dataclass(frozen=True)
class Switch:
    """The failover switch: a metric drctl puts in the region that stays up, watched by an alarm there."""

    namespace: str = "drctl/Failover"
    metric_name: str = "RegionDrained"
    dimension_name: str = "Region"


@dataclass(frozen=True)
class RegionStack:
    """Everything drctl knows about one region of the deployment. Only the database keys are required; each
    other tier is optional ("" = not in the stack: see TIERS and `Stack.missing_tiers`)."""

    name: str
    role: str  # deployment role: "primary" or "secondary" (who writes *now* is read from AWS)
    cluster_id: str
    cluster_arn: str
    # traffic: the health check on this region's failover record (switch: CALCULATED of the ALB check and the
    # switch check; health-check: the endpoint check itself) and the record's SetIdentifier
    health_check_id: str = ""
    record_set_identifier: str = ""
    alb_health_check_id: str = ""
    switch_health_check_id: str = ""  # CLOUDWATCH_METRIC check that follows switch_alarm_name
    switch_alarm_name: str = ""  # lives in the *other* region (switch_alarm_region)
    switch_alarm_region: str = ""
    # compute
    alb_arn: str = ""
    target_group_arn: str = ""
    asg_name: str = ""
    bucket: str = ""  # object replication
    backup_vault: str = ""  # backups
    sns_topic_arn: str = ""  # notifications
    lock_table: str = ""  # DynamoDB table for the run lock (a conditional write in this region)
    kms_key_arn: str = ""
    alb_dns_name: str = ""
    # CloudWatch metric alarms in this region that say the application is healthy ("application healthy": all
    # OK after a failover into this region). Empty: the phase is not measured.
    app_health_alarms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tier:
    """An optional part of the stack: the per-region keys that describe it, and what its absence costs."""

    name: str
    keys: tuple[str, ...]
    will_not: str  # what drctl will not do or check without it
    cost: str  # what that costs the operator


TRAFFIC_KEYS = {
    SWITCH: (
        "record_set_identifier",
        "health_check_id",
        "alb_health_check_id",
        "switch_health_check_id",
        "switch_alarm_name",
        "switch_alarm_region",
    ),
    HEALTH_CHECK: ("record_set_identifier", "health_check_id"),
    NO_TRAFFIC: (),
}
TIERS = (
    Tier(
        "compute",
        ("alb_arn", "target_group_arn", "asg_name"),
        "check or scale the target's capacity, or wait for healthy targets before moving traffic",
        "traffic may move to a region that cannot carry the load; status cannot say whether it can",
    ),
    Tier(
        "object replication",
        ("bucket",),
        "read S3 replication rules or the objects still waiting to replicate",
        "objects not yet replicated are neither counted before a failover nor reported after",
    ),
    Tier(
        "backups",
        ("backup_vault",),
        "check recovery points or cross-region backup copies",
        "a missing or stale backup copy in the target region goes unnoticed",
    ),
    Tier(
        "notifications",
        ("sns_topic_arn",),
        "check the SNS topic the alarms notify",
        "a deleted topic (alarms that notify nobody) goes unnoticed",
    ),
    Tier(
        "lock table",
        ("lock_table",),
        "take the run lock in DynamoDB (only a lock file on this machine)",
        "two operators on two machines could fail over at once; a run needs --without-lock",
    ),
)
TRAFFIC_COST = {
    SWITCH: ("", ""),
    HEALTH_CHECK: (
        "move traffic through the data plane: it swaps the failover records with Route53's control plane "
        "(ChangeResourceRecordSets, us-east-1)",
        "a failover needs us-east-1's Route53 API to move traffic; if us-east-1 is the failed region, traffic "
        "follows the health checks only and comes back to the old region when it recovers",
    ),
    NO_TRAFFIC: (
        "move traffic, read what Route53 answers, or verify DNS after a failover",
        "after a failover the application must be pointed at the new writer by other means",
    ),
}


@dataclass(frozen=True)
class Route53Api:
    """drctl's client-side limit on GetHealthCheckStatus, shared by every reader in one process
    (drctl/aws/ratelimit.py). Route 53's own per-account bucket for that action: capacity 4, refill 1 per
    second (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html, "Request
    rate limits per API action"); drctl's defaults keep 20 % of the rate and one token of the burst for the
    account's other clients. docs/fidelity.md D-15."""

    DOCUMENTED_RATE_PER_S = 1.0
    DOCUMENTED_BURST = 4

    max_requests_per_s: float = 0.8
    burst: int = 3


@dataclass(frozen=True)
class Stack:
    name: str
    global_cluster_id: str
    zone_id: str
    record_name: str
    record_ttl_s: int
    regions: Mapping[str, RegionStack]
    objectives: Objectives = field(default_factory=Objectives)
    switch: Switch = field(default_factory=Switch)
    aws: AwsSettings = field(default_factory=AwsSettings)
    failover: FailoverSettings = field(default_factory=FailoverSettings)
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    engine_version: str = ""
    replication_rule_id: str = ""
    health_check_interval_s: int = 30
    health_check_failure_threshold: int = 3
    # DNS servers to ask for the record ("host:port"); empty: the zone's authoritative servers, found via DNS.
    name_servers: tuple[str, ...] = ()
    route53_api: Route53Api = field(default_factory=Route53Api)
    canary: CanarySettings = field(default_factory=CanarySettings)
    source: Path | None = None
    traffic_method: str = SWITCH  # `[traffic] method`: switch | health-check | none

    @property
    def moves_traffic(self) -> bool:
        return self.traffic_method != NO_TRAFFIC

    def has(self, tier: str) -> bool:
        """Is the optional tier named `tier` (TIERS) described in this stack (in every region)?"""
        keys = next(t.keys for t in TIERS if t.name == tier)
        return all(getattr(r, keys[0]) for r in self.regions.values())

    def missing_tiers(self) -> list[Tier]:
        """The optional tiers this stack does not describe, with what drctl will not do and what that costs
        (the traffic tier included when its method is not the switch)."""
        out = [t for t in TIERS if not self.has(t.name)]
        will_not, cost = TRAFFIC_COST[self.traffic_method]
        if will_not:
            out.insert(0, Tier(f"traffic ({self.traffic_method})", TRAFFIC_KEYS[SWITCH], will_not, cost))
        return out

    @property
    def region_names(self) -> list[str]:
        return list(self.regions)

    def by_role(self, role: str) -> RegionStack:
        for region in self.regions.values():
            if region.role == role:
                return region
        raise ConfigError(f"{self.source}: no region has role {role!r}")

    @property
    def primary(self) -> RegionStack:
        return self.by_role("primary")

    @property
    def secondary(self) -> RegionStack:
        return self.by_role("secondary")

    def other(self, region_name: str) -> RegionStack:
        """The region that is not `region_name`."""
        return next(r for r in self.regions.values() if r.name != region_name)

    def resolve_region(self, name_or_role: str) -> RegionStack:
        """`primary`, `secondary` or a region name of this stack; anything else is a one-line error."""
        if name_or_role in ROLES:
            return self.by_role(name_or_role)
        if name_or_role in self.regions:
            return self.regions[name_or_role]
        known = ", ".join([*ROLES, *self.regions])
        raise ConfigError(f"unknown region {name_or_role!r}", hint=f"use one of: {known}")


# ----------------------------------------------------------------------------------------------- loading

T = TypeVar("T")


class _Reader:
    """Typed access to a TOML table; every error names the file and the dotted key."""

    def __init__(self, data: Mapping[str, Any], path: Path, prefix: str = "") -> None:
        self.data, self.path, self.prefix = data, path, prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {self._key(key)}: {problem}", hint="fix the stack file")

    def req(self, key: str, kind: type[T]) -> T:
        if key not in self.data:
            raise self.fail(key, "missing required key")
        value: T = self._check(key, self.data[key], kind)
        return value

    def opt(self, key: str, kind: type[T], default: T) -> T:
        if key not in self.data:
            return default
        value: T = self._check(key, self.data[key], kind)
        return value

    def _check(self, key: str, value: Any, kind: type[Any]) -> Any:
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(key, f"expected {kind.__name__}, got {type(value).__name__}")
        if kind is str and not value:
            raise self.fail(key, "must not be empty")
        return value

    def table(self, key: str, *, required: bool = True) -> _Reader:
        if key not in self.data:
            if required:
                raise self.fail(key, "missing required table")
            return _Reader({}, self.path, f"{self._key(key)}.")
        value = self.data[key]
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {type(value).__name__}")
        return _Reader(value, self.path, f"{self._key(key)}.")


def _region(r: _Reader, name: str, traffic_method: str) -> RegionStack:
    if not REGION_RE.match(name):
        raise r.fail("", f"{name!r} is not an AWS region name")
    role = r.req("role", str)
    if role not in ROLES:
        raise r.fail("role", f"must be one of {', '.join(ROLES)}, got {role!r}")
    values: dict[str, str] = {}
    for key in TRAFFIC_KEYS[traffic_method]:
        if key not in r.data:
            raise r.fail(key, f"missing required key (traffic method {traffic_method!r})")
    for tier in TIERS:
        present = [k for k in tier.keys if k in r.data]
        if present and len(present) < len(tier.keys):
            missing = next(k for k in tier.keys if k not in r.data)
            raise r.fail(
                missing,
                f"missing: the {tier.name} tier is half-described ({', '.join(present)} given); "
                f"give {', '.join(tier.keys)}, or none of them",
            )
    optional = {k for t in TIERS for k in t.keys} | set(TRAFFIC_KEYS[SWITCH]) | {"kms_key_arn", "alb_dns_name"}
    for key in sorted(optional):
        values[key] = r.opt(key, str, "")
    return RegionStack(
        name=name,
        role=role,
        cluster_id=r.req("cluster_id", str),
        cluster_arn=r.req("cluster_arn", str),
        app_health_alarms=_alarm_names(r),
        **values,
    )


def _tiers_in_every_region(regions_r: _Reader, regions: Mapping[str, RegionStack]) -> None:
    """A tier described in one region and not another is half-described: name the first missing key."""
    for tier in TIERS:
        have = [n for n, r in regions.items() if getattr(r, tier.keys[0])]
        if have and len(have) < len(regions):
            lacking = next(n for n in regions if n not in have)
            raise regions_r.table(lacking).fail(
                tier.keys[0],
                f"missing: the {tier.name} tier is described in {', '.join(have)} only; "
                f"describe it in every region, or in none",
            )


MAX_ALARM_NAMES = 100  # DescribeAlarms AlarmNames: "Maximum number of 100 items", each 1-255 characters
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html)


def _alarm_names(r: _Reader) -> tuple[str, ...]:
    key = "app_health_alarms"
    values = r.data.get(key, [])
    if not isinstance(values, list):
        raise r.fail(key, f'expected a list of alarm names, e.g. ["app-5xx"], got {type(values).__name__}')
    if len(values) > MAX_ALARM_NAMES:
        raise r.fail(key, f"at most {MAX_ALARM_NAMES} alarm names (one DescribeAlarms call), got {len(values)}")
    for value in values:
        if not isinstance(value, str):
            raise r.fail(key, f"expected alarm names (strings), got {type(value).__name__}")
        if not 1 <= len(value) <= 255:
            raise r.fail(key, f"an alarm name has 1 to 255 characters, got {len(value)}")
    if len(set(values)) != len(values):
        dup = next(v for v in values if values.count(v) > 1)
        raise r.fail(key, f"{dup!r} is listed twice")
    return tuple(values)


def _aws(r: _Reader) -> AwsSettings:
    endpoints_r = r.table("endpoints", required=False)
    endpoints = {k: _url(endpoints_r, k, v) for k, v in endpoints_r.data.items()}
    creds = r.table("static_credentials", required=False)
    key_id = creds.opt("access_key_id", str, "") or None
    if key_id and key_id.startswith(("AKIA", "ASIA")):
        raise creds.fail("access_key_id", "looks like a real AWS key; static credentials are for emulators only")
    return AwsSettings(
        profile=r.opt("profile", str, "") or None,
        endpoints=endpoints,
        static_access_key_id=key_id,
        static_secret_access_key=creds.opt("secret_access_key", str, "") or None,
        connect_timeout_s=r.opt("connect_timeout_s", float, _AWS.connect_timeout_s),
        read_timeout_s=r.opt("read_timeout_s", float, _AWS.read_timeout_s),
        max_attempts=_attempts(r),
        account_id=r.opt("account_id", str, "") or None,
    )


def _attempts(r: _Reader) -> int:
    value = r.opt("max_attempts", int, _AWS.max_attempts)
    if value < 1:
        raise r.fail("max_attempts", f"counts every attempt, the first included: at least 1, got {value}")
    return value


def _url(r: _Reader, key: str, value: Any) -> str:
    url: str = r._check(key, value, str)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise r.fail(key, f"expected an http(s) URL such as http://127.0.0.1:4601, got {url!r}")
    return url


_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$)({_LABEL}\.)*{_LABEL}\.?$")


def split_name_server(value: str) -> tuple[str, int]:
    """("host", port) of "host:port", "host" (port 53) or "[v6]:port"; ValueError when malformed."""
    host, port_text = value, "53"
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError("an IPv6 address goes in brackets: [::1]:53")
        port_text = rest[1:] if rest else "53"
        ipaddress.IPv6Address(host)
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    elif ":" in value:
        raise ValueError("an IPv6 address goes in brackets: [::1]:53")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"port must be a number from 1 to 65535, got {port_text!r}")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME_RE.match(host) or host.replace(".", "").isdigit():
            raise ValueError(f"{host!r} is neither an IP address nor a host name") from None
    return host, int(port_text)


def _name_servers(r: _Reader) -> tuple[str, ...]:
    key = "name_servers"
    if key not in r.data:
        return ()
    values = r.data[key]
    if not isinstance(values, list) or not values:
        raise r.fail(key, 'expected a non-empty list of "host:port" strings, e.g. ["127.0.0.1:5353"]')
    for value in values:
        if not isinstance(value, str):
            raise r.fail(key, f'expected "host:port" strings, got {type(value).__name__}')
        try:
            split_name_server(value)
        except ValueError as e:
            raise r.fail(key, f"{value!r}: {e}") from None
    return tuple(values)


def _not_negative(r: _Reader, key: str, default: float) -> float:
    value = r.opt(key, float, default)
    if not math.isfinite(value) or value < 0:
        raise r.fail(key, f"must be a number of at least 0, got {value:g}")
    return value


def _route53_api(r: _Reader) -> Route53Api:
    rate = r.opt("max_requests_per_s", float, _ROUTE53_API.max_requests_per_s)
    if not math.isfinite(rate) or not 0 < rate <= 100:
        raise r.fail(
            "max_requests_per_s",
            f"requests per second above 0 (Route 53 allows GetHealthCheckStatus "
            f"{Route53Api.DOCUMENTED_RATE_PER_S:g}/s per account by default), got {rate:g}",
        )
    burst = r.opt("burst", int, _ROUTE53_API.burst)
    if not 1 <= burst <= 1000:
        raise r.fail("burst", f"requests sent at once, 1 to 1000, got {burst}")
    return Route53Api(max_requests_per_s=rate, burst=burst)


def _failover(r: _Reader) -> FailoverSettings:
    share = r.opt("min_capacity_share", float, _FAILOVER.min_capacity_share)
    if not math.isfinite(share) or not 0.0 <= share <= 100.0:
        raise r.fail("min_capacity_share", f"a percentage of the wanted capacity, 0 to 100, got {share:g}")
    return FailoverSettings(
        detach_after_s=_not_negative(r, "detach_after_s", _FAILOVER.detach_after_s), min_capacity_share=share
    )


_STATUS_RE = re.compile(r"^(\d{3})(?:-(\d{3}))?$")


def _status_ranges(r: _Reader, key: str) -> tuple[tuple[int, int], ...]:
    """expect_status: a status (200), a range ("200-399"), or a list of them."""
    if key not in r.data:
        return _PROBE.expect_status
    raw = r.data[key]
    values = raw if isinstance(raw, list) else [raw]
    example = 'e.g. 200, "200-399" or [200, 204]'
    if not values:
        raise r.fail(key, f"expected HTTP status codes, {example}, got an empty list")
    out = []
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            low = high = value
        elif isinstance(value, str) and (m := _STATUS_RE.match(value.strip())):
            low, high = int(m.group(1)), int(m.group(2) or m.group(1))
        else:
            raise r.fail(key, f"expected HTTP status codes, {example}, got {value!r}")
        if not 100 <= low <= high <= 599:
            raise r.fail(key, f"HTTP status codes run from 100 to 599, low to high, got {value!r}")
        out.append((low, high))
    return tuple(out)


def _probe(r: _Reader, record_name: str) -> ProbeSettings:
    url = r.opt("url", str, _PROBE.url)
    if url:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise r.fail("url", f"expected an http(s) URL such as https://{record_name}/health, got {url!r}")
        if parts.hostname.rstrip(".") != record_name.lower().rstrip("."):
            raise r.fail(
                "url",
                f"its host must be the record name {record_name!r} (the probe goes through the public name), "
                f"got {parts.hostname!r}",
            )
    timeout = r.opt("timeout_s", float, _PROBE.timeout_s)
    if not math.isfinite(timeout) or not 0 < timeout <= 60:
        raise r.fail("timeout_s", f"seconds per attempt, above 0 and at most 60, got {timeout:g}")
    return ProbeSettings(url=url, expect_status=_status_ranges(r, "expect_status"), timeout_s=timeout)


def _canary(r: _Reader, route53_name_servers: tuple[str, ...]) -> CanarySettings:
    raw = r.data.get("endpoints", [])
    if isinstance(raw, dict):  # one per region: {"us-east-1" = "host:port", ...}
        raw = list(raw.values())
    if isinstance(r.data.get("endpoint"), str):
        raw = [r.data["endpoint"], *raw]
    if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
        raise r.fail("endpoints", 'expected "host:port" strings, e.g. ["db.example.internal:5432"]')
    for value in raw:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise r.fail("endpoints", f"{value!r} is not host:port")
    rate = r.opt("rate", float, _CANARY.rate)
    if not math.isfinite(rate) or not 0 < rate <= 1000:
        raise r.fail("rate", f"transactions per second, above 0 and at most 1000, got {rate:g}")
    creds = r.table("static_credentials", required=False)
    return CanarySettings(
        endpoints=tuple(raw),
        database=r.opt("database", str, ""),
        secret_arn=r.opt("secret_arn", str, ""),
        user=creds.opt("user", str, ""),
        password=creds.opt("password", str, ""),
        rate=rate,
        on_failover=r.opt("on_failover", bool, False),
        name_servers=_name_servers(r) or route53_name_servers,
    )


def _traffic_method(root: _Reader) -> str:
    traffic = root.table("traffic", required=False)
    default = SWITCH if "route53" in root.data else NO_TRAFFIC
    method = traffic.opt("method", str, default)
    if method not in TRAFFIC_METHODS:
        raise traffic.fail("method", f"unknown traffic method {method!r}; use one of {', '.join(TRAFFIC_METHODS)}")
    if method != NO_TRAFFIC and "route53" not in root.data:
        raise root.fail("route53", f"missing required table (traffic method {method!r} moves failover records)")
    return method


def parse_stack(data: Mapping[str, Any], path: Path) -> Stack:
    """Build a Stack from parsed TOML, raising ConfigError naming the first bad key."""
    root = _Reader(data, path)
    db = root.table("database")
    method = _traffic_method(root)
    r53 = root.table("route53", required=False)
    has_r53 = "route53" in root.data
    record_name = r53.req("record_name", str) if has_r53 else ""
    obj = root.table("objectives", required=False)
    sw = root.table("switch", required=False)
    regions_r = root.table("regions")
    regions = {name: _region(regions_r.table(name), name, method) for name in regions_r.data}
    if len(regions) != 2:
        raise root.fail("regions", f"expected exactly two regions, found {len(regions)}")
    roles = sorted(r.role for r in regions.values())
    if roles != ["primary", "secondary"]:
        raise root.fail("regions", "one region must have role 'primary' and the other 'secondary'")
    _tiers_in_every_region(regions_r, regions)
    for name, region in regions.items():
        if method == SWITCH and region.switch_alarm_region not in regions:
            raise regions_r.table(name).fail(
                "switch_alarm_region",
                f"{region.switch_alarm_region!r} is not one of the stack's regions ({', '.join(regions)})",
            )
    probe_r = root.table("probe", required=False)
    if probe_r.data.get("url") and not has_r53:
        raise probe_r.fail("url", "needs [route53] record_name (the probe goes through the public name)")
    return Stack(
        name=root.req("name", str),
        global_cluster_id=db.req("global_cluster_id", str),
        engine_version=db.opt("engine_version", str, ""),
        zone_id=r53.req("zone_id", str) if has_r53 else "",
        record_name=record_name,
        record_ttl_s=r53.opt("ttl_s", int, 60),
        health_check_interval_s=r53.opt("health_check_interval_s", int, Stack.health_check_interval_s),
        health_check_failure_threshold=r53.opt(
            "health_check_failure_threshold", int, Stack.health_check_failure_threshold
        ),
        name_servers=_name_servers(r53),
        route53_api=_route53_api(r53),
        regions=regions,
        objectives=Objectives(
            rpo_s=_not_negative(obj, "rpo_s", _OBJECTIVES.rpo_s),
            rto_s=_not_negative(obj, "rto_s", _OBJECTIVES.rto_s),
            max_switchover_lag_ms=_not_negative(obj, "max_switchover_lag_ms", _OBJECTIVES.max_switchover_lag_ms),
        ),
        switch=Switch(
            namespace=sw.opt("namespace", str, _SWITCH.namespace),
            metric_name=sw.opt("metric_name", str, _SWITCH.metric_name),
            dimension_name=sw.opt("dimension_name", str, _SWITCH.dimension_name),
        ),
        aws=_aws(root.table("aws", required=False)),
        failover=_failover(root.table("failover", required=False)),
        probe=_probe(probe_r, record_name),
        replication_rule_id=root.table("s3", required=False).opt("replication_rule_id", str, ""),
        canary=_canary(root.table("canary", required=False), _name_servers(r53)),
        source=path,
        traffic_method=method,
    )


# Every default is the dataclass's own (one place); the parser only reads what the file overrides.
_AWS, _OBJECTIVES, _SWITCH, _FAILOVER = AwsSettings(), Objectives(), Switch(), FailoverSettings()
_PROBE = ProbeSettings()
_ROUTE53_API = Route53Api()
_CANARY = CanarySettings()


def resolve_stack_path(explicit: str | Path | None = None) -> Path:
    """`--stack`, else `DRCTL_STACK`, else the file `drctl deploy` writes."""
    if explicit:
        return Path(explicit)
    if env := os.environ.get("DRCTL_STACK"):
        return Path(env)
    return default_stack_path()


def load_stack(explicit: str | Path | None = None) -> Stack:
    path = resolve_stack_path(explicit)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"stack file {path} not found", hint="run `drctl deploy`, or pass --stack / set DRCTL_STACK"
        ) from None
    except OSError as e:
        raise ConfigError(f"cannot read stack file {path}: {e.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}", hint="fix the stack file") from None
    return parse_stack(data, path)


def dump_stack_toml(data: Mapping[str, Any]) -> str:
    """Serialise a stack mapping (as parse_stack reads it) to TOML. Minimal: tables, strings, numbers, bools."""
    lines: list[str] = []

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list | tuple):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        raise TypeError(f"cannot write {type(v).__name__} to the stack file")

    def key(k: str) -> str:
        return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else scalar(k)

    def emit(table: Mapping[str, Any], path: list[str]) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
        tables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
        if path and scalars:
            lines.append("")
            lines.append("[" + ".".join(key(p) for p in path) + "]")
        for k, v in scalars.items():
            lines.append(f"{key(k)} = {scalar(v)}")
        for k, v in tables.items():
            emit(v, [*path, k])

    emit(data, [])
    return "\n".join(lines).lstrip("\n") + "\n"


def write_stack_file(data: Mapping[str, Any], path: Path) -> Path:
    """Validate, then write atomically (temp file in the same folder + rename)."""
    parse_stack(data, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # A file holding a database password (a lab's [canary.static_credentials]) is readable by its owner only.
    secret = bool(((data.get("canary") or {}).get("static_credentials") or {}).get("password"))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o666)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(dump_stack_toml(data))
    os.replace(tmp, path)
    return path
