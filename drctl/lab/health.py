"""Route53 health checks, served by the lab gateway itself.

Both emulators lose health-check configuration (DESIGN.md) and neither probes anything, so the gateway keeps
its own store (persisted as JSON under the lab home) and computes status from the lab's world: HTTP/TCP checks
follow their target region's availability and injected app faults, CLOUDWATCH_METRIC checks follow the alarm's
state in the emulator, CALCULATED checks combine their children. Hosted-zone and record calls pass through.

The wire format (REST XML: routes, bodies, errors) is drctl/lab/protocol.py's, driven by botocore's own
Route53 model, so element names and types are exactly what botocore and the Terraform provider expect.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from xml.etree import ElementTree as ET

from drctl.lab.http import Forward, LabRequest, LabResponse
from drctl.lab.protocol import ROUTE53_PREFIX, route53_error, route53_input, route53_response, route53_route

ENDPOINT_TYPES = frozenset({"HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"})
# Route53's checker regions, used for observations when a check names none.
CHECKER_REGIONS = (
    "us-east-1", "us-west-1", "us-west-2", "eu-west-1",
    "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1",
)  # fmt: skip
REGION_TAG_KEYS = ("lab:region", "drctl:region", "region", "Region")
# How long after its alarm changes state a CLOUDWATCH_METRIC check turns (AWS seconds, times the lab time
# scale). AWS documents that the check follows the alarm's data stream but not the delay; the lab takes the
# default RequestInterval of an endpoint check (30 s) as the magnitude (docs/fidelity.md T-7).
ALARM_CHECK_DELAY_S = 30.0


class World(Protocol):
    """What the status model needs to know about the lab (models.py provides it)."""

    regions: tuple[str, ...]

    def is_region_down(self, region: str) -> bool: ...
    def app_failing(self, region: str) -> bool: ...
    def alarm_state(self, region: str, name: str) -> str | None: ...


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


# ---------------------------------------------------------------------------------------------- status model


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    observation: str  # as in StatusReport.Status: "Success: ..." or "Failure: ..."
    since: float | None = None  # when the raw result began (epoch seconds), if the source knows (an alarm)


def check_region(config: dict[str, Any], tags: dict[str, str], regions: Iterable[str]) -> str | None:
    """The lab region an endpoint check probes: a region tag, else a region name in its FQDN or path."""
    regions = tuple(regions)
    for key in REGION_TAG_KEYS:
        if tags.get(key) in regions:
            return tags[key]
    for text in (config.get("FullyQualifiedDomainName"), config.get("ResourcePath")):
        for region in regions:
            if text and re.search(rf"(^|[^a-z0-9-]){re.escape(region)}($|[^a-z0-9-])", text.lower()):
                return region
    return None


def _endpoint_verdict(config: dict[str, Any], region: str | None, world: World) -> Verdict:
    if region is not None and world.is_region_down(region):
        return Verdict(False, "Failure: Connection timed out. The endpoint or the internet connection is down, "
                       "or requests are being blocked by your firewall.")  # fmt: skip
    if config["Type"] == "TCP":
        return Verdict(True, "Success: TCP connection established")
    if region is not None and world.app_failing(region):
        return Verdict(False, "Failure: HTTP Status Code 503, Service Unavailable. Resolved IP: 192.0.2.10")
    return Verdict(True, "Success: HTTP Status Code 200, OK")


def _alarm_verdict(config: dict[str, Any], world: World, last_known: bool | None) -> Verdict:
    alarm = config.get("AlarmIdentifier") or {}
    region, name = alarm.get("Region", ""), alarm.get("Name", "")
    state = None if world.is_region_down(region) else world.alarm_state(region, name)
    since_of = getattr(world, "alarm_changed_at", None)
    since = since_of(region, name) if since_of is not None and state in ("OK", "ALARM") else None
    if state == "OK":
        return Verdict(True, f"Success: CloudWatch alarm {name} is in state OK", since)
    if state == "ALARM":
        return Verdict(False, f"Failure: CloudWatch alarm {name} is in state ALARM", since)
    fallback = config.get("InsufficientDataHealthStatus") or "LastKnownStatus"
    healthy = fallback == "Healthy" or (fallback == "LastKnownStatus" and last_known is not False)
    word = "Success" if healthy else "Failure"
    return Verdict(healthy, f"{word}: Insufficient data for CloudWatch alarm {name} ({fallback})")


Settle = Callable[[str, dict[str, Any], Verdict], Verdict]


def evaluate(
    check_id: str,
    checks: dict[str, dict[str, Any]],
    world: World,
    last_known: dict[str, bool] | None = None,
    _seen: frozenset[str] = frozenset(),
    settle: Settle | None = None,
) -> Verdict:
    """A check's current status as Route53 would see it (Disabled = healthy; Inverted flips).

    `settle(check_id, config, raw)` turns a leaf check's raw verdict into the one Route53 shows by now (the
    store's consecutive-results delay); without it a leaf turns at once."""
    record = checks.get(check_id)
    if record is None or check_id in _seen:
        return Verdict(False, "Failure: health check does not exist")
    config = record["HealthCheckConfig"]
    if config.get("Disabled"):
        return Verdict(True, "Success: Health checking is disabled")
    kind = config["Type"]
    if kind in ENDPOINT_TYPES:
        raw = _endpoint_verdict(config, check_region(config, record.get("Tags", {}), world.regions), world)
        raw = settle(check_id, config, raw) if settle else raw
    elif kind == "CLOUDWATCH_METRIC":
        known = (last_known or {}).get(check_id)  # the check's own (inverted) status: undo the inversion
        raw = _alarm_verdict(config, world, known if known is None else known != bool(config.get("Inverted")))
        raw = settle(check_id, config, raw) if settle else raw
    elif kind == "CALCULATED":
        children = config.get("ChildHealthChecks", [])
        up = sum(evaluate(c, checks, world, last_known, _seen | {check_id}, settle).healthy for c in children)
        need = config.get("HealthThreshold", 0)
        word = "Success" if up >= need else "Failure"
        raw = Verdict(up >= need, f"{word}: {up} of {len(children)} child health checks healthy (need {need})")
    else:  # RECOVERY_CONTROL: no routing controls in the lab
        raw = Verdict(True, "Success: Routing control is on")
    if not config.get("Inverted"):
        return raw
    word = "Failure" if raw.healthy else "Success"
    return Verdict(not raw.healthy, f"{word}: Inverted health check; underlying status: {raw.observation}")


# ---------------------------------------------------------------------------------------------- the store


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _with_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """Fill in what AWS fills in on creation."""
    config = dict(config)
    config.setdefault("Inverted", False)
    config.setdefault("Disabled", False)
    if config["Type"] in ENDPOINT_TYPES:
        https = config["Type"].startswith("HTTPS")
        config.setdefault("Port", 443 if https else 80)
        config.setdefault("RequestInterval", 30)
        config.setdefault("FailureThreshold", 3)
        config.setdefault("MeasureLatency", False)
        config.setdefault("EnableSNI", https)
    return config


def _validate(config: dict[str, Any]) -> None:
    kind = config.get("Type")
    if kind not in ENDPOINT_TYPES | {"CALCULATED", "CLOUDWATCH_METRIC", "RECOVERY_CONTROL"}:
        raise ApiError(400, "InvalidInput", f"Invalid health check type: {kind}")
    if kind in ENDPOINT_TYPES and not (config.get("IPAddress") or config.get("FullyQualifiedDomainName")):
        raise ApiError(400, "InvalidInput", "An IPAddress or a FullyQualifiedDomainName is required")
    if kind == "CLOUDWATCH_METRIC" and not config.get("AlarmIdentifier"):
        raise ApiError(400, "InvalidInput", "AlarmIdentifier is required for CLOUDWATCH_METRIC health checks")
    if kind == "CALCULATED" and config.get("HealthThreshold") is None:
        raise ApiError(400, "InvalidInput", "HealthThreshold is required for CALCULATED health checks")


class HealthCheckStore:
    """Health checks, their tags and remembered statuses; thread-safe, persisted on every change."""

    def __init__(self, path: Path, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.time_scale = time_scale
        self.clock = clock
        # Route53's view of each leaf check (healthy, observation) and a turn under way (healthy, since).
        self.settled: dict[str, Verdict] = {}
        self.turning: dict[str, tuple[bool, float]] = {}
        self.lock = threading.RLock()
        self.checks: dict[str, dict[str, Any]] = {}
        self.caller_refs: dict[str, str] = {}
        self.last_known: dict[str, bool] = {}
        self.last_failure: dict[str, dict[str, str]] = {}
        if path.exists():
            data = json.loads(path.read_text())
            self.checks, self.caller_refs = data["checks"], data["caller_refs"]
            self.last_known, self.last_failure = data["last_known"], data["last_failure"]

    def save(self) -> None:
        data = {
            "checks": self.checks,
            "caller_refs": self.caller_refs,
            "last_known": self.last_known,
            "last_failure": self.last_failure,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.path)

    def clear(self) -> None:
        with self.lock:
            self.checks, self.caller_refs, self.last_known, self.last_failure = {}, {}, {}, {}
            self.settled, self.turning = {}, {}
            self.save()

    def get(self, check_id: str) -> dict[str, Any]:
        record = self.checks.get(check_id)
        if record is None:
            raise ApiError(404, "NoSuchHealthCheck", f"No health check exists with the specified ID {check_id}")
        return record

    def create(self, caller_ref: str, config: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """(record, created); the same CallerReference with the same config returns the existing check."""
        _validate(config)
        config = _with_defaults(config)
        with self.lock:
            existing_id = self.caller_refs.get(caller_ref)
            if existing_id is not None:
                existing = self.checks.get(existing_id)
                if existing is not None and existing["HealthCheckConfig"] == config:
                    return existing, False
                raise ApiError(409, "HealthCheckAlreadyExists",
                               f"A health check with CallerReference {caller_ref} already exists")  # fmt: skip
            record: dict[str, Any] = {
                "Id": str(uuid.uuid4()),
                "CallerReference": caller_ref,
                "HealthCheckConfig": config,
                "HealthCheckVersion": 1,
                "Tags": {},
            }
            self.checks[record["Id"]] = record
            self.caller_refs[caller_ref] = record["Id"]
            self.save()
            return record, True

    def update(self, check_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            record = self.get(check_id)
            version = changes.pop("HealthCheckVersion", None)
            if version is not None and version != record["HealthCheckVersion"]:
                message = "The value of HealthCheckVersion in the request doesn't match the current version"
                raise ApiError(409, "HealthCheckVersionMismatch", message)
            config = dict(record["HealthCheckConfig"])
            for element in changes.pop("ResetElements", []):
                config.pop(element, None)
            changes.pop("HealthCheckId", None)
            config.update(changes)
            _validate(config)
            record["HealthCheckConfig"] = config
            record["HealthCheckVersion"] += 1
            self.save()
            return record

    def delete(self, check_id: str) -> None:
        with self.lock:
            self.get(check_id)
            del self.checks[check_id]
            self.last_known.pop(check_id, None)
            self.last_failure.pop(check_id, None)
            self.save()

    def change_tags(self, check_id: str, add: list[dict[str, str]], remove: list[str]) -> None:
        with self.lock:
            tags = self.get(check_id)["Tags"]
            for key in remove:
                tags.pop(key, None)
            tags.update({t["Key"]: t.get("Value", "") for t in add})
            self.save()

    def turn_delay_s(self, config: dict[str, Any]) -> float:
        """How long a leaf check's raw result must hold before Route53 shows it (lab seconds).

        Endpoint checks: FailureThreshold consecutive results at RequestInterval ("Whether the endpoint responds
        to a number of consecutive health checks that you specify (the failure threshold)",
        https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html);
        CLOUDWATCH_METRIC checks: ALARM_CHECK_DELAY_S. Both times the lab time scale."""
        if config["Type"] in ENDPOINT_TYPES:
            aws_s = float(config.get("RequestInterval", 30)) * float(config.get("FailureThreshold", 3))
        else:
            aws_s = ALARM_CHECK_DELAY_S
        return aws_s * self.time_scale

    def settle(self, check_id: str, config: dict[str, Any], raw: Verdict) -> Verdict:
        """The leaf verdict Route53 shows now: a new result counts once it has held for turn_delay_s."""
        with self.lock:
            shown = self.settled.get(check_id)
            if shown is None or shown.healthy == raw.healthy:
                self.turning.pop(check_id, None)
                self.settled[check_id] = raw
                return raw
            now = self.clock()
            # The turn starts when the raw result began: for an alarm, its state change (not when the lab
            # first looked), so the check follows the alarm by exactly the modelled delay.
            began = now if raw.since is None else now - max(0.0, time.time() - raw.since)
            direction, since = self.turning.get(check_id, (raw.healthy, began))
            if direction != raw.healthy:
                since = began
            if now - since >= self.turn_delay_s(config):
                self.turning.pop(check_id, None)
                self.settled[check_id] = raw
                return raw
            self.turning[check_id] = (raw.healthy, since)
            return shown

    def status(self, check_id: str, world: World) -> Verdict:
        """Evaluate a check now, remembering its last known status and last failure."""
        with self.lock:
            self.get(check_id)
            checks = {k: dict(v) for k, v in self.checks.items()}
            last_known = dict(self.last_known)
        verdict = evaluate(check_id, checks, world, last_known, settle=self.settle)
        with self.lock:
            changed = self.last_known.get(check_id) != verdict.healthy
            self.last_known[check_id] = verdict.healthy
            if not verdict.healthy and self.last_failure.get(check_id, {}).get("status") != verdict.observation:
                self.last_failure[check_id] = {"status": verdict.observation, "time": _now_iso()}
                changed = True
            if changed and check_id in self.checks:
                self.save()
        return verdict


# ---------------------------------------------------------------------------------------------- the API


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in ("Id", "CallerReference", "HealthCheckConfig", "HealthCheckVersion")}


def _shown_region(config: dict[str, Any], tags: dict[str, str], regions: tuple[str, ...]) -> str | None:
    if config["Type"] == "CLOUDWATCH_METRIC":
        region = (config.get("AlarmIdentifier") or {}).get("Region")
        return str(region) if region else None
    return check_region(config, tags, regions)


def _observations(config: dict[str, Any], status: str, checked: str) -> list[dict[str, Any]]:
    regions = config.get("Regions") or CHECKER_REGIONS
    return [
        {"Region": r, "IPAddress": f"192.0.2.{i + 1}", "StatusReport": {"Status": status, "CheckedTime": checked}}
        for i, r in enumerate(regions)
    ]


# The health-check API the lab answers itself; the rest of Route53 (zones, records, other tags) goes on.
_OPERATIONS = frozenset((
    "CreateHealthCheck", "ListHealthChecks", "GetHealthCheckCount", "GetHealthCheck", "UpdateHealthCheck",
    "DeleteHealthCheck", "GetHealthCheckStatus", "GetHealthCheckLastFailureReason",
))  # fmt: skip
_TAG_OPERATIONS = frozenset(("ListTagsForResource", "ChangeTagsForResource", "ListTagsForResources"))


def route(method: str, path: str) -> tuple[str, str] | None:
    """(operation, health check id) for a health-check API call, None for anything else."""
    found = route53_route(method, path)
    if found is None:
        return None
    operation, params = found
    if operation in _TAG_OPERATIONS and params.get("ResourceType") == "healthcheck":
        return operation, params.get("ResourceId", "")
    if operation in _OPERATIONS:
        return operation, params.get("HealthCheckId", "")
    return None


class HealthChecks:
    """Middleware: answers the Route53 health-check API from the store; everything else goes on."""

    def __init__(self, store: HealthCheckStore, world: World) -> None:
        self.store = store
        self.world = world

    def __call__(self, req: LabRequest, forward: Forward) -> LabResponse:
        found = route(req.method, req.path) if req.service in ("route53", "") else None
        if found is None:
            return forward(req)
        operation, check_id = found
        try:
            return self.handle(operation, check_id, req)
        except ApiError as e:
            return route53_error(e.status, e.code, str(e))
        except ET.ParseError as e:
            return route53_error(400, "InvalidInput", f"Malformed XML: {e}")

    def handle(self, operation: str, check_id: str, req: LabRequest) -> LabResponse:
        store = self.store
        if operation == "CreateHealthCheck":
            params = route53_input(operation, req.body)
            if "CallerReference" not in params or "HealthCheckConfig" not in params:
                raise ApiError(400, "InvalidInput", "CallerReference and HealthCheckConfig are required")
            record, _ = store.create(params["CallerReference"], params["HealthCheckConfig"])
            location = f"https://route53.amazonaws.com{ROUTE53_PREFIX}healthcheck/{record['Id']}"
            return route53_response(operation, {"HealthCheck": _public(record)}, 201, Location=location)
        if operation == "ListHealthChecks":
            return route53_response(operation, self._page(req))
        if operation == "GetHealthCheckCount":
            return route53_response(operation, {"HealthCheckCount": len(store.checks)})
        if operation == "GetHealthCheck":
            return route53_response(operation, {"HealthCheck": _public(store.get(check_id))})
        if operation == "UpdateHealthCheck":
            record = store.update(check_id, route53_input(operation, req.body))
            return route53_response(operation, {"HealthCheck": _public(record)})
        if operation == "DeleteHealthCheck":
            store.delete(check_id)
            return route53_response(operation, {})
        if operation == "GetHealthCheckStatus":
            config = store.get(check_id)["HealthCheckConfig"]
            if config["Type"] == "CALCULATED":
                raise ApiError(
                    400, "InvalidInput", "Health check status is not available for calculated health checks"
                )
            verdict = store.status(check_id, self.world)
            return route53_response(
                operation, {"HealthCheckObservations": _observations(config, verdict.observation, _now_iso())}
            )
        if operation == "GetHealthCheckLastFailureReason":
            config = store.get(check_id)["HealthCheckConfig"]
            failure = store.last_failure.get(check_id)
            observations = _observations(config, failure["status"], failure["time"]) if failure else []
            return route53_response(operation, {"HealthCheckObservations": observations})
        if operation == "ListTagsForResource":
            return route53_response(operation, {"ResourceTagSet": self._tag_set(check_id)})
        if operation == "ChangeTagsForResource":
            params = route53_input(operation, req.body)
            store.change_tags(check_id, params.get("AddTags", []), params.get("RemoveTagKeys", []))
            return route53_response(operation, {})
        params = route53_input(operation, req.body)  # ListTagsForResources
        return route53_response(
            operation, {"ResourceTagSets": [self._tag_set(i) for i in params.get("ResourceIds", [])]}
        )

    def _tag_set(self, check_id: str) -> dict[str, Any]:
        tags = self.store.get(check_id)["Tags"]
        return {
            "ResourceType": "healthcheck",
            "ResourceId": check_id,
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        }

    def _page(self, req: LabRequest) -> dict[str, Any]:
        ids = list(self.store.checks)
        marker = (req.query.get("marker") or [""])[0]
        max_items = int((req.query.get("maxitems") or ["100"])[0])
        start = ids.index(marker) if marker in ids else 0
        page = ids[start : start + max_items]
        out: dict[str, Any] = {
            "HealthChecks": [_public(self.store.checks[i]) for i in page],
            "Marker": marker,
            "IsTruncated": start + max_items < len(ids),
            "MaxItems": str(max_items),
        }
        if out["IsTruncated"]:
            out["NextMarker"] = ids[start + max_items]
        return out

    def lab_view(self) -> list[dict[str, Any]]:
        """Every check with the lab-computed status (CALCULATED included), for GET /_lab/health."""
        view = []
        for check_id in list(self.store.checks):
            record = self.store.checks.get(check_id)
            if record is None:
                continue
            verdict = self.store.status(check_id, self.world)
            config = record["HealthCheckConfig"]
            view.append({
                "id": check_id,
                "type": config["Type"],
                "healthy": verdict.healthy,
                "status": verdict.observation,
                "region": _shown_region(config, record["Tags"], self.world.regions),
                "inverted": bool(config.get("Inverted")),
                "disabled": bool(config.get("Disabled")),
                "children": config.get("ChildHealthChecks", []),
                "tags": record["Tags"],
            })  # fmt: skip
        return view
