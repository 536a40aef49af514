"""The canary's pure parts: the ground truth from an ack log, the [canary] stack section, the secret's shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drctl.aws.secretsmanager import database_credentials, get_secret_value
from drctl.canary.check import analyse, outage_text, read_log, rpo_text
from drctl.canary.db import Credentials, Endpoint
from drctl.errors import ConfigError
from drctl.journal.phases import CANARY_AGAIN, CANARY_LAST, canary_points
from drctl.stack import parse_stack

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "stack.example.toml"


def ack(seq: int, t: float) -> dict[str, object]:
    return {"k": "ack", "seq": seq, "t": t, "sent": t - 0.01}


def test_missing_acknowledged_commits_are_counted_with_their_window() -> None:
    log = [ack(1, 100.0), ack(2, 100.05), ack(3, 100.10), ack(4, 100.15), ack(5, 100.20)]
    r = analyse("r", log, present=[1, 2, 5], read_from="h:1")
    assert (r.acked, r.missing, r.first_missing_seq, r.last_missing_seq) == (5, 2, 3, 4)
    assert r.missing_window_s == 0.05 and r.outages == ()
    assert "2 of 5 acknowledged transactions lost, window 0.050 s (seq 3-4" in rpo_text(r.to_dict())


def test_a_break_runs_from_the_last_ack_before_it_to_the_first_after_it() -> None:
    log = [
        ack(1, 10.0),
        ack(2, 10.05),
        {"k": "fail", "seq": 3, "t": 10.1, "error": "server closed the connection"},
        {"k": "down", "t": 10.4, "error": "refused"},
        {"k": "connected", "endpoint": "h:2", "t": 11.0},
        ack(4, 11.05),
    ]
    r = analyse("r", log, present=[1, 2, 3, 4], read_from="h:2")
    [o] = r.outages
    assert (o.from_seq, o.to_seq, o.duration_s, o.failed_attempts) == (2, 4, 1.0, 2)
    assert r.missing == 0 and r.unacked_present == 1  # seq 3 committed without an answer: not counted
    assert "1.000 s" in outage_text(r.to_dict())


def test_a_break_that_never_ended_has_no_end() -> None:
    r = analyse("r", [ack(1, 1.0), {"k": "fail", "seq": 2, "t": 1.1, "error": "x"}], present=[1], read_from="h")
    [o] = r.outages
    assert o.to_seq is None and o.duration_s is None
    assert "had not resumed" in outage_text(r.to_dict())


def test_a_torn_last_line_ends_the_log(tmp_path: Path) -> None:
    (tmp_path / "acks.jsonl").write_text(json.dumps(ack(1, 1.0)) + "\n" + '{"k":"ack","se')
    assert [e["seq"] for e in read_log(tmp_path)] == [1]


def test_the_longest_outage_becomes_two_recovery_points() -> None:
    result = {"outages": [{"from_t": 105.0, "to_t": 105.5}, {"from_t": 110.0, "to_t": 113.0}]}
    points = canary_points(result, t0=100.0)
    assert [(p.name, p.at_s) for p in points] == [(CANARY_LAST, 10.0), (CANARY_AGAIN, 13.0)]
    assert "3.000 s" in points[1].source


def test_the_canary_section_of_the_stack_file(tmp_path: Path) -> None:
    import tomllib

    data = tomllib.loads(EXAMPLE.read_text())
    assert not parse_stack(data, EXAMPLE).canary.configured
    data["canary"] = {
        "endpoints": {"us-east-1": "a.internal:5432", "us-west-2": "b.internal:5432"},
        "database": "app",
        "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:canary-AbCdEf",
        "rate": 50,
    }
    c = parse_stack(data, EXAMPLE).canary
    assert c.configured and c.endpoints == ("a.internal:5432", "b.internal:5432") and c.rate == 50
    data["canary"]["rate"] = 0
    with pytest.raises(ConfigError, match=r"canary\.rate"):
        parse_stack(data, EXAMPLE)
    data["canary"] = {"endpoints": ["no-port"], "database": "app"}
    with pytest.raises(ConfigError, match="is not host:port"):
        parse_stack(data, EXAMPLE)


def test_secret_values_are_read_from_the_secret_string_and_never_shown() -> None:
    arn = "arn:aws:secretsmanager:us-west-2:123456789012:secret:db-AbCdEf"
    call = get_secret_value(arn)
    assert (call.region, call.operation, call.params) == ("us-west-2", "GetSecretValue", {"SecretId": arn})
    resp = {"SecretString": json.dumps({"username": "app", "password": "s3cr3t-Xy", "engine": "postgres"})}
    assert database_credentials(resp, arn) == ("app", "s3cr3t-Xy")
    with pytest.raises(ConfigError) as e:
        database_credentials({"SecretString": '{"password": "s3cr3t-Xy"}'}, arn)
    assert "s3cr3t-Xy" not in str(e.value)
    assert "s3cr3t-Xy" not in repr(Credentials("app", "s3cr3t-Xy"))
    with pytest.raises(ConfigError):
        get_secret_value("not-an-arn")


def test_endpoints_parse() -> None:
    assert Endpoint.parse("db.internal:6432") == Endpoint("db.internal", 6432)
    assert Endpoint.parse("db.internal") == Endpoint("db.internal", 5432)
    with pytest.raises(ConfigError):
        Endpoint.parse("db:99999")


def test_the_failover_text_report_puts_the_canary_beside_the_estimate() -> None:
    import io

    from drctl.failover.render import report_text
    from drctl.failover.runner import RunReport

    result = analyse(
        "r",
        [ack(1, 10.0), {"k": "fail", "seq": 2, "t": 10.1, "error": "x"}, ack(3, 12.5), ack(4, 12.55)],
        present=[1, 3],
        read_from="h:1",
    ).to_dict()
    report = RunReport(
        run_id="20261202T190000Z-ab12",
        outcome="completed",
        from_region="us-east-1",
        to_region="us-west-2",
        mode="unplanned",
        rpo={"rpo_s": 2.5, "source": "AuroraGlobalDBRPOLag", "estimate": True},
        canary=result,
    )
    out = io.StringIO()
    report_text(report, out)
    lines = out.getvalue().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("RPO (estimated"))
    assert lines[at + 1].startswith(
        "RPO (canary, measured): 1 of 3 acknowledged transactions lost, window 0.000 s"
    )
    assert lines[at + 2].startswith("write outage (canary, measured): 2.500 s")
