"""The lab's Route53 health checks: wire format through botocore, status model, persistence."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from drctl.lab.health import HealthChecks, HealthCheckStore, check_region, evaluate
from drctl.lab.http import LabRequest, LabResponse

REGIONS = ("us-east-1", "us-west-2")


@dataclass
class FakeWorld:
    regions: tuple[str, ...] = REGIONS
    down: set[str] = field(default_factory=set)
    faults: set[str] = field(default_factory=set)
    alarms: dict[tuple[str, str], str] = field(default_factory=dict)

    def is_region_down(self, region: str) -> bool:
        return region in self.down

    def app_failing(self, region: str) -> bool:
        return region in self.faults

    def alarm_state(self, region: str, name: str) -> str | None:
        return self.alarms.get((region, name))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def _not_forwarded(req: LabRequest) -> LabResponse:
    raise AssertionError(f"unexpectedly forwarded: {req.method} {req.path}")


def route53_through(middleware: HealthChecks) -> Any:
    """A real botocore route53 client whose HTTP layer is the middleware, in process."""
    client = boto3.client(
        "route53",
        region_name="us-east-1",
        endpoint_url="http://lab.invalid",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )

    def send(request: Any, **_: Any) -> AWSResponse:
        parts = urlsplit(request.url)
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        req = LabRequest(
            request.method, parts.path, parse_qs(parts.query), headers, body, "global", "us-east-1", "route53", ""
        )
        resp = middleware(req, _not_forwarded)
        return AWSResponse(request.url, resp.status, resp.headers, _Raw(resp.body))

    client.meta.events.register("before-send", send)
    return client


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


@pytest.fixture
def r53(tmp_path: Path, world: FakeWorld) -> Any:
    return route53_through(HealthChecks(HealthCheckStore(tmp_path / "hc.json", time_scale=0), world))


def _create(r53: Any, ref: str, **config: Any) -> str:
    return str(r53.create_health_check(CallerReference=ref, HealthCheckConfig=config)["HealthCheck"]["Id"])


def test_every_field_round_trips(r53: Any) -> None:
    https = _create(
        r53,
        "a",
        Type="HTTPS",
        FullyQualifiedDomainName="app-1.us-east-1.elb.amazonaws.com",
        ResourcePath="/health",
        Regions=["us-east-1", "us-west-1", "us-west-2"],
    )
    ip_only = _create(r53, "b", Type="HTTP", IPAddress="192.0.2.44", Port=8080, Inverted=True, Disabled=True)
    alarm = _create(
        r53,
        "c",
        Type="CLOUDWATCH_METRIC",
        AlarmIdentifier={"Region": "us-west-2", "Name": "switch"},
        InsufficientDataHealthStatus="Unhealthy",
        Inverted=True,
    )
    calc = _create(r53, "d", Type="CALCULATED", ChildHealthChecks=[https, alarm], HealthThreshold=1, Disabled=True)

    got = r53.get_health_check(HealthCheckId=https)["HealthCheck"]
    assert got["CallerReference"] == "a" and got["HealthCheckVersion"] == 1
    assert got["HealthCheckConfig"] == {
        "Type": "HTTPS",
        "FullyQualifiedDomainName": "app-1.us-east-1.elb.amazonaws.com",
        "ResourcePath": "/health",
        "Regions": ["us-east-1", "us-west-1", "us-west-2"],
        "Port": 443,
        "RequestInterval": 30,
        "FailureThreshold": 3,
        "MeasureLatency": False,
        "EnableSNI": True,
        "Inverted": False,
        "Disabled": False,
    }
    cfg = r53.get_health_check(HealthCheckId=ip_only)["HealthCheck"]["HealthCheckConfig"]
    assert "FullyQualifiedDomainName" not in cfg
    assert (cfg["IPAddress"], cfg["Port"], cfg["Inverted"], cfg["Disabled"]) == ("192.0.2.44", 8080, True, True)
    cfg = r53.get_health_check(HealthCheckId=alarm)["HealthCheck"]["HealthCheckConfig"]
    assert cfg["AlarmIdentifier"] == {"Region": "us-west-2", "Name": "switch"}
    assert cfg["InsufficientDataHealthStatus"] == "Unhealthy" and cfg["Inverted"] is True
    cfg = r53.get_health_check(HealthCheckId=calc)["HealthCheck"]["HealthCheckConfig"]
    assert cfg["ChildHealthChecks"] == [https, alarm]
    assert (cfg["HealthThreshold"], cfg["Disabled"], cfg["Inverted"]) == (1, True, False)

    listed = r53.list_health_checks()
    assert [h["Id"] for h in listed["HealthChecks"]] == [https, ip_only, alarm, calc]
    assert listed["IsTruncated"] is False
    page = r53.list_health_checks(MaxItems="3")
    assert page["IsTruncated"] is True and page["NextMarker"] == calc
    assert [h["Id"] for h in r53.list_health_checks(Marker=calc)["HealthChecks"]] == [calc]
    assert r53.get_health_check_count()["HealthCheckCount"] == 4


def test_caller_reference_is_idempotent(r53: Any) -> None:
    first = _create(r53, "ref", Type="TCP", IPAddress="192.0.2.1", Port=5432)
    assert _create(r53, "ref", Type="TCP", IPAddress="192.0.2.1", Port=5432) == first
    with pytest.raises(ClientError) as e:
        _create(r53, "ref", Type="TCP", IPAddress="192.0.2.2", Port=5432)
    assert e.value.response["Error"]["Code"] == "HealthCheckAlreadyExists"


def test_update_versions_reset_elements_and_delete(r53: Any) -> None:
    check = _create(r53, "u", Type="HTTP", FullyQualifiedDomainName="app.example.com", ResourcePath="/x")
    updated = r53.update_health_check(
        HealthCheckId=check, HealthCheckVersion=1, Inverted=True, ResetElements=["ResourcePath"]
    )["HealthCheck"]
    assert updated["HealthCheckVersion"] == 2
    assert updated["HealthCheckConfig"]["Inverted"] is True
    assert "ResourcePath" not in updated["HealthCheckConfig"]
    with pytest.raises(ClientError) as e:
        r53.update_health_check(HealthCheckId=check, HealthCheckVersion=1, Disabled=True)
    assert e.value.response["Error"]["Code"] == "HealthCheckVersionMismatch"
    r53.delete_health_check(HealthCheckId=check)
    with pytest.raises(ClientError) as e:
        r53.get_health_check(HealthCheckId=check)
    assert e.value.response["Error"]["Code"] == "NoSuchHealthCheck"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_tags_round_trip(r53: Any) -> None:
    check = _create(r53, "t", Type="HTTP", FullyQualifiedDomainName="app.example.com")
    r53.change_tags_for_resource(
        ResourceType="healthcheck",
        ResourceId=check,
        AddTags=[{"Key": "Name", "Value": "app"}, {"Key": "lab:region", "Value": "x"}],
    )
    r53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=check, RemoveTagKeys=["lab:region"])
    tags = r53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=check)["ResourceTagSet"]
    assert tags == {"ResourceType": "healthcheck", "ResourceId": check, "Tags": [{"Key": "Name", "Value": "app"}]}
    many = r53.list_tags_for_resources(ResourceType="healthcheck", ResourceIds=[check])["ResourceTagSets"]
    assert many == [tags]


def _status(r53: Any, check: str) -> list[str]:
    obs = r53.get_health_check_status(HealthCheckId=check)["HealthCheckObservations"]
    assert obs, "observations expected"
    return sorted({o["StatusReport"]["Status"].split(":")[0] for o in obs})


def test_endpoint_check_follows_region_and_app_fault(r53: Any, world: FakeWorld) -> None:
    check = _create(r53, "h", Type="HTTPS", FullyQualifiedDomainName="app-9.us-west-2.elb.amazonaws.com")
    tcp = _create(r53, "tcp", Type="TCP", FullyQualifiedDomainName="db.us-west-2.example.com", Port=5432)
    assert _status(r53, check) == ["Success"]
    assert r53.get_health_check_last_failure_reason(HealthCheckId=check)["HealthCheckObservations"] == []
    world.faults.add("us-west-2")
    assert _status(r53, check) == ["Failure"]
    assert _status(r53, tcp) == ["Success"]  # a TCP check only sees the connection
    world.faults.clear()
    world.down.add("us-west-2")
    assert _status(r53, check) == ["Failure"] and _status(r53, tcp) == ["Failure"]
    world.down.clear()
    assert _status(r53, check) == ["Success"]
    last = r53.get_health_check_last_failure_reason(HealthCheckId=check)["HealthCheckObservations"]
    assert last and last[0]["StatusReport"]["Status"].startswith("Failure: Connection timed out")


def test_alarm_check_follows_alarm_and_insufficient_data(r53: Any, world: FakeWorld) -> None:
    key = ("us-west-2", "switch")
    last_known = _create(
        r53,
        "lk",
        Type="CLOUDWATCH_METRIC",
        AlarmIdentifier={"Region": key[0], "Name": key[1]},
        InsufficientDataHealthStatus="LastKnownStatus",
    )
    unhealthy = _create(
        r53,
        "uh",
        Type="CLOUDWATCH_METRIC",
        AlarmIdentifier={"Region": key[0], "Name": key[1]},
        InsufficientDataHealthStatus="Unhealthy",
    )
    world.alarms[key] = "OK"
    assert _status(r53, last_known) == ["Success"] and _status(r53, unhealthy) == ["Success"]
    world.alarms[key] = "ALARM"
    assert _status(r53, last_known) == ["Failure"]
    world.alarms[key] = "INSUFFICIENT_DATA"
    assert _status(r53, last_known) == ["Failure"]  # last known: unhealthy
    assert _status(r53, unhealthy) == ["Failure"]
    world.alarms[key] = "OK"
    assert _status(r53, last_known) == ["Success"]
    world.down.add("us-west-2")  # the alarm's region unreachable: no data
    assert _status(r53, last_known) == ["Success"] and _status(r53, unhealthy) == ["Failure"]


def test_calculated_status_is_refused_like_aws(r53: Any) -> None:
    child = _create(r53, "c1", Type="HTTP", FullyQualifiedDomainName="a.us-east-1.example.com")
    calc = _create(r53, "calc", Type="CALCULATED", ChildHealthChecks=[child], HealthThreshold=1)
    with pytest.raises(ClientError) as e:
        r53.get_health_check_status(HealthCheckId=calc)
    assert e.value.response["Error"]["Code"] == "InvalidInput"


def _record(config: dict[str, Any], tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {"HealthCheckConfig": config, "Tags": tags or {}}


def test_calculated_combines_children_with_threshold_inverted_disabled(world: FakeWorld) -> None:
    checks = {
        "east": _record({"Type": "HTTP", "FullyQualifiedDomainName": "a.us-east-1.example.com"}),
        "west": _record({"Type": "HTTP", "FullyQualifiedDomainName": "b.us-west-2.example.com"}),
        "east-inverted": _record({"Type": "HTTP", "FullyQualifiedDomainName": "c.us-east-1.x", "Inverted": True}),
        "west-disabled": _record({"Type": "HTTP", "FullyQualifiedDomainName": "d.us-west-2.x", "Disabled": True}),
        "two": _record({"Type": "CALCULATED", "ChildHealthChecks": ["east", "west"], "HealthThreshold": 2}),
        "one": _record({"Type": "CALCULATED", "ChildHealthChecks": ["east", "west"], "HealthThreshold": 1}),
        "zero": _record({"Type": "CALCULATED", "ChildHealthChecks": ["east"], "HealthThreshold": 0}),
        "not-two": _record(
            {"Type": "CALCULATED", "ChildHealthChecks": ["east", "west"], "HealthThreshold": 2, "Inverted": True}
        ),
        "mixed": _record(
            {
                "Type": "CALCULATED",
                "HealthThreshold": 2,
                "ChildHealthChecks": ["east-inverted", "west-disabled", "missing"],
            }
        ),
    }

    def healthy(check_id: str) -> bool:
        return evaluate(check_id, checks, world).healthy

    assert [healthy(c) for c in ("two", "one", "zero", "not-two", "mixed")] == [True, True, True, False, False]
    world.down.add("us-east-1")
    assert [healthy(c) for c in ("two", "one", "zero", "not-two", "mixed")] == [False, True, True, True, True]
    world.down.add("us-west-2")  # a disabled child stays healthy
    assert [healthy(c) for c in ("two", "one", "zero", "not-two", "mixed")] == [False, False, True, True, True]
    assert evaluate("one", checks, world).observation.startswith("Failure: 0 of 2")


def test_region_of_a_check() -> None:
    assert (
        check_region({"FullyQualifiedDomainName": "app-1.us-west-2.elb.amazonaws.com"}, {}, REGIONS) == "us-west-2"
    )
    assert check_region({"IPAddress": "192.0.2.1"}, {"lab:region": "us-east-1"}, REGIONS) == "us-east-1"
    assert (
        check_region({"IPAddress": "192.0.2.1", "ResourcePath": "/us-east-1/health"}, {}, REGIONS) == "us-east-1"
    )
    assert check_region({"FullyQualifiedDomainName": "us-east-10.example.com"}, {}, REGIONS) is None


def test_store_survives_a_restart(tmp_path: Path, world: FakeWorld) -> None:
    r53 = route53_through(HealthChecks(HealthCheckStore(tmp_path / "hc.json", time_scale=0), world))
    check = _create(r53, "p", Type="CLOUDWATCH_METRIC", AlarmIdentifier={"Region": "us-west-2", "Name": "s"})
    r53.change_tags_for_resource(
        ResourceType="healthcheck", ResourceId=check, AddTags=[{"Key": "k", "Value": "v"}]
    )
    again = route53_through(HealthChecks(HealthCheckStore(tmp_path / "hc.json", time_scale=0), world))
    assert again.get_health_check(HealthCheckId=check)["HealthCheck"]["HealthCheckConfig"]["AlarmIdentifier"] == {
        "Region": "us-west-2",
        "Name": "s",
    }
    assert again.list_tags_for_resource(ResourceType="healthcheck", ResourceId=check)["ResourceTagSet"][
        "Tags"
    ] == [{"Key": "k", "Value": "v"}]


def test_other_route53_calls_are_forwarded(tmp_path: Path, world: FakeWorld) -> None:
    middleware = HealthChecks(HealthCheckStore(tmp_path / "hc.json", time_scale=0), world)
    seen: list[str] = []

    def forward(req: LabRequest) -> LabResponse:
        seen.append(req.path)
        return LabResponse.xml(200, "<ok/>")

    for path in ("/2013-04-01/hostedzone", "/2013-04-01/tags/hostedzone/Z1"):
        req = LabRequest("GET", path, {}, {}, b"", "global", "us-east-1", "route53", "")
        middleware(req, forward)
    assert seen == ["/2013-04-01/hostedzone", "/2013-04-01/tags/hostedzone/Z1"]


def test_last_known_status_of_an_inverted_alarm_check(world: FakeWorld) -> None:
    alarm = {"Region": "us-west-2", "Name": "s"}
    checks = {
        "inv": _record(
            {
                "Type": "CLOUDWATCH_METRIC",
                "AlarmIdentifier": alarm,
                "Inverted": True,
                "InsufficientDataHealthStatus": "LastKnownStatus",
            }
        )
    }
    world.alarms[("us-west-2", "s")] = "ALARM"
    assert evaluate("inv", checks, world, {}).healthy is True
    world.alarms.clear()  # insufficient data: the check keeps its own last status
    assert evaluate("inv", checks, world, {"inv": True}).healthy is True
    assert evaluate("inv", checks, world, {"inv": False}).healthy is False
