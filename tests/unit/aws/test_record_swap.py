"""The health-check traffic method's flip: one atomic batch that makes the target's record PRIMARY."""

from __future__ import annotations

from typing import Any

from drctl.aws.route53_actions import make_record_primary


def record(set_id: str, failover: str, check: str) -> dict[str, Any]:
    return {
        "Name": "app.example.com.",
        "Type": "A",
        "SetIdentifier": set_id,
        "Failover": failover,
        "AliasTarget": {
            "HostedZoneId": "Z2",
            "DNSName": f"{set_id}.elb.amazonaws.com.",
            "EvaluateTargetHealth": False,
        },
        "HealthCheckId": check,
    }


RECORDS = [record("east", "PRIMARY", "hc-east"), record("west", "SECONDARY", "hc-west")]


def test_deletes_what_was_read_and_creates_it_with_the_roles_swapped() -> None:
    call = make_record_primary("Z1", RECORDS, "west")
    assert call is not None and call.operation == "ChangeResourceRecordSets" and call.region == "us-east-1"
    changes = call.params["ChangeBatch"]["Changes"]
    assert [c["Action"] for c in changes] == ["DELETE", "DELETE", "CREATE", "CREATE"]
    assert [c["ResourceRecordSet"] for c in changes[:2]] == RECORDS  # exact values: a stale read fails whole
    created = {c["ResourceRecordSet"]["SetIdentifier"]: c["ResourceRecordSet"] for c in changes[2:]}
    assert created["west"]["Failover"] == "PRIMARY" and created["east"]["Failover"] == "SECONDARY"
    # health checks stay on their records: neither Inverted nor Disabled anywhere
    assert created["west"]["HealthCheckId"] == "hc-west" and created["east"]["HealthCheckId"] == "hc-east"
    assert RECORDS[0]["Failover"] == "PRIMARY"  # the records read are not modified


def test_nothing_to_do_when_the_target_is_primary_or_unknown() -> None:
    assert make_record_primary("Z1", RECORDS, "east") is None
    assert make_record_primary("Z1", RECORDS, "nowhere") is None
