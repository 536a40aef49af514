"""The gateway's models end to end through the twin: health checks, transition durations, target health,
simulated signals."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.twin

EAST, WEST = "us-east-1", "us-west-2"


def _status(r53: Any, check_id: str) -> str:
    obs = r53.get_health_check_status(HealthCheckId=check_id)["HealthCheckObservations"]
    words = {o["StatusReport"]["Status"].split(":")[0] for o in obs}
    assert len(words) == 1, obs
    return words.pop()


def _lab_view(lab: Any) -> dict[str, bool]:
    return {c["id"]: c["healthy"] for c in lab.control.health()["health_checks"]}


def test_health_check_follows_an_alarm_flipped_by_put_metric_data(lab: Any) -> None:
    """The datapoint turns the alarm at its next period boundary, the check after the modelled delay; a
    SetAlarmState lasts only until the next evaluation (docs/fidelity.md T-7, T-20, T-22)."""
    cw, r53 = lab.client("cloudwatch", WEST), lab.client("route53", EAST)
    cw.put_metric_alarm(
        AlarmName="app-switch",
        Namespace="Drctl",
        MetricName="Switch",
        Statistic="Maximum",
        Period=60,  # standard resolution: the only alarms Route53 health checks follow
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="ignore",
    )
    check = r53.create_health_check(
        CallerReference="switch",
        HealthCheckConfig={
            "Type": "CLOUDWATCH_METRIC",
            "AlarmIdentifier": {"Region": WEST, "Name": "app-switch"},
            "InsufficientDataHealthStatus": "Healthy",
        },
    )["HealthCheck"]["Id"]
    assert _status(r53, check) == "Success"  # no data yet: InsufficientDataHealthStatus says healthy
    cw.put_metric_data(Namespace="Drctl", MetricData=[{"MetricName": "Switch", "Value": 1}])
    assert _alarm(cw) != "ALARM"  # not evaluated yet: the period has not ended
    _until(lambda: _status(r53, check) == "Failure")
    assert _alarm(cw) == "ALARM"
    assert _lab_view(lab)[check] is False
    reasons = r53.get_health_check_last_failure_reason(HealthCheckId=check)["HealthCheckObservations"]
    assert "ALARM" in reasons[0]["StatusReport"]["Status"]
    cw.set_alarm_state(AlarmName="app-switch", StateValue="OK", StateReason="lab test")
    assert _alarm(cw) == "OK"  # forced, for now (a period with no data keeps it: TreatMissingData "ignore")
    cw.put_metric_data(Namespace="Drctl", MetricData=[{"MetricName": "Switch", "Value": 1}])
    _until(lambda: _alarm(cw) == "ALARM")  # the next evaluation: back to what the data say
    assert _status(r53, check) == "Failure"


def _alarm(cw: Any) -> str:
    return str(cw.describe_alarms(AlarmNames=["app-switch"])["MetricAlarms"][0]["StateValue"])


def _remembered(lab: Any, check_id: str) -> bool | None:
    """The last known status the lab's own evaluation stored for a check (an API read would store it too)."""
    path = lab.info.lab_dir / "models" / "health_checks.json"
    try:
        return json.loads(path.read_text())["last_known"].get(check_id)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _until(condition: Any, timeout_s: float = 15.0) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.05)


def test_calculated_check_combines_children_across_outage_and_app_fault(lab: Any) -> None:
    r53 = lab.client("route53", EAST)

    def create(ref: str, **config: Any) -> str:
        return str(r53.create_health_check(CallerReference=ref, HealthCheckConfig=config)["HealthCheck"]["Id"])

    east = create(
        "east", Type="HTTPS", FullyQualifiedDomainName=f"app-1.{EAST}.elb.amazonaws.com", ResourcePath="/h"
    )
    west = create(
        "west", Type="HTTPS", FullyQualifiedDomainName=f"app-2.{WEST}.elb.amazonaws.com", ResourcePath="/h"
    )
    both = create("both", Type="CALCULATED", ChildHealthChecks=[east, west], HealthThreshold=2)
    any_ = create("any", Type="CALCULATED", ChildHealthChecks=[east, west], HealthThreshold=1)
    neither = create(
        "neither", Type="CALCULATED", ChildHealthChecks=[east, west], HealthThreshold=1, Inverted=True
    )
    config = r53.get_health_check(HealthCheckId=both)["HealthCheck"]["HealthCheckConfig"]
    assert config["ChildHealthChecks"] == [east, west] and config["HealthThreshold"] == 2
    with pytest.raises(ClientError) as e:
        r53.get_health_check_status(HealthCheckId=both)
    assert e.value.response["Error"]["Code"] == "InvalidInput"

    def calculated() -> tuple[bool, bool, bool]:
        view = _lab_view(lab)
        return view[both], view[any_], view[neither]

    assert calculated() == (True, True, False)
    lab.control.set_app_fault(WEST)  # endpoint checks turn after RequestInterval x FailureThreshold (scaled)
    _until(lambda: _status(r53, west) == "Failure")
    assert _status(r53, east) == "Success"
    assert calculated() == (False, True, False)
    lab.control.outage(EAST)  # Route53's control plane stays up unless route53=True
    _until(lambda: _status(r53, east) == "Failure")
    assert calculated() == (False, False, True)
    lab.control.restore(EAST)
    lab.control.set_app_fault(WEST, failing=False)
    _until(lambda: calculated() == (True, True, False))


def _global_cluster(lab: Any) -> tuple[str, str]:
    east, west = lab.client("rds", EAST), lab.client("rds", WEST)
    east.create_global_cluster(
        GlobalClusterIdentifier="app-global", Engine="aurora-postgresql", EngineVersion="16.8"
    )
    primary = east.create_db_cluster(
        DBClusterIdentifier="app-east",
        Engine="aurora-postgresql",
        EngineVersion="16.8",
        GlobalClusterIdentifier="app-global",
        MasterUsername="app",
        MasterUserPassword="lab-password-1",
    )["DBCluster"]["DBClusterArn"]
    secondary = west.create_db_cluster(
        DBClusterIdentifier="app-west",
        Engine="aurora-postgresql",
        EngineVersion="16.8",
        GlobalClusterIdentifier="app-global",
    )["DBCluster"]["DBClusterArn"]
    return primary, secondary


def _writer_and_state(rds: Any) -> tuple[str, str, dict[str, Any] | None]:
    gc = rds.describe_global_clusters(GlobalClusterIdentifier="app-global")["GlobalClusters"][0]
    writer = next(m["DBClusterArn"] for m in gc["GlobalClusterMembers"] if m["IsWriter"])
    return writer, gc["Status"], gc.get("FailoverState")


@pytest.mark.slow
def test_switchover_shows_its_transition_for_the_configured_duration_then_completes(lab: Any) -> None:
    primary, secondary = _global_cluster(lab)
    lab.control.set_durations(switchover_s=2.0)
    west = lab.client("rds", WEST)
    started = time.monotonic()
    resp = west.switchover_global_cluster(
        GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=secondary
    )
    assert resp["GlobalCluster"]["Status"] == "switching-over"

    writer, status, state = _writer_and_state(west)
    assert (writer, status) == (primary, "switching-over")
    assert state is not None
    assert (state["FromDbClusterArn"], state["ToDbClusterArn"], state["IsDataLossAllowed"]) == (
        primary,
        secondary,
        False,
    )
    with pytest.raises(ClientError) as e:
        west.failover_global_cluster(
            GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=secondary, AllowDataLoss=True
        )
    assert e.value.response["Error"]["Code"] == "InvalidGlobalClusterStateFault"

    transitional_until = None
    for _ in range(40):  # bounded: 40 x 0.1 s
        if _writer_and_state(west)[1] != "switching-over":
            transitional_until = time.monotonic() - started
            break
        time.sleep(0.1)
    assert transitional_until is not None and 1.8 <= transitional_until <= 3.0
    writer, status, state = _writer_and_state(lab.client("rds", EAST))
    assert (writer, status, state) == (secondary, "available", None)


def test_failover_and_promotion_durations(lab: Any) -> None:
    primary, secondary = _global_cluster(lab)
    lab.control.set_durations(failover_s=1.0, promote_s=1.0)
    west = lab.client("rds", WEST)
    west.failover_global_cluster(
        GlobalClusterIdentifier="app-global", TargetDbClusterIdentifier=secondary, AllowDataLoss=True
    )
    writer, status, state = _writer_and_state(west)
    assert (writer, status, state and state["IsDataLossAllowed"]) == (primary, "failing-over", True)
    time.sleep(1.1)
    assert _writer_and_state(west)[:2] == (secondary, "available")

    west.remove_from_global_cluster(GlobalClusterIdentifier="app-global", DbClusterIdentifier=primary)
    east = lab.client("rds", EAST)
    assert east.describe_db_clusters(DBClusterIdentifier="app-east")["DBClusters"][0]["Status"] == "promoting"
    time.sleep(1.1)
    assert east.describe_db_clusters(DBClusterIdentifier="app-east")["DBClusters"][0]["Status"] == "available"


def test_target_health_follows_asg_capacity_after_warmup(lab: Any) -> None:
    ec2, elb, asg = lab.client("ec2", WEST), lab.client("elbv2", WEST), lab.client("autoscaling", WEST)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24", AvailabilityZone=f"{WEST}a")["Subnet"][
        "SubnetId"
    ]
    tg = elb.create_target_group(Name="app", Protocol="HTTP", Port=8080, VpcId=vpc)["TargetGroups"][0]
    ec2.create_launch_template(LaunchTemplateName="app-lt", LaunchTemplateData={"ImageId": "ami-12345678"})
    lab.control.set_durations(warmup_s=1.0)
    asg.create_auto_scaling_group(
        AutoScalingGroupName="app",
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=1,
        LaunchTemplate={"LaunchTemplateName": "app-lt"},
        VPCZoneIdentifier=subnet,
        TargetGroupARNs=[tg["TargetGroupArn"]],
    )
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["app"])["AutoScalingGroups"][0]
    assert group["TargetGroupARNs"] == [tg["TargetGroupArn"]]

    def states() -> list[str]:
        resp = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])
        return sorted(d["TargetHealth"]["State"] for d in resp["TargetHealthDescriptions"])

    assert states() == ["initial"]
    time.sleep(1.1)
    assert states() == ["healthy"]
    asg.set_desired_capacity(AutoScalingGroupName="app", DesiredCapacity=3)
    assert states() == ["healthy", "initial", "initial"]
    time.sleep(1.1)
    assert states() == ["healthy"] * 3
    lab.control.set_app_fault(WEST)
    assert states() == ["unhealthy"] * 3


def _latest(cw: Any, namespace: str, metric: str, dims: list[dict[str, str]]) -> float | None:
    now = datetime.now(UTC)
    resp = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
                    "Period": 1,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=now - timedelta(seconds=3),
        EndTime=now + timedelta(seconds=1),
        ScanBy="TimestampDescending",
    )
    values = resp["MetricDataResults"][0]["Values"]
    return float(values[0]) if values else None


def _eventually(fn: Any, want: Any, timeout_s: float = 6.0) -> Any:
    deadline = time.monotonic() + timeout_s
    got = fn()
    while got != want and time.monotonic() < deadline:
        time.sleep(0.25)
        got = fn()
    return got


@pytest.mark.slow
def test_signals_publish_the_lag_profile_for_the_secondary_and_the_s3_backlog(lab: Any) -> None:
    _global_cluster(lab)
    east_s3, west_s3 = lab.client("s3", EAST), lab.client("s3", WEST)
    east_s3.create_bucket(Bucket="app-data-east")
    west_s3.create_bucket(Bucket="app-data-west", CreateBucketConfiguration={"LocationConstraint": WEST})
    east_s3.put_bucket_versioning(Bucket="app-data-east", VersioningConfiguration={"Status": "Enabled"})
    west_s3.put_bucket_versioning(Bucket="app-data-west", VersioningConfiguration={"Status": "Enabled"})
    east_s3.put_bucket_replication(
        Bucket="app-data-east",
        ReplicationConfiguration={
            "Role": "arn:aws:iam::000000000000:role/replication",
            "Rules": [
                {
                    "ID": "all",
                    "Status": "Enabled",
                    "Priority": 1,
                    "Filter": {},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": "arn:aws:s3:::app-data-west"},
                }
            ],
        },
    )
    lab.control.set_lag(2500)
    lab.control.set_backlog(operations=42, bytes_=4096)
    assert lab.control.health()["signals"]["profile"]["lag_ms"] == 2500

    west_cw, east_cw = lab.client("cloudwatch", WEST), lab.client("cloudwatch", EAST)
    # as AWS publishes them: in the secondary region, with the writer's region as SourceRegion
    cluster = [{"Name": "DBClusterIdentifier", "Value": "app-west"}, {"Name": "SourceRegion", "Value": EAST}]
    assert _eventually(lambda: _latest(west_cw, "AWS/RDS", "AuroraGlobalDBRPOLag", cluster), 2500.0) == 2500.0
    assert _latest(west_cw, "AWS/RDS", "AuroraGlobalDBReplicationLag", cluster) == 2500.0
    rule = [
        {"Name": "SourceBucket", "Value": "app-data-east"},
        {"Name": "DestinationBucket", "Value": "app-data-west"},
        {"Name": "RuleId", "Value": "all"},
    ]
    assert _eventually(lambda: _latest(east_cw, "AWS/S3", "OperationsPendingReplication", rule), 42.0) == 42.0
    assert _latest(east_cw, "AWS/S3", "BytesPendingReplication", rule) == 4096.0


def test_reset_forgets_health_checks_and_settings(lab: Any) -> None:
    r53 = lab.client("route53", EAST)
    r53.create_health_check(CallerReference="gone", HealthCheckConfig={"Type": "TCP", "IPAddress": "192.0.2.7"})
    lab.control.set_app_fault(EAST)
    lab.control.reset()
    assert r53.list_health_checks()["HealthChecks"] == []
    assert lab.control.health()["app_faults"] == []
    with pytest.raises(Exception, match="unknown region"):
        lab.control.set_app_fault("eu-central-1")


def test_last_known_status_is_kept_while_the_alarm_region_is_down(lab: Any) -> None:
    cw, r53 = lab.client("cloudwatch", WEST), lab.client("route53", EAST)
    cw.put_metric_alarm(
        AlarmName="app-switch",
        Namespace="Drctl",
        MetricName="Switch",
        Statistic="Maximum",
        Period=60,  # standard resolution: the only alarms Route53 health checks follow
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    config = {
        "Type": "CLOUDWATCH_METRIC",
        "AlarmIdentifier": {"Region": WEST, "Name": "app-switch"},
        "InsufficientDataHealthStatus": "LastKnownStatus",
    }
    check = r53.create_health_check(CallerReference="lk", HealthCheckConfig=config)["HealthCheck"]["Id"]
    cw.put_metric_data(Namespace="Drctl", MetricData=[{"MetricName": "Switch", "Value": 5}])
    # Nobody reads the status: the lab's own once-a-second evaluation must notice the alarm once its period
    # (60 s x the twin's time scale) has ended and the check has followed it.
    _until(lambda: any(e["to"] == "ALARM" for e in lab.control.clock()["evaluations"]))
    # ... and its evaluation has remembered the check's turn (30 s x scale after the alarm changed) to unhealthy.
    _until(lambda: _remembered(lab, check) is False)
    lab.control.outage(WEST)
    assert _status(r53, check) == "Failure"
    assert (
        "LastKnownStatus"
        in r53.get_health_check_status(HealthCheckId=check)["HealthCheckObservations"][0]["StatusReport"]["Status"]
    )
