"""Read functions against stubbed AWS responses (botocore Stubber): shapes in, plain dataclasses out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from drctl.aws import autoscaling, backup, cloudwatch, elbv2, rds, route53, s3, sns
from drctl.errors import DrctlError, ExitCode

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def client(service: str, region: str = "us-east-1"):
    return boto3.client(service, region_name=region, aws_access_key_id="test", aws_secret_access_key="test")


def test_global_cluster_members_writer_and_failover_state() -> None:
    c = client("rds")
    with Stubber(c) as stub:
        stub.add_response(
            "describe_global_clusters",
            {
                "GlobalClusters": [
                    {
                        "GlobalClusterIdentifier": "g",
                        "Status": "available",
                        "Engine": "aurora-postgresql",
                        "EngineVersion": "16.8",
                        "GlobalClusterMembers": [
                            {"DBClusterArn": "arn:aws:rds:us-east-1:1:cluster:east", "IsWriter": True},
                            {
                                "DBClusterArn": "arn:aws:rds:us-west-2:1:cluster:west",
                                "IsWriter": False,
                                "SynchronizationStatus": "connected",
                                "GlobalWriteForwardingStatus": "disabled",
                            },
                        ],
                        "FailoverState": {
                            "Status": "pending",
                            "FromDbClusterArn": "arn:aws:rds:us-east-1:1:cluster:east",
                            "ToDbClusterArn": "arn:aws:rds:us-west-2:1:cluster:west",
                            "IsDataLossAllowed": False,
                        },
                    }
                ]
            },
            {"GlobalClusterIdentifier": "g"},
        )
        gc = rds.describe_global_cluster(c, "g")
    assert gc.writer is not None and (gc.writer.region, gc.writer.cluster_id) == ("us-east-1", "east")
    west = gc.member_in("us-west-2")
    assert west is not None and west.synchronization_status == "connected" and not west.is_writer
    assert gc.failover_state is not None and gc.failover_state.status == "pending"


def test_cluster_not_found_surfaces_the_aws_error_code() -> None:
    c = client("rds")
    with Stubber(c) as stub:
        stub.add_client_error("describe_db_clusters", "DBClusterNotFoundFault", http_status_code=404)
        with pytest.raises(c.exceptions.DBClusterNotFoundFault):
            rds.describe_cluster(c, "gone", "us-east-1")


def test_latest_sample_is_the_newest_point_with_its_age() -> None:
    c = client("cloudwatch")
    with Stubber(c) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {
                        "Id": "q0",
                        "Timestamps": [NOW - timedelta(seconds=30), NOW - timedelta(seconds=5)],
                        "Values": [900.0, 120.0],
                        "StatusCode": "Complete",
                    },
                    {"Id": "q1", "Timestamps": [], "Values": [], "StatusCode": "Complete"},
                ]
            },
        )
        got = cloudwatch.latest_samples(
            c,
            [
                cloudwatch.MetricQuery(
                    "lag", "AWS/RDS", "AuroraGlobalDBReplicationLag", {"DBClusterIdentifier": "w"}
                ),
                cloudwatch.MetricQuery("rpo", "AWS/RDS", "AuroraGlobalDBRPOLag", {"DBClusterIdentifier": "w"}),
            ],
            now=NOW,
        )
    assert got["lag"] is not None and got["lag"].value == 120.0 and got["lag"].age_s == 5.0
    assert got["rpo"] is None


def test_health_check_config_with_no_fqdn_and_children() -> None:
    c = client("route53")
    with Stubber(c) as stub:
        stub.add_response(
            "get_health_check",
            {
                "HealthCheck": {
                    "Id": "calc",
                    "CallerReference": "r",
                    "HealthCheckVersion": 1,
                    "HealthCheckConfig": {
                        "Type": "CALCULATED",
                        "ChildHealthChecks": ["a", "b"],
                        "HealthThreshold": 2,
                        "Inverted": True,
                    },
                }
            },
        )
        stub.add_response(
            "get_health_check",
            {
                "HealthCheck": {
                    "Id": "sw",
                    "CallerReference": "r",
                    "HealthCheckVersion": 1,
                    "HealthCheckConfig": {
                        "Type": "CLOUDWATCH_METRIC",
                        "AlarmIdentifier": {"Region": "us-west-2", "Name": "drain-us-east-1"},
                        "InsufficientDataHealthStatus": "LastKnownStatus",
                    },
                }
            },
        )
        calc = route53.get_health_check(c, "calc")
        switch = route53.get_health_check(c, "sw")
    assert calc.is_calculated and calc.children == ("a", "b") and calc.health_threshold == 2 and calc.inverted
    assert calc.fqdn is None
    assert (switch.alarm_region, switch.alarm_name) == ("us-west-2", "drain-us-east-1")
    assert switch.insufficient_data_status == "LastKnownStatus"


def test_failover_records_of_the_name_only() -> None:
    c = client("route53")
    with Stubber(c) as stub:
        stub.add_response(
            "list_resource_record_sets",
            {
                "ResourceRecordSets": [
                    {
                        "Name": "app.example.com.",
                        "Type": "A",
                        "SetIdentifier": "primary",
                        "Failover": "PRIMARY",
                        "HealthCheckId": "hp",
                        "AliasTarget": {
                            "HostedZoneId": "Z",
                            "DNSName": "alb-east.",
                            "EvaluateTargetHealth": False,
                        },
                    },
                    {
                        "Name": "app.example.com.",
                        "Type": "A",
                        "SetIdentifier": "secondary",
                        "Failover": "SECONDARY",
                        "HealthCheckId": "hs",
                        "TTL": 30,
                        "ResourceRecords": [{"Value": "192.0.2.1"}],
                    },
                    {
                        "Name": "www.example.com.",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "1.1.1.1"}],
                    },
                ],
                "IsTruncated": False,
                "MaxItems": "100",
            },
        )
        records = route53.list_failover_records(c, "Z1", "app.example.com")
    assert [(r.failover, r.health_check_id, r.is_alias) for r in records] == [
        ("PRIMARY", "hp", True),
        ("SECONDARY", "hs", False),
    ]
    assert records[1].ttl_s == 30 and records[1].target == "192.0.2.1"


def test_observations() -> None:
    c = client("route53")
    with Stubber(c) as stub:
        stub.add_response(
            "get_health_check_status",
            {
                "HealthCheckObservations": [
                    {"Region": "us-east-1", "StatusReport": {"Status": "Success: HTTP Status Code 200"}},
                    {"Region": "eu-west-1", "StatusReport": {"Status": "Failure: Connection timed out"}},
                ]
            },
        )
        obs = route53.get_health_check_observations(c, "leaf")
    assert [o.ok for o in obs] == [True, False]


def test_target_health_counts_healthy() -> None:
    c = client("elbv2")
    with Stubber(c) as stub:
        stub.add_response(
            "describe_target_health",
            {
                "TargetHealthDescriptions": [
                    {"Target": {"Id": "i-1"}, "TargetHealth": {"State": "healthy"}},
                    {"Target": {"Id": "i-2"}, "TargetHealth": {"State": "unhealthy"}},
                    {"Target": {"Id": "i-3"}, "TargetHealth": {"State": "healthy"}},
                ]
            },
        )
        th = elbv2.read_target_health(c, "arn:tg")
    assert (th.healthy, th.total, th.states["unhealthy"]) == (2, 3, 1)


def test_asg_counts_in_service_and_unknown_group_is_a_config_error() -> None:
    c = client("autoscaling")
    group = {
        "AutoScalingGroupName": "g",
        "MinSize": 1,
        "MaxSize": 6,
        "DesiredCapacity": 3,
        "DefaultCooldown": 300,
        "AvailabilityZones": ["us-east-1a"],
        "HealthCheckType": "EC2",
        "CreatedTime": NOW,
        "Instances": [
            {"InstanceId": f"i-{i}", "AvailabilityZone": "us-east-1a", "LifecycleState": state,
             "HealthStatus": "Healthy", "ProtectedFromScaleIn": False}
            for i, state in enumerate(["InService", "InService", "Pending"])
        ],
    }  # fmt: skip
    with Stubber(c) as stub:
        stub.add_response("describe_auto_scaling_groups", {"AutoScalingGroups": [group]})
        stub.add_response("describe_auto_scaling_groups", {"AutoScalingGroups": []})
        got = autoscaling.read_asg(c, "g", "us-east-1")
        with pytest.raises(DrctlError) as e:
            autoscaling.read_asg(c, "gone", "us-east-1")
    assert (got.desired, got.in_service, got.min_size, got.max_size) == (3, 2, 1, 6)
    assert e.value.code == ExitCode.CONFIG and "'gone'" in e.value.message


def test_s3_replication_rule_with_rtc_and_bucket_without_replication() -> None:
    c = client("s3")
    with Stubber(c) as stub:
        stub.add_response("get_bucket_versioning", {"Status": "Enabled"})
        stub.add_response(
            "get_bucket_replication",
            {
                "ReplicationConfiguration": {
                    "Role": "arn:aws:iam::1:role/r",
                    "Rules": [
                        {
                            "ID": "crr",
                            "Status": "Enabled",
                            "Destination": {
                                "Bucket": "arn:aws:s3:::dest",
                                "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
                            },
                        }
                    ],
                }
            },
        )
        stub.add_response("get_bucket_versioning", {})
        stub.add_client_error(
            "get_bucket_replication", "ReplicationConfigurationNotFoundError", http_status_code=404
        )
        rep = s3.read_replication(c, "src", "crr")
        none = s3.read_replication(c, "plain", "crr")
    assert (rep.rule_id, rep.rule_status, rep.destination_bucket, rep.rtc_enabled) == (
        "crr",
        "Enabled",
        "dest",
        True,
    )
    assert none.rule_id is None and none.versioning is None and not none.rtc_enabled


def test_backups_empty_vault_is_none_and_latest_wins_across_pages() -> None:
    c = client("backup")
    since = NOW - backup.LOOKBACK
    vault = {"BackupVaultName": "v", "ByCreatedAfter": since, "MaxResults": 100}
    with Stubber(c) as stub:
        stub.add_response("list_recovery_points_by_backup_vault", {"RecoveryPoints": []}, vault)
        stub.add_response("list_copy_jobs", {"CopyJobs": []}, {"ByCreatedAfter": since, "MaxResults": 100})
        # The newest of each is on the second page: neither call documents an order.
        stub.add_response(
            "list_recovery_points_by_backup_vault",
            {
                "RecoveryPoints": [
                    {"RecoveryPointArn": "old", "CreationDate": NOW - timedelta(days=1), "Status": "COMPLETED"},
                ],
                "NextToken": "p2",
            },
            vault,
        )
        stub.add_response(
            "list_recovery_points_by_backup_vault",
            {"RecoveryPoints": [{"RecoveryPointArn": "new", "CreationDate": NOW, "Status": "COMPLETED"}]},
            {**vault, "NextToken": "p2"},
        )
        stub.add_response(
            "list_copy_jobs",
            {
                "CopyJobs": [
                    {
                        "CopyJobId": "other",
                        "SourceBackupVaultArn": "arn:aws:backup:us-east-1:1:backup-vault:x",
                        "CreationDate": NOW,
                    },
                    {
                        "CopyJobId": "older",
                        "SourceBackupVaultArn": "arn:aws:backup:us-east-1:1:backup-vault:v",
                        "CreationDate": NOW - timedelta(hours=5),
                        "State": "COMPLETED",
                    },
                ],
                "NextToken": "j2",
            },
            {"ByCreatedAfter": since, "MaxResults": 100},
        )
        stub.add_response(
            "list_copy_jobs",
            {
                "CopyJobs": [
                    {"CopyJobId": "mine", "SourceBackupVaultArn": "arn:aws:backup:us-east-1:1:backup-vault:v",
                     "CreationDate": NOW - timedelta(hours=1), "State": "COMPLETED"},
                ]
            },
            {"ByCreatedAfter": since, "MaxResults": 100, "NextToken": "j2"},
        )  # fmt: skip
        empty = backup.read_backups(c, "v", now=NOW)
        full = backup.read_backups(c, "v", now=NOW)
        stub.assert_no_pending_responses()
    assert empty.latest_recovery_point is None and empty.latest_copy is None
    assert full.latest_recovery_point is not None and full.latest_recovery_point.arn == "new"
    assert full.latest_copy is not None and full.latest_copy.job_id == "mine"


def test_sns_topic_missing() -> None:
    c = client("sns")
    with Stubber(c) as stub:
        stub.add_response("get_topic_attributes", {"Attributes": {}})
        stub.add_client_error("get_topic_attributes", "NotFound", http_status_code=404)
        assert sns.read_topic(c, "arn:aws:sns:us-east-1:1:t").exists
        assert not sns.read_topic(c, "arn:aws:sns:us-east-1:1:gone").exists


# ---------------------------------------------------------------------- Aurora lag under either dimension set


class ExactDimensionsCloudWatch:
    """GetMetricData as CloudWatch documents it for standard-resolution metrics: a query matches a metric only
    when its dimension set equals the published one, datapoints are aggregated per Period (start-of-period
    timestamps, aligned to StartTime), and only [StartTime, EndTime) is searched."""

    def __init__(self) -> None:
        self.points: list[tuple[str, str, frozenset[tuple[str, str]], datetime, float]] = []
        self.calls: list[dict] = []

    def publish(self, metric: str, dims: dict[str, str], at: datetime, value: float) -> None:
        self.points.append(("AWS/RDS", metric, frozenset(dims.items()), at, value))

    def get_metric_data(self, **params):
        self.calls.append(params)
        start, end = params["StartTime"], params["EndTime"]
        results = []
        for q in params["MetricDataQueries"]:
            stat = q["MetricStat"]
            metric, period = stat["Metric"], stat["Period"]
            wanted = frozenset((d["Name"], d["Value"]) for d in metric["Dimensions"])
            buckets: dict[datetime, float] = {}
            for ns, name, dims, at, value in self.points:
                if (ns, name, dims) != (metric["Namespace"], metric["MetricName"], wanted):
                    continue
                if not start <= at < end:
                    continue
                bucket = start + timedelta(seconds=(at - start).total_seconds() // period * period)
                buckets[bucket] = max(value, buckets.get(bucket, value))  # Maximum
            newest_first = sorted(buckets.items(), reverse=True)
            results.append(
                {
                    "Id": q["Id"],
                    "Timestamps": [t for t, _ in newest_first],
                    "Values": [v for _, v in newest_first],
                    "StatusCode": "Complete",
                }
            )
        return {"MetricDataResults": results}


class FakeClients:
    def __init__(self, cw: ExactDimensionsCloudWatch) -> None:
        self.cw, self.asked = cw, []

    def client(self, service: str, region: str):
        self.asked.append((service, region))
        return self.cw


CLUSTER = "payments-prod-usw2"
ONLY_CLUSTER = {"DBClusterIdentifier": CLUSTER}
WITH_SOURCE = {"DBClusterIdentifier": CLUSTER, "SourceRegion": "us-east-1"}


def publish_both_metrics(cw: ExactDimensionsCloudWatch, dims: dict[str, str], at: datetime, ms: float) -> None:
    for metric in ("AuroraGlobalDBReplicationLag", "AuroraGlobalDBRPOLag"):
        cw.publish(metric, dims, at, ms)


@pytest.mark.parametrize(
    ("published", "found_under"),
    [(ONLY_CLUSTER, cloudwatch.CLUSTER_SET), (WITH_SOURCE, cloudwatch.SOURCE_SET)],
    ids=["DBClusterIdentifier", "DBClusterIdentifier+SourceRegion"],
)
def test_lag_is_found_under_either_documented_dimension_set_in_one_call(
    published, found_under, monkeypatch
) -> None:
    cw = ExactDimensionsCloudWatch()
    publish_both_metrics(cw, published, NOW - timedelta(seconds=70), 240.0)
    monkeypatch.setattr(cloudwatch, "datetime", _FrozenDatetime)
    lag = cloudwatch.read_aurora_lag(cw, CLUSTER, "us-west-2", "us-east-1")
    assert lag.rpo_lag_ms is not None and lag.rpo_lag_ms.value == 240.0
    assert lag.replication_lag_ms is not None and lag.replication_lag_ms.value == 240.0
    assert lag.found_under == found_under
    assert len(cw.calls) == 1 and len(cw.calls[0]["MetricDataQueries"]) == 4  # 2 metrics x 2 sets, one call


def test_the_old_single_dimension_query_misses_lag_published_with_source_region(monkeypatch) -> None:
    """The fake matches exactly: lag published with SourceRegion is invisible to {DBClusterIdentifier} alone."""
    cw = ExactDimensionsCloudWatch()
    publish_both_metrics(cw, WITH_SOURCE, NOW - timedelta(seconds=70), 240.0)
    monkeypatch.setattr(cloudwatch, "datetime", _FrozenDatetime)
    without_source = cloudwatch.read_aurora_lag(cw, CLUSTER, "us-west-2")
    assert without_source.rpo_lag_ms is None and without_source.replication_lag_ms is None
    wrong_source = cloudwatch.read_aurora_lag(cw, CLUSTER, "us-west-2", "eu-west-1")
    assert wrong_source.rpo_lag_ms is None and wrong_source.found_under is None


def test_lag_reads_use_standard_resolution_periods_and_minute_aligned_windows() -> None:
    cw = ExactDimensionsCloudWatch()
    now = datetime(2026, 11, 29, 12, 0, 37, 500000, tzinfo=UTC)
    cloudwatch.latest_samples(
        cw,
        [cloudwatch.MetricQuery("q", "AWS/RDS", "AuroraGlobalDBRPOLag", ONLY_CLUSTER)],
        now=now,
    )
    params = cw.calls[0]
    for q in params["MetricDataQueries"]:
        period = q["MetricStat"]["Period"]
        assert period >= 60 and period % 60 == 0
    for edge in (params["StartTime"], params["EndTime"]):
        assert (edge.second, edge.microsecond) == (0, 0)
    assert params["StartTime"] <= now - cloudwatch.LOOKBACK and params["EndTime"] > now
    with pytest.raises(ValueError, match="multiple of 60"):
        cloudwatch.MetricQuery("q", "AWS/RDS", "AuroraGlobalDBRPOLag", ONLY_CLUSTER, period_s=1)
    with pytest.raises(ValueError, match="multiple of 60"):
        cloudwatch.MetricQuery("q", "AWS/RDS", "AuroraGlobalDBRPOLag", ONLY_CLUSTER, period_s=90)


def test_newest_per_minute_sample_is_found_with_its_period_start_and_age() -> None:
    cw = ExactDimensionsCloudWatch()
    now = datetime(2026, 11, 29, 12, 0, 10, tzinfo=UTC)
    # AWS publishes once a minute and makes a point readable a little later: the newest can be minutes old.
    too_old = datetime(2026, 11, 29, 11, 54, 50, tzinfo=UTC)  # before the 5-minute window
    cw.publish("AuroraGlobalDBRPOLag", ONLY_CLUSTER, too_old, 900.0)
    cw.publish("AuroraGlobalDBRPOLag", WITH_SOURCE, datetime(2026, 11, 29, 11, 56, 20, tzinfo=UTC), 500.0)
    got = cloudwatch.latest_samples(
        cw, [cloudwatch.MetricQuery("rpo", "AWS/RDS", "AuroraGlobalDBRPOLag", WITH_SOURCE)], now=now
    )
    rpo = got["rpo"]
    assert rpo is not None and rpo.value == 500.0
    assert rpo.timestamp == datetime(2026, 11, 29, 11, 56, 0, tzinfo=UTC)  # the period's start
    assert rpo.age_s == 250.0
    stale = cloudwatch.latest_samples(
        cw, [cloudwatch.MetricQuery("rpo", "AWS/RDS", "AuroraGlobalDBRPOLag", ONLY_CLUSTER)], now=now
    )
    assert stale["rpo"] is None


def test_when_both_sets_have_data_the_newest_wins_then_the_larger(monkeypatch) -> None:
    cw = ExactDimensionsCloudWatch()
    monkeypatch.setattr(cloudwatch, "datetime", _FrozenDatetime)
    cw.publish("AuroraGlobalDBRPOLag", ONLY_CLUSTER, NOW - timedelta(seconds=130), 100.0)
    cw.publish("AuroraGlobalDBRPOLag", WITH_SOURCE, NOW - timedelta(seconds=50), 300.0)
    assert cloudwatch.read_aurora_lag(cw, CLUSTER, "us-west-2", "us-east-1").rpo_lag_ms.value == 300.0
    cw.publish("AuroraGlobalDBRPOLag", ONLY_CLUSTER, NOW - timedelta(seconds=40), 700.0)  # same minute
    lag = cloudwatch.read_aurora_lag(cw, CLUSTER, "us-west-2", "us-east-1")
    assert lag.rpo_lag_ms.value == 700.0 and lag.found_under == cloudwatch.CLUSTER_SET


def test_failover_lag_reading_reports_the_set_and_the_age(monkeypatch) -> None:
    from drctl.failover import observe

    cw = ExactDimensionsCloudWatch()
    monkeypatch.setattr(cloudwatch, "datetime", _FrozenDatetime)
    publish_both_metrics(cw, WITH_SOURCE, NOW - timedelta(seconds=90), 150.0)
    clients = FakeClients(cw)
    reading = observe.lag_reading(clients, CLUSTER, "us-west-2", "us-east-1")
    assert clients.asked == [("cloudwatch", "us-west-2")]  # the secondary's own region
    assert reading is not None and reading.metric == "AuroraGlobalDBRPOLag" and reading.value_ms == 150.0
    assert reading.dimensions == cloudwatch.SOURCE_SET and reading.age_s == 120.0
    assert reading.timestamp == (NOW - timedelta(seconds=120)).isoformat()


@pytest.mark.parametrize("published", [ONLY_CLUSTER, WITH_SOURCE], ids=["DBClusterIdentifier", "+SourceRegion"])
def test_planned_lag_gate_passes_on_a_sample_under_either_set(published, monkeypatch) -> None:
    facts = _gate(monkeypatch, published, 200.0)
    check = next(c for c in facts.checks if c["name"] == "replication lag within bound")
    assert check["ok"] is True and "AuroraGlobalDBRPOLag 200 ms" in check["detail"] and "s old" in check["detail"]
    assert facts.refusals == []


def test_planned_lag_gate_refuses_without_a_sample_and_says_where_it_looked(monkeypatch) -> None:
    facts = _gate(monkeypatch, None, 0.0)
    assert len(facts.refusals) == 1
    refusal = facts.refusals[0]
    assert refusal.startswith("replication lag unknown: no lag sample under either dimension set")
    assert "{DBClusterIdentifier} / {DBClusterIdentifier,SourceRegion}" in refusal
    assert "in the last 5 minutes" in refusal and "--force overrides this check only" in refusal


def _gate(monkeypatch, published: dict[str, str] | None, ms: float):
    from pathlib import Path

    from drctl.failover import preflight
    from drctl.failover.plan import Facts, Request
    from drctl.stack import load_stack

    stack = load_stack(Path(__file__).resolve().parents[3] / "examples" / "stack.example.toml")
    cw = ExactDimensionsCloudWatch()
    if published is not None:
        publish_both_metrics(cw, published, NOW - timedelta(seconds=65), ms)
    monkeypatch.setattr(cloudwatch, "datetime", _FrozenDatetime)
    monkeypatch.setattr(preflight, "FIRST_SAMPLE_WAIT_S", 0.05)
    facts = Facts(writer_region="us-east-1")
    preflight._lag(FakeClients(cw), stack, Request(to_region="us-west-2", from_region="us-east-1"), facts, None)
    return facts


class _FrozenDatetime(datetime):
    """`datetime.now()` inside drctl.aws.cloudwatch answers NOW (read functions take the clock themselves)."""

    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        return NOW
