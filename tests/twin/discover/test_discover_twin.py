"""A deployment drctl did not make, shaped like the seed document's: an Aurora global cluster in two regions,
an ALB (+ target group + ASG) per region, Route53 failover records whose HTTPS health checks watch the ALBs —
no switch alarm, no lock table, no buckets, vaults or topics. Built with plain boto3 against the twin,
discovered into a stack file, then operated: status, a planned failover and a failback, checked by reading AWS.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drctl.lab import seed

GLOBAL_ID = f"{seed.NAME}-global"
PROMOTIONS = ("SwitchoverGlobalCluster", "FailoverGlobalCluster", "RemoveFromGlobalCluster")


def build_seed_doc_topology(twin: Any) -> str:
    """Plain boto3: KMS keys, web tiers, the global database, HTTPS checks on the ALBs, failover records.
    Returns the hosted zone id."""
    c = seed._Clients(twin.info.endpoints)
    r1, r2 = twin.info.regions
    regions: dict[str, dict[str, Any]] = {}
    for region in (r1, r2):
        regions[region] = {"kms_key_arn": seed._kms_key(c("kms", region), region), **seed._web_tier(c, region)}
    seed._database(c, r1, r2, regions)
    r53 = c("route53", "us-east-1")
    zone_id = seed._zone(r53)
    for region in (r1, r2):
        check = r53.create_health_check(
            CallerReference=f"seed-doc-{region}-{time.time_ns()}",
            HealthCheckConfig={
                "Type": "HTTPS",
                "FullyQualifiedDomainName": regions[region]["alb_dns_name"],
                "Port": 443,
                "ResourcePath": "/health",
                "RequestInterval": 10,
                "FailureThreshold": 3,
            },
        )
        regions[region]["health_check_id"] = check["HealthCheck"]["Id"]
    seed._records(r53, zone_id, r1, r2, regions)
    return zone_id


def writer_region(twin: Any) -> str:
    gc = twin.client("rds", "us-west-2").describe_global_clusters(GlobalClusterIdentifier=GLOBAL_ID)
    members = gc["GlobalClusters"][0]["GlobalClusterMembers"]
    writers = [m["DBClusterArn"].split(":")[3] for m in members if m["IsWriter"]]
    assert len(writers) == 1, members
    return writers[0]


def mutations(twin: Any) -> list[dict[str, Any]]:
    reads = ("Describe", "Get", "List")
    return [r for r in twin.control.requests() if r.get("operation") and not r["operation"].startswith(reads)]


def primary_record(twin: Any, zone_id: str) -> str:
    records = twin.client("route53", "us-east-1").list_resource_record_sets(HostedZoneId=zone_id)
    return next(r["SetIdentifier"] for r in records["ResourceRecordSets"] if r.get("Failover") == "PRIMARY")


def wait_for_lag(twin: Any, region: str, timeout_s: float = 20.0) -> None:
    since, end = time.time(), time.monotonic() + timeout_s
    while time.monotonic() < end:
        last = twin.control.signals().get("last_published") or {}
        if float(last.get("ts", 0)) > since and any(r["region"] == region for r in last.get("rds", [])):
            return
        time.sleep(0.2)
    raise AssertionError(f"the lab published no lag samples for {region}")


def discover_seed_doc(twin: Any, zone_id: str, out: Path) -> Any:
    """`drctl discover --lab --json` of the seed-document topology's records into `out` (must succeed)."""
    got = twin.cli(
        "discover", "--lab", "--global-cluster", GLOBAL_ID, "--zone-id", zone_id, "--record-name", seed.RECORD,
        "--out", str(out), "--json",
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    return got


@pytest.fixture
def discovered(lab: Any, tmp_path: Path) -> tuple[Any, Path, str]:
    zone_id = build_seed_doc_topology(lab)
    lab.control.set_durations(switchover_s=1.5, failover_s=1.0, promote_s=1.0, warmup_s=0.5, resync_s=1.0)
    lab.control.set_lag(200)
    stack = tmp_path / "discovered.toml"
    discover_seed_doc(lab, zone_id, stack)
    return lab, stack, zone_id


def test_discover_operate_a_seed_document_stack(discovered: tuple[Any, Path, str]) -> None:
    twin, stack, zone_id = discovered
    r1, r2 = twin.info.regions
    text = stack.read_text()
    assert 'method = "health-check"' in text and "lock_table" not in text and "switch_alarm" not in text
    assert "secret" not in text.replace("secret_access_key", "")  # only the lab's public test key pair
    # Discovery found the links, not just the names: records -> ALBs -> target groups -> ASGs.
    assert f'asg_name = "{seed.NAME}-use1"' in text and f'asg_name = "{seed.NAME}-usw2"' in text
    assert "kms_key_arn" in text

    # status names each missing tier and what it costs
    got = twin.cli("status", "--stack", str(stack), "--json")
    assert got.returncode in (0, 3), got.stderr
    status = json.loads(got.stdout)
    gaps = {g["tier"]: g for g in status["not_covered"]}
    assert status["traffic_method"] == "health-check"
    assert set(gaps) == {"traffic (health-check)", "object replication", "backups", "notifications", "lock table"}
    assert "control plane" in gaps["traffic (health-check)"]["will_not"]
    assert "two operators" in gaps["lock table"]["cost"]
    assert status["writer_region"] == r1 and status["serving_region"] == r1
    text_status = twin.cli("status", "--stack", str(stack))
    assert "Not covered by this stack" in text_status.stdout and "lock table" in text_status.stdout

    # no lock table: refused without the acknowledgement, nothing changed in AWS
    wait_for_lag(twin, r2)
    twin.control.clear_requests()
    got = twin.cli("failover", "--stack", str(stack), "--to", "secondary", "--yes")
    assert got.returncode == 7, got.stderr
    assert "run lock is off" in got.stderr and len(got.stderr.strip().splitlines()) == 1
    assert mutations(twin) == []

    # the dry run says what it will not do, and that traffic needs Route53's control plane
    got = twin.cli("failover", "--stack", str(stack), "--to", "secondary", "--dry-run", "--json")
    assert got.returncode == 0, got.stderr
    plan = json.loads(got.stdout)
    assert [c["operation"] for c in plan["calls"]] == ["SwitchoverGlobalCluster", "ChangeResourceRecordSets"]
    assert "control plane" in plan["calls"][1]["why"]
    assert any(g["tier"] == "lock table" for g in plan["not_covered"])
    assert mutations(twin) == []

    # planned failover, then failback: the writer read from AWS, the records swapped, DNS answers the target
    got = twin.cli("failover", "--stack", str(stack), "--to", "secondary", "--yes", "--without-lock", "--json")
    assert got.returncode == 0, got.stderr
    report = json.loads(got.stdout)
    assert report["outcome"] == "completed"
    assert writer_region(twin) == r2 and primary_record(twin, zone_id) == "secondary"
    assert report["verification"]["dns"]["verdict"] == "verified"
    assert any("control plane" in w for w in report["warnings"])
    assert any(p["name"] == "failover records changed" for p in report["recovery"])

    wait_for_lag(twin, r1)
    got = twin.cli("failover", "--stack", str(stack), "--to", "primary", "--yes", "--without-lock", "--json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["outcome"] == "completed"
    assert writer_region(twin) == r1 and primary_record(twin, zone_id) == "primary"


def test_discover_refuses_to_overwrite(discovered: tuple[Any, Path, str]) -> None:
    twin, stack, _ = discovered
    before = stack.read_text()
    got = twin.cli("discover", "--lab", "--global-cluster", GLOBAL_ID, "--out", str(stack))
    assert got.returncode == 7 and "--force" in got.stderr
    assert stack.read_text() == before
    got = twin.cli("discover", "--lab", "--global-cluster", GLOBAL_ID, "--out", str(stack), "--force")
    assert got.returncode == 0, got.stderr
    assert 'method = "none"' in stack.read_text()  # no records named: traffic is not in the stack
    assert "no --zone-id/--record-name" in got.stdout


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (
            lambda t: t.replace('method = "health-check"', 'method = "teleport"'),
            "unknown traffic method 'teleport'",
        ),
        (lambda t: t.replace(f'asg_name = "{seed.NAME}-usw2"\n', ""), "compute tier is half-described"),
    ],
)
def test_bad_stack_is_one_line_and_changes_nothing(
    discovered: tuple[Any, Path, str], edit: Any, said: str
) -> None:
    twin, stack, _ = discovered
    stack.write_text(edit(stack.read_text()))
    twin.control.clear_requests()
    got = twin.cli("failover", "--stack", str(stack), "--to", "secondary", "--yes", "--without-lock")
    assert got.returncode == 4, got.stderr
    assert said in got.stderr and len(got.stderr.strip().splitlines()) == 1
    assert mutations(twin) == []
    assert writer_region(twin) == twin.info.regions[0]


COMPUTE_KEYS = ("alb_arn", "alb_dns_name", "target_group_arn", "asg_name")


def test_failover_and_failback_with_only_the_database_and_health_check_traffic(
    discovered: tuple[Any, Path, str],
) -> None:
    twin, stack, zone_id = discovered
    r1, r2 = twin.info.regions
    lines = [line for line in stack.read_text().splitlines() if not line.startswith(COMPUTE_KEYS)]
    stack.write_text("\n".join(lines) + "\n")
    got = twin.cli("status", "--stack", str(stack), "--json")
    assert got.returncode in (0, 3), got.stderr
    gaps = {g["tier"] for g in json.loads(got.stdout)["not_covered"]}
    assert "compute" in gaps and "traffic (health-check)" in gaps

    wait_for_lag(twin, r2)
    twin.control.clear_requests()
    got = twin.cli("failover", "--stack", str(stack), "--to", r2, "--yes", "--without-lock", "--json")
    assert got.returncode == 0, got.stderr
    report = json.loads(got.stdout)
    assert report["outcome"] == "completed" and report["capacity"] == {}
    assert writer_region(twin) == r2 and primary_record(twin, zone_id) == "secondary"
    assert not any(r.get("service") == "autoscaling" for r in mutations(twin))

    wait_for_lag(twin, r1)
    got = twin.cli("failover", "--stack", str(stack), "--to", r1, "--yes", "--without-lock", "--json")
    assert got.returncode == 0, got.stderr
    assert writer_region(twin) == r1 and primary_record(twin, zone_id) == "primary"


def test_twin_refuses_a_stale_record_swap_as_a_whole(discovered: tuple[Any, Path, str]) -> None:
    """docs/fidelity.md D-29: a batch whose DELETE does not repeat the current values changes nothing."""
    from botocore.exceptions import ClientError

    from drctl.aws import route53, route53_actions

    twin, _, zone_id = discovered
    r53 = twin.client("route53", "us-east-1")
    records = route53.read_record_sets(r53, zone_id, seed.RECORD)
    stale = [dict(r) for r in records]
    stale[1]["HealthCheckId"] = records[0]["HealthCheckId"]  # another operator's change, not seen
    call = route53_actions.make_record_primary(zone_id, stale, "secondary")
    assert call is not None
    with pytest.raises(ClientError) as e:
        call.send(SimpleNamespace(client=lambda service, region: r53))
    assert e.value.response["Error"]["Code"] == "InvalidChangeBatch"
    assert route53.read_record_sets(r53, zone_id, seed.RECORD) == records


def test_unplanned_failover_needs_route53s_control_plane_to_keep_traffic(
    discovered: tuple[Any, Path, str],
) -> None:
    """The cost the health-check method states: with us-east-1 (and Route53's API) down, the database is promoted
    and the endpoint check already sends users to the target, but the records cannot be swapped — the run fails at
    the flip (resumable); once the API answers, --resume swaps them: the old region does not take traffic back."""
    twin, stack, zone_id = discovered
    r1, r2 = twin.info.regions
    wait_for_lag(twin, r2)
    twin.control.outage(r1, route53=True)
    args = ("failover", "--stack", str(stack), "--to", r2, "--mode", "unplanned", "--allow-data-loss")
    got = twin.cli(*args, "--yes", "--without-lock", "--json")
    assert got.returncode == 9, got.stderr
    report = json.loads(got.stdout)
    assert any("control plane" in w for w in report["warnings"]), report["warnings"]
    assert writer_region(twin) == r2
    twin.control.restore()
    assert primary_record(twin, zone_id) == "primary"  # not swapped: us-east-1 would take traffic back
    got = twin.cli("failover", "--resume", report["run_id"], "--yes", "--json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["outcome"] == "completed"
    assert primary_record(twin, zone_id) == "secondary" and writer_region(twin) == r2


def test_discover_links_replication_and_backups(lab: Any, tmp_path: Path) -> None:
    """Buckets replicating across the regions and one backup vault per region become tiers of the stack file."""
    zone_id = build_seed_doc_topology(lab)
    c = seed._Clients(lab.info.endpoints)
    r1, r2 = lab.info.regions
    regions: dict[str, dict[str, Any]] = {r1: {}, r2: {}}
    seed._buckets(c, r1, r2, regions)
    for region in (r1, r2):
        seed._backup_vault(c("backup", region), f"vault-{region}")
    stack = tmp_path / "stack.toml"
    got = discover_seed_doc(lab, zone_id, stack)
    found = json.loads(got.stdout)
    assert any(f"{regions[r1]['bucket']} ({r1}) -> {regions[r2]['bucket']} ({r2})" in f for f in found["found"])
    assert {g["what"].split(":")[0] for g in found["not_found"]} == {"traffic", "notifications", "lock table"}
    text = stack.read_text()
    assert f'replication_rule_id = "{seed.RULE_ID}"' in text and f'backup_vault = "vault-{r2}"' in text
    got = lab.cli("status", "--stack", str(stack), "--json")
    gaps = {g["tier"] for g in json.loads(got.stdout)["not_covered"]}
    assert gaps == {"traffic (health-check)", "notifications", "lock table"}


def test_discover_reads_drctls_own_shape_back_as_the_switch(seeded: tuple[Any, Path], tmp_path: Path) -> None:
    """The seeded topology (drctl's Terraform shape): discovery finds the same records, checks, switch alarms,
    compute, replication and vaults that the seed wrote in its own stack file."""
    from drctl.stack import TRAFFIC_KEYS, load_stack

    twin, seeded_stack = seeded
    want = load_stack(seeded_stack)
    out = tmp_path / "found.toml"
    got = twin.cli(
        "discover", "--lab", "--global-cluster", want.global_cluster_id, "--zone-id", want.zone_id,
        "--record-name", want.record_name, "--out", str(out),
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert "traffic method: switch" in got.stdout
    found = load_stack(out)
    assert found.traffic_method == "switch" and found.replication_rule_id == want.replication_rule_id
    keys = (*TRAFFIC_KEYS["switch"], "cluster_arn", "kms_key_arn", "alb_arn", "target_group_arn", "asg_name")
    for name, region in want.regions.items():
        for key in (*keys, "bucket", "backup_vault"):
            assert getattr(found.regions[name], key) == getattr(region, key), (name, key)
    gaps = {t.name for t in found.missing_tiers()}
    assert gaps == {"notifications", "lock table"}


def test_only_database_then_only_traffic_with_health_check_traffic(discovered: tuple[Any, Path, str]) -> None:
    """`failover --only` on a discovered stack whose traffic moves by swapping failover records: each part alone,
    the traffic guard, and a second traffic move that finds the record PRIMARY already — read back from AWS."""
    twin, stack, zone_id = discovered
    r1, r2 = twin.info.regions

    def failover(*args: str) -> tuple[int, dict[str, Any], str]:
        got = twin.cli("failover", "--stack", str(stack), "--yes", "--without-lock", "--json", *args)
        return got.returncode, json.loads(got.stdout) if got.stdout.strip() else {}, got.stderr

    wait_for_lag(twin, r2)
    twin.control.clear_requests()
    rc, db, err = failover("--to", r2, "--only", "database")
    assert rc == 0, err
    assert db["only"] == "database" and writer_region(twin) == r2
    assert primary_record(twin, zone_id) == "primary"  # the records were not touched
    assert not any(r["operation"] == "ChangeResourceRecordSets" for r in mutations(twin))

    # Traffic back to r1, whose database no longer writes: refused, records untouched.
    rc, _, err = failover("--to", r1, "--only", "traffic")
    assert rc == 7 and f"{r1}'s database does not write" in err.strip().splitlines()[-1]
    assert primary_record(twin, zone_id) == "primary"

    twin.control.clear_requests()
    rc, tr, err = failover("--to", r2, "--only", "traffic")
    assert rc == 0, err
    assert tr["outcome"] == "completed" and primary_record(twin, zone_id) == "secondary"
    assert not [r for r in mutations(twin) if r["operation"] in PROMOTIONS] and writer_region(twin) == r2

    rc, again, err = failover("--to", r2, "--only", "traffic")
    assert rc == 0 and again["outcome"] == "no-op" and "failover record is PRIMARY" in again["message"], err
