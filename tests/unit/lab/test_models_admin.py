"""The models' /_lab/ endpoints: validation, persistence across a gateway restart, reset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drctl.lab.models import ModelSet, build_models

REGIONS = ("us-east-1", "us-west-2")


def _models(home: Path) -> ModelSet:
    # Nothing talks to the emulator until a request or a signals tick needs it.
    return build_models(emulator_url="http://127.0.0.1:9", regions=REGIONS, home=home)


def _call(models: ModelSet, method: str, name: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    resp = models.admin(method, f"/_lab/{name}", body or {})
    assert resp is not None
    return resp.status, json.loads(resp.body)


def test_settings_are_validated(tmp_path: Path) -> None:
    models = _models(tmp_path)
    assert _call(models, "POST", "app-fault", {"region": "eu-central-1"})[0] == 400
    assert _call(models, "POST", "durations", {"switchover_minutes": 1})[0] == 400
    assert _call(models, "POST", "durations", {"failover_s": -1})[0] == 400
    assert _call(models, "POST", "lag", {"ms": "fast"})[0] == 400
    assert _call(models, "POST", "lag", {})[0] == 400
    assert models.admin("GET", "/_lab/status", {}) is None  # the gateway's own endpoint, not ours


def test_settings_survive_a_restart_and_reset_restores_defaults(tmp_path: Path) -> None:
    models = _models(tmp_path)
    assert _call(models, "POST", "app-fault", {"region": "us-west-2", "failing": True}) == (
        200,
        {"app_faults": ["us-west-2"]},
    )
    status, durations = _call(models, "POST", "durations", {"switchover_s": 7, "warmup_s": 0.5})
    assert status == 200 and durations["durations"]["switchover_s"] == 7.0
    assert _call(models, "POST", "lag", {"ms": 2500})[1]["profile"]["lag_ms"] == 2500.0
    backlog = _call(models, "POST", "backlog", {"operations": 12, "bytes": 3000})[1]["profile"]
    assert (backlog["backlog_operations"], backlog["backlog_bytes"]) == (12.0, 3000.0)

    again = _models(tmp_path)
    assert again.world.app_faults == {"us-west-2"}
    assert (again.world.durations.switchover_s, again.world.durations.warmup_s) == (7.0, 0.5)
    assert _call(again, "GET", "signals")[1]["profile"]["lag_ms"] == 2500.0

    again.reset()
    status, health = _call(again, "GET", "health")
    assert status == 200 and health["app_faults"] == [] and health["health_checks"] == []
    # time scale 1: AWS's magnitudes
    assert health["durations"]["switchover_s"] == 120.0 and health["signals"]["profile"]["lag_ms"] == 100.0
    assert _models(tmp_path).world.app_faults == set()


def test_outages_come_from_the_gateway(tmp_path: Path) -> None:
    models = _models(tmp_path)
    assert models.world.is_region_down("us-east-1") is False
    models.is_region_down = lambda region: region == "us-east-1"
    assert models.world.is_region_down("us-east-1") is True


@pytest.mark.parametrize("failing", [True, False])
def test_app_fault_toggles(tmp_path: Path, failing: bool) -> None:
    models = _models(tmp_path)
    _call(models, "POST", "app-fault", {"region": "us-east-1"})
    _call(models, "POST", "app-fault", {"region": "us-east-1", "failing": failing})
    assert models.world.app_failing("us-east-1") is failing


def test_default_durations_are_aws_magnitudes_times_the_time_scale(tmp_path: Path) -> None:
    from drctl.lab.models import Durations, ModelSet

    models = ModelSet("http://127.0.0.1:1", ("us-east-1", "us-west-2"), tmp_path, time_scale=0.02)
    d = models.world.durations
    assert (d.failover_s, d.switchover_s, d.promote_s, d.warmup_s) == pytest.approx((2.4, 2.4, 1.2, 2.4))
    _call(models, "POST", "durations", {"failover_s": 0.5})  # lab seconds, as given
    assert models.world.durations.failover_s == 0.5
    models.reset()
    assert models.world.durations.failover_s == pytest.approx(120.0 * 0.02)
    assert Durations.at_scale(1.0) == Durations()
