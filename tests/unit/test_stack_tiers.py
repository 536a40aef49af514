"""Optional tiers and traffic methods in the stack file: only the global database is required."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from drctl.errors import ConfigError, ExitCode
from drctl.stack import TIERS, parse_stack

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stack.example.toml"
PATH = Path("s.toml")


def minimal(method: str | None = "health-check") -> dict[str, Any]:
    """The global database, and (unless method is None) failover records with endpoint checks."""
    data: dict[str, Any] = {
        "name": "min",
        "database": {"global_cluster_id": "g"},
        "regions": {
            "us-east-1": {"role": "primary", "cluster_id": "a", "cluster_arn": "arn:a"},
            "us-west-2": {"role": "secondary", "cluster_id": "b", "cluster_arn": "arn:b"},
        },
    }
    if method is not None:
        data["traffic"] = {"method": method}
        data["route53"] = {"zone_id": "Z1", "record_name": "app.example.com"}
        for i, region in enumerate(data["regions"].values()):
            region.update(record_set_identifier=f"r{i}", health_check_id=f"hc{i}")
    return data


def test_only_the_database_is_required() -> None:
    stack = parse_stack(minimal(None), PATH)
    assert stack.traffic_method == "none" and not stack.moves_traffic
    assert [t.name for t in stack.missing_tiers()] == ["traffic (none)", *(t.name for t in TIERS)]


def test_health_check_traffic_needs_only_the_record_and_its_check() -> None:
    stack = parse_stack(minimal(), PATH)
    assert stack.traffic_method == "health-check"
    gap = stack.missing_tiers()[0]
    assert gap.name == "traffic (health-check)" and "control plane" in gap.will_not and "us-east-1" in gap.cost


def test_a_file_without_traffic_table_keeps_the_switch() -> None:
    stack = parse_stack(tomllib.loads(EXAMPLE.read_text()), PATH)
    assert stack.traffic_method == "switch" and stack.missing_tiers() == []


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (lambda d: d["traffic"].update(method="teleport"), "traffic.method: unknown traffic method 'teleport'"),
        (lambda d: d.pop("route53"), "route53: missing required table (traffic method 'health-check'"),
        (
            lambda d: d["regions"]["us-west-2"].pop("health_check_id"),
            "regions.us-west-2.health_check_id: missing required key (traffic method 'health-check')",
        ),
        (
            lambda d: d["regions"]["us-east-1"].update(alb_arn="arn:lb", asg_name="g"),
            "regions.us-east-1.target_group_arn: missing: the compute tier is half-described",
        ),
        (
            lambda d: d["regions"]["us-east-1"].update(backup_vault="v"),
            "regions.us-west-2.backup_vault: missing: the backups tier is described in us-east-1 only",
        ),
        (lambda d: d.update(probe={"url": "http://x/"}) or d.pop("route53"), "route53: missing required table"),
    ],
)
def test_bad_tiers_are_one_config_error_naming_the_key(edit: Any, said: str) -> None:
    data = minimal()
    edit(data)
    with pytest.raises(ConfigError) as e:
        parse_stack(data, PATH)
    assert said in e.value.message and "\n" not in str(e.value)
    assert e.value.code == ExitCode.CONFIG


def test_probe_without_records_is_refused() -> None:
    data = minimal(None)
    data["probe"] = {"url": "http://app.example.com/health"}
    with pytest.raises(ConfigError, match=r"probe\.url: needs \[route53\] record_name"):
        parse_stack(data, PATH)


def test_a_tier_in_every_region_is_on() -> None:
    data = minimal()
    for i, region in enumerate(data["regions"].values()):
        region.update(alb_arn=f"lb{i}", target_group_arn=f"tg{i}", asg_name=f"g{i}", lock_table="locks")
    stack = parse_stack(data, PATH)
    assert stack.has("compute") and stack.has("lock table") and not stack.has("backups")


def test_rto_estimate_follows_the_traffic_method() -> None:
    from drctl.status.compute import ROUTE53_PROPAGATION_S, rto_estimate
    from drctl.status.estimates import PROMOTION_ESTIMATE_S

    total, _, points = rto_estimate(parse_stack(minimal(), PATH), None, None, None, None)
    names = [p.name for p in points]
    assert "failover records changed" in names and "alarm in ALARM" not in names
    assert total == PROMOTION_ESTIMATE_S + ROUTE53_PROPAGATION_S  # no compute tier: no warm-up counted
    total, _, points = rto_estimate(parse_stack(minimal(None), PATH), None, None, None, None)
    assert [p.name for p in points] == ["promotion sent", "database writable"] and total == PROMOTION_ESTIMATE_S
