"""The lab gateway's request parsing (pure: bytes in, a LabRequest out)."""

from __future__ import annotations

from drctl.lab.protocol import parse_request


def test_parse_request_reads_route53_health_check_paths() -> None:
    auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/route53/aws4_request, SignedHeaders=host"
    req = parse_request("GET", "/2013-04-01/healthcheck/abc-123/status", {"Authorization": auth}, b"", "global")
    assert (req.service, req.region, req.operation) == ("route53", "us-east-1", "GetHealthCheckStatus")
    body = (
        b"<CreateHealthCheckRequest xmlns='x'>"
        b"<HealthCheckConfig><Type>CALCULATED</Type></HealthCheckConfig></CreateHealthCheckRequest>"
    )
    req = parse_request("POST", "/2013-04-01/healthcheck", {"Authorization": auth}, body, "global")
    assert req.operation == "CreateHealthCheck"
    assert req.params == {"HealthCheckConfig.Type": "CALCULATED"}
