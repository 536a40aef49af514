"""Stack file loading: the example is valid; bad files give one line naming the key and the file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from drctl.errors import ConfigError, ExitCode
from drctl.stack import load_stack, parse_stack, write_stack_file

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stack.example.toml"


def example() -> dict:
    return tomllib.loads(EXAMPLE.read_text())


def test_example_loads() -> None:
    stack = load_stack(EXAMPLE)
    assert stack.primary.name == "us-east-1"
    assert stack.secondary.switch_alarm_region == "us-east-1"
    assert stack.resolve_region("secondary").name == "us-west-2"
    assert stack.objectives.max_switchover_lag_ms == 1000.0


def test_round_trip(tmp_path: Path) -> None:
    path = write_stack_file(example(), tmp_path / "stack.toml")
    assert load_stack(path).regions == load_stack(EXAMPLE).regions


def test_missing_key_names_key_and_file(tmp_path: Path) -> None:
    data = example()
    del data["regions"]["us-west-2"]["asg_name"]
    with pytest.raises(ConfigError) as e:
        parse_stack(data, tmp_path / "s.toml")
    assert "regions.us-west-2.asg_name" in e.value.message and "s.toml" in e.value.message
    assert e.value.code == ExitCode.CONFIG


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d["objectives"].__setitem__("rpo_s", "five"), "objectives.rpo_s"),
        (lambda d: d["regions"]["us-east-1"].__setitem__("role", "tertiary"), "regions.us-east-1.role"),
        (lambda d: d["regions"].pop("us-east-1"), "exactly two regions"),
        (lambda d: d["regions"].__setitem__("mars-1", d["regions"].pop("us-east-1")), "not an AWS region"),
        (
            lambda d: d.setdefault("aws", {}).__setitem__("static_credentials", {"access_key_id": "AKIAXXXX"}),
            "real AWS key",
        ),
        # Found by bench/faults.py: each of these reached AWS calls and ended in an internal error or was used.
        (lambda d: d["regions"].__setitem__("us-east-2", d["regions"].pop("us-west-2")), "switch_alarm_region"),
        (lambda d: d["objectives"].__setitem__("rpo_s", -5), "objectives.rpo_s: must be a number of at least 0"),
        (lambda d: d["objectives"].__setitem__("max_switchover_lag_ms", -1), "max_switchover_lag_ms"),
        (
            lambda d: d.setdefault("aws", {}).__setitem__("endpoints", {"us-east-1": "not a url"}),
            "aws.endpoints.us-east-1: expected an http(s) URL",
        ),
        (lambda d: d["route53"].__setitem__("name_servers", "127.0.0.1:53"), "route53.name_servers: expected a"),
        (lambda d: d["route53"].__setitem__("name_servers", []), "route53.name_servers: expected a non-empty"),
        (lambda d: d["route53"].__setitem__("name_servers", ["127.0.0.1:0"]), "port must be a number from 1"),
        (lambda d: d["route53"].__setitem__("name_servers", ["::1"]), "IPv6 address goes in brackets"),
        (lambda d: d["route53"].__setitem__("name_servers", ["bad host:53"]), "neither an IP address nor"),
        (lambda d: d["route53"].__setitem__("name_servers", [53]), 'expected "host:port" strings'),
        (
            lambda d: d.__setitem__("probe", {"url": "ftp://app.payments.example.com/"}),
            "probe.url: expected an http",
        ),
        (lambda d: d.__setitem__("probe", {"url": "https://app.payments.example.com:x/"}), "probe.url: expected"),
        (lambda d: d.__setitem__("probe", {"url": "https://other.example.com/"}), "its host must be the record"),
        (lambda d: d.__setitem__("probe", {"expect_status": "2xx"}), "probe.expect_status: expected HTTP status"),
        (lambda d: d.__setitem__("probe", {"expect_status": [700]}), "run from 100 to 599"),
        (lambda d: d.__setitem__("probe", {"expect_status": "399-200"}), "low to high"),
        (lambda d: d.__setitem__("probe", {"expect_status": []}), "got an empty list"),
        (lambda d: d.__setitem__("probe", {"expect_status": True}), "expected HTTP status codes"),
        (lambda d: d.__setitem__("probe", {"timeout_s": 0}), "probe.timeout_s: seconds per attempt"),
        (lambda d: d.__setitem__("probe", {"timeout_s": "2"}), "probe.timeout_s: expected float"),
        (lambda d: d["route53"].__setitem__("max_requests_per_s", 0), "route53.max_requests_per_s: requests per"),
        (lambda d: d["route53"].__setitem__("max_requests_per_s", float("nan")), "route53.max_requests_per_s"),
        (lambda d: d["route53"].__setitem__("burst", 0), "route53.burst: requests sent at once, 1 to 1000"),
        (
            lambda d: d["regions"]["us-west-2"].__setitem__("app_health_alarms", "app-5xx"),
            "regions.us-west-2.app_health_alarms: expected a list of alarm names",
        ),
        (lambda d: d["regions"]["us-west-2"].__setitem__("app_health_alarms", [5]), "expected alarm names"),
        (lambda d: d["regions"]["us-west-2"].__setitem__("app_health_alarms", [""]), "1 to 255 characters"),
        (lambda d: d["regions"]["us-west-2"].__setitem__("app_health_alarms", ["a", "a"]), "'a' is listed twice"),
        (
            lambda d: d["regions"]["us-west-2"].__setitem__("app_health_alarms", [f"a{i}" for i in range(101)]),
            "at most 100 alarm names",
        ),
    ],
)
def test_bad_values(tmp_path: Path, mutate, needle: str) -> None:
    data = example()
    mutate(data)
    with pytest.raises(ConfigError) as e:
        parse_stack(data, tmp_path / "s.toml")
    assert needle in e.value.message


def test_name_servers_round_trip(tmp_path: Path) -> None:
    data = example()
    data["route53"]["name_servers"] = ["127.0.0.1:5353", "[::1]:53", "ns-1.awsdns-1.com"]
    stack = load_stack(write_stack_file(data, tmp_path / "stack.toml"))
    assert stack.name_servers == ("127.0.0.1:5353", "[::1]:53", "ns-1.awsdns-1.com")
    assert load_stack(EXAMPLE).name_servers == ()


def test_probe_defaults_and_round_trip(tmp_path: Path) -> None:
    assert load_stack(EXAMPLE).probe.url == ""  # off unless the file names a url
    assert load_stack(EXAMPLE).probe.expect_status == ((200, 399),)
    data = example()
    data["probe"] = {"url": "https://APP.payments.example.com./health", "expect_status": [200, "301-302"]}
    probe = load_stack(write_stack_file(data, tmp_path / "stack.toml")).probe
    assert (probe.host, probe.expect_status, probe.timeout_s) == (
        "app.payments.example.com.",
        ((200, 200), (301, 302)),
        2.0,
    )


def test_app_health_alarms_per_region(tmp_path: Path) -> None:
    stack = load_stack(EXAMPLE)
    assert stack.regions["us-west-2"].app_health_alarms == (
        "payments-prod-usw2-alb-unhealthy-hosts",
        "payments-prod-usw2-alb-5xx",
    )
    data = example()
    data["regions"]["us-west-2"]["app_health_alarms"] = []
    del data["regions"]["us-east-1"]["app_health_alarms"]
    stack = load_stack(write_stack_file(data, tmp_path / "stack.toml"))
    assert stack.regions["us-west-2"].app_health_alarms == () == stack.regions["us-east-1"].app_health_alarms


def test_bad_app_health_alarms_is_one_line_exit_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from drctl.cli.app import run

    text = EXAMPLE.read_text().replace('app_health_alarms = ["payments-prod-usw2', 'app_health_alarms = [7, "x')
    path = tmp_path / "stack.toml"
    path.write_text(text)
    rc = run(["status", "--stack", str(path), "--json"])
    err = capsys.readouterr().err.strip()
    assert rc == ExitCode.CONFIG == 4
    assert "regions.us-west-2.app_health_alarms: expected alarm names (strings), got int" in err
    assert "Traceback" not in err


def test_unknown_region_name() -> None:
    with pytest.raises(ConfigError) as e:
        load_stack(EXAMPLE).resolve_region("eu-central-1")
    assert "eu-central-1" in e.value.message


def test_malformed_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_stack(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_stack(tmp_path / "nope.toml")


def test_route53_request_rate_defaults_below_the_documented_bucket(tmp_path: Path) -> None:
    """Route 53's GetHealthCheckStatus bucket: capacity 4, refill 1/s (docs/fidelity.md D-15)."""
    from drctl.stack import Route53Api

    api = parse_stack(example(), tmp_path / "s.toml").route53_api
    assert api.max_requests_per_s < Route53Api.DOCUMENTED_RATE_PER_S
    assert api.burst < Route53Api.DOCUMENTED_BURST
    data = example()
    data["route53"].update(max_requests_per_s=0.5, burst=1)
    round_tripped = load_stack(write_stack_file(data, tmp_path / "s.toml")).route53_api
    assert (round_tripped.max_requests_per_s, round_tripped.burst) == (0.5, 1)
