"""The gateway's one parse per request: operations by protocol, Route53 routes from botocore, errors in kind."""

from __future__ import annotations

import re

import botocore.session
import pytest

from drctl.lab import health
from drctl.lab.faults import throttled
from drctl.lab.protocol import aws_error, parse_request, route53_route

SCOPE = "AWS4-HMAC-SHA256 Credential=test/20261202/{region}/{service}/aws4_request, SignedHeaders=host"


def _signed(region: str, service: str, **headers: str) -> dict[str, str]:
    return {"Authorization": SCOPE.format(region=region, service=service), **headers}


def test_query_json_and_rest_xml_requests_name_their_operation() -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    rds = parse_request(
        "POST",
        "/",
        _signed("us-west-2", "rds", **form),
        b"Action=FailoverGlobalCluster&GlobalClusterIdentifier=g",
        "x",
    )
    assert (rds.region, rds.service, rds.operation) == ("us-west-2", "rds", "FailoverGlobalCluster")
    assert rds.params == {"GlobalClusterIdentifier": "g"}
    ddb = parse_request(
        "POST", "/", _signed("us-east-1", "dynamodb", **{"X-Amz-Target": "DynamoDB_20120810.PutItem"}),
        b'{"TableName": "locks"}', "x",
    )  # fmt: skip
    assert (ddb.operation, ddb.params) == ("PutItem", {"TableName": "locks"})
    r53 = parse_request(
        "GET", "/2013-04-01/healthcheck/abc/status", _signed("us-east-1", "route53"), b"", "global"
    )
    assert r53.operation == "GetHealthCheckStatus"
    unknown = parse_request("GET", "/2013-04-01/nothing-here", _signed("us-east-1", "route53"), b"", "global")
    assert unknown.operation == "GET /nothing-here"


def _operations() -> list[tuple[str, str, str]]:
    model = botocore.session.get_session().get_service_model("route53")
    return [
        (op.http["method"], op.http["requestUri"], name)
        for name in model.operation_names
        if (op := model.operation_model(name))
    ]


@pytest.mark.parametrize(("method", "uri", "operation"), _operations(), ids=lambda v: str(v))
def test_every_route53_operation_is_routed_to_its_own_name(method: str, uri: str, operation: str) -> None:
    path = re.sub(r"\{([^}]+)\}", lambda m: f"x-{m.group(1).lower()}", uri.split("?", 1)[0])
    found = route53_route(method, path)
    assert found is not None and found[0] == operation
    assert all(v == f"x-{k.lower()}" for k, v in found[1].items())


def test_health_answers_its_own_api_and_lets_zones_and_their_tags_through() -> None:
    assert health.route("GET", "/2013-04-01/healthcheck/abc") == ("GetHealthCheck", "abc")
    assert health.route("POST", "/2013-04-01/tags/healthcheck/abc") == ("ChangeTagsForResource", "abc")
    assert health.route("POST", "/2013-04-01/tags/healthcheck") == ("ListTagsForResources", "")
    assert health.route("GET", "/2013-04-01/tags/hostedzone/Z1") is None
    assert health.route("POST", "/2013-04-01/hostedzone/Z1/rrset/") is None


@pytest.mark.parametrize(
    ("service", "headers", "status", "marker"),
    [
        ("rds", {"Content-Type": "application/x-www-form-urlencoded"}, 400, b"<ErrorResponse><Error><Type>Sender"),
        ("dynamodb", {"X-Amz-Target": "DynamoDB_20120810.GetItem"}, 400, b'"__type": "ThrottlingException"'),
        ("s3", {}, 503, b"<Error><Code>SlowDown</Code>"),
    ],
)
def test_injected_throttling_speaks_the_request_protocol(
    service: str, headers: dict[str, str], status: int, marker: bytes
) -> None:
    body = b"Action=DescribeDBClusters" if service == "rds" else b"{}"
    resp = throttled(
        parse_request(
            "POST", "/b/k" if service == "s3" else "/", _signed("us-east-1", service, **headers), body, "x"
        )
    )
    assert resp.status == status and marker in resp.body


def test_error_messages_are_escaped_in_xml() -> None:
    req = parse_request("GET", "/2013-04-01/hostedzone", _signed("us-east-1", "route53"), b"", "global")
    assert b"a &lt;b&gt;" in aws_error(req, 502, "ServiceUnavailable", "a <b>").body
