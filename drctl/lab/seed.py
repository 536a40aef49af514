"""Seed the offline twin with a small, complete two-region topology and write its stack file.

Plain boto3 against the lab endpoints (keys test/test), the way Terraform would leave the stack: KMS keys,
an Aurora global cluster (writer in region 1, secondary in region 2), SNS topics, DynamoDB lock tables,
VPC + ALB + target group + listener + launch template + ASG per region, versioned S3 buckets with
cross-region replication and RTC both ways, backup vaults, the switch alarms, a hosted zone, health checks
and failover records. Safe to run again after `drctl lab reset` (and mostly without one): every create
tolerates "already exists".
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import boto3
import botocore.config
from botocore.exceptions import ClientError

from drctl.lab.access import (
    LAB_ACCESS_KEY,
    LAB_HEALTH_PATH,
    LAB_SECRET_KEY,
    canary_section,
    lab_aws_section,
    name_servers_section,
    probe_section,
)
from drctl.lab.signals import lb_dimension, tg_dimension
from drctl.stack import write_stack_file

NAME = "drctl-lab"
ENGINE = "aurora-postgresql"
ENGINE_VERSION = "16.8"
ZONE = "lab.drctl.test"
RECORD = f"app.{ZONE}"
TTL_S = 60
RULE_ID = f"{NAME}-crr"
# The switch alarm exactly as terraform/modules/region/monitoring.tf declares it (aws_cloudwatch_metric_alarm
# "switch"), so the twin tests run on the production switch: a drain stays inside the alarm's 60 s window, and a
# failback right after a failover waits it out. tests/unit/lab/test_seed_matches_terraform.py parses the .tf file
# and fails if the two drift. Route53 health checks follow standard-resolution alarms only (periods of 60 s):
# https://docs.aws.amazon.com/Route53/latest/APIReference/API_AlarmIdentifier.html
SWITCH_ALARM: Mapping[str, Any] = {
    "Statistic": "Maximum",
    "Period": 60,
    "EvaluationPeriods": 1,
    "Threshold": 1.0,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "TreatMissingData": "ignore",
}
# The application-health alarms exactly as terraform/modules/region/monitoring.tf declares them
# (aws_cloudwatch_metric_alarm "unhealthy_hosts" and "alb_5xx"; the same test checks them), on the metrics
# the lab publishes from its target-health model (drctl/lab/signals.py). drctl's "application healthy" phase
# waits on them.
APP_HEALTH_ALARMS: Mapping[str, Mapping[str, Any]] = {
    "alb-unhealthy-hosts": {
        "Namespace": "AWS/ApplicationELB",
        "MetricName": "UnHealthyHostCount",
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 2,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    },
    "alb-5xx": {
        "Namespace": "AWS/ApplicationELB",
        "MetricName": "HTTPCode_ELB_5XX_Count",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 3,
        "Threshold": 10.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    },
}
HC_INTERVAL_S = 10  # fast checks (AWS allows 10 or 30)
HC_FAILURES = 3

T = TypeVar("T")


class LabEndpoints(Protocol):
    """What the seed needs of drctl.lab.runtime.LabInfo."""

    @property
    def endpoints(self) -> Mapping[str, str]: ...

    @property
    def regions(self) -> tuple[str, str]: ...

    @property
    def dns(self) -> Mapping[str, Any]: ...  # the lab's authoritative DNS: {"host", "port"}, or empty

    @property
    def http(self) -> Mapping[str, Any]: ...  # the lab's load balancers' listeners: {"port"}, or empty


def _short(region: str) -> str:
    """us-east-1 -> use1 (names that stay readable and unique per region)."""
    a, b, n = region.split("-")
    return f"{a}{b[0]}{n}"


def _exists_ok(create: Callable[[], T], lookup: Callable[[], T], *codes: str) -> T:
    """Create, or when AWS says it already exists, look the existing one up."""
    try:
        return create()
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") in codes:
            return lookup()
        raise


class _Clients:
    def __init__(self, endpoints: Mapping[str, str]) -> None:
        self.endpoints = endpoints
        self.session = boto3.session.Session(
            aws_access_key_id=LAB_ACCESS_KEY, aws_secret_access_key=LAB_SECRET_KEY
        )
        self.config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 3})

    def __call__(self, service: str, region: str) -> Any:
        glob = service in ("route53", "iam", "sts")
        return self.session.client(
            service,
            region_name="us-east-1" if glob else region,
            endpoint_url=self.endpoints["global" if glob else region],
            config=self.config,
        )


def seed_topology(info: LabEndpoints, home: Path, *, app_health: bool = False) -> Path:
    """Create the topology in the twin and write `home`/stack.toml for it; returns the stack file path.

    The application-health alarms always exist; `app_health` lists them in the stack file (the phase on)."""
    c = _Clients(info.endpoints)
    r1, r2 = info.regions
    regions: dict[str, dict[str, Any]] = {}
    for region in (r1, r2):
        regions[region] = {
            "kms_key_arn": _kms_key(c("kms", region), region),
            "sns_topic_arn": c("sns", region).create_topic(Name=f"{NAME}-dr")["TopicArn"],
            "lock_table": _lock_table(c("dynamodb", region)),
            "backup_vault": _backup_vault(c("backup", region), f"{NAME}-{_short(region)}"),
            **_web_tier(c, region),
        }
    for region in (r1, r2):
        regions[region]["app_health_alarms"] = _app_health_alarms(c("cloudwatch", region), region, regions[region])
    writer_endpoint = _database(c, r1, r2, regions)
    _buckets(c, r1, r2, regions)
    for region, other in ((r1, r2), (r2, r1)):
        regions[region].update(_switch_alarm(c("cloudwatch", other), region, other, regions[other]))
    zone_id = _zone(c("route53", "us-east-1"))
    for region in (r1, r2):
        regions[region].update(_health_checks(c("route53", "us-east-1"), region, regions[region]))
    _records(c("route53", "us-east-1"), zone_id, r1, r2, regions)
    if not app_health:
        for region in (r1, r2):
            regions[region].pop("app_health_alarms")
    mapping = _stack_mapping(info, zone_id, r1, r2, regions, writer_endpoint)
    return write_stack_file(mapping, home / "stack.toml")


# ---------------------------------------------------------------------------------------- per service


def _kms_key(kms: Any, region: str) -> str:
    alias = f"alias/{NAME}-{_short(region)}"
    for a in kms.list_aliases().get("Aliases", []):
        if a.get("AliasName") == alias and a.get("TargetKeyId"):
            return str(kms.describe_key(KeyId=a["TargetKeyId"])["KeyMetadata"]["Arn"])
    arn = str(kms.create_key(Description=f"{NAME} Aurora key ({region})")["KeyMetadata"]["Arn"])
    kms.create_alias(AliasName=alias, TargetKeyId=arn.rsplit("/", 1)[-1])
    return arn


def _lock_table(ddb: Any) -> str:
    name = f"{NAME}-drctl-locks"
    _exists_ok(
        lambda: ddb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        ),
        lambda: None,
        "ResourceInUseException",
    )
    return name


def _backup_vault(backup: Any, name: str) -> str:
    _exists_ok(
        lambda: backup.create_backup_vault(BackupVaultName=name),
        lambda: None,
        "AlreadyExistsException",
    )
    return name


def _web_tier(c: _Clients, region: str) -> dict[str, str]:
    """VPC, two subnets, ALB + target group + listener, launch template and ASG (desired 2)."""
    ec2, elb, asg = c("ec2", region), c("elbv2", region), c("autoscaling", region)
    short = _short(region)
    vpc_id = _vpc(ec2, short)
    subnets = _subnets(ec2, vpc_id, region)
    alb = _exists_ok(
        lambda: elb.create_load_balancer(Name=f"{NAME}-{short}", Subnets=subnets, Type="application")[
            "LoadBalancers"
        ][0],
        lambda: elb.describe_load_balancers(Names=[f"{NAME}-{short}"])["LoadBalancers"][0],
        "DuplicateLoadBalancerName",
    )
    tg = _exists_ok(
        lambda: elb.create_target_group(
            Name=f"{NAME}-{short}",
            Protocol="HTTP",
            Port=80,
            VpcId=vpc_id,
            TargetType="instance",
            HealthCheckPath=LAB_HEALTH_PATH,
        )["TargetGroups"][0],
        lambda: elb.describe_target_groups(Names=[f"{NAME}-{short}"])["TargetGroups"][0],
        "DuplicateTargetGroupName",
    )
    if not elb.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"]).get("Listeners"):
        elb.create_listener(
            LoadBalancerArn=alb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
        )
    template = f"{NAME}-{short}"
    _exists_ok(
        lambda: c("ec2", region).create_launch_template(
            LaunchTemplateName=template,
            LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "t3.micro"},
        ),
        lambda: None,
        "InvalidLaunchTemplateName.AlreadyExistsException",
    )
    asg_name = f"{NAME}-{short}"
    if not asg.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name]).get("AutoScalingGroups"):
        asg.create_auto_scaling_group(
            AutoScalingGroupName=asg_name,
            LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
            MinSize=2,
            MaxSize=6,
            DesiredCapacity=2,
            VPCZoneIdentifier=",".join(subnets),
            TargetGroupARNs=[tg["TargetGroupArn"]],
        )
    return {
        "alb_arn": alb["LoadBalancerArn"],
        "alb_dns_name": alb["DNSName"],
        "alb_zone_id": alb.get("CanonicalHostedZoneId", ""),
        "target_group_arn": tg["TargetGroupArn"],
        "asg_name": asg_name,
    }


def _vpc(ec2: Any, short: str) -> str:
    tag = {"Name": "tag:Name", "Values": [f"{NAME}-{short}"]}
    found = ec2.describe_vpcs(Filters=[tag]).get("Vpcs", [])
    if found:
        return str(found[0]["VpcId"])
    vpc_id = str(ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"])
    ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "Name", "Value": f"{NAME}-{short}"}])
    return vpc_id


def _subnets(ec2: Any, vpc_id: str, region: str) -> list[str]:
    found = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]).get("Subnets", [])
    if len(found) >= 2:
        return [str(s["SubnetId"]) for s in found[:2]]
    return [
        str(
            ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"{region}{az}")[
                "Subnet"
            ]["SubnetId"]
        )
        for i, az in enumerate("ab")
    ]


def _database(c: _Clients, r1: str, r2: str, regions: dict[str, dict[str, Any]]) -> str:
    """Global cluster; writer cluster (+instance) in r1, secondary cluster (+instance) in r2. Returns the global
    writer endpoint as "name:port" (DescribeGlobalClusters Endpoint, the writer cluster's Port), "" if none."""
    global_id = f"{NAME}-global"
    rds1 = c("rds", r1)
    _exists_ok(
        lambda: rds1.create_global_cluster(
            GlobalClusterIdentifier=global_id, Engine=ENGINE, EngineVersion=ENGINE_VERSION
        ),
        lambda: None,
        "GlobalClusterAlreadyExistsFault",
    )
    for region, writer in ((r1, True), (r2, False)):
        cluster_id = f"{NAME}-{_short(region)}"
        arn = _db_cluster(c("rds", region), cluster_id, global_id, regions[region]["kms_key_arn"], writer=writer)
        regions[region]["cluster_id"] = cluster_id
        regions[region]["cluster_arn"] = arn
    [gc] = rds1.describe_global_clusters(GlobalClusterIdentifier=global_id)["GlobalClusters"]
    port = rds1.describe_db_clusters(DBClusterIdentifier=regions[r1]["cluster_id"])["DBClusters"][0].get("Port")
    return f"{gc['Endpoint']}:{port or 5432}" if gc.get("Endpoint") else ""


def _db_cluster(rds: Any, cluster_id: str, global_id: str, kms_key_arn: str, *, writer: bool) -> str:
    """A member cluster with one instance; only the writer gets credentials (secondaries inherit them)."""
    extra: dict[str, Any] = (
        {"MasterUsername": "drctl", "MasterUserPassword": "lab-password-1", "DatabaseName": "app"}
        if writer
        else {}
    )

    def create() -> Any:
        return rds.create_db_cluster(
            DBClusterIdentifier=cluster_id,
            Engine=ENGINE,
            EngineVersion=ENGINE_VERSION,
            GlobalClusterIdentifier=global_id,
            StorageEncrypted=True,
            KmsKeyId=kms_key_arn,
            **extra,
        )["DBCluster"]

    def existing() -> Any:
        return rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]

    cluster = _exists_ok(create, existing, "DBClusterAlreadyExistsFault")

    def create_instance() -> Any:
        return rds.create_db_instance(
            DBInstanceIdentifier=f"{cluster_id}-1",
            DBClusterIdentifier=cluster_id,
            Engine=ENGINE,
            DBInstanceClass="db.r6g.large",
        )

    _exists_ok(create_instance, lambda: None, "DBInstanceAlreadyExists")
    return str(cluster["DBClusterArn"])


def _buckets(c: _Clients, r1: str, r2: str, regions: dict[str, dict[str, Any]]) -> None:
    """Versioned buckets replicating to each other with RTC, so either region can be the writer."""
    role_arn = _replication_role(c("iam", "us-east-1"))
    for region in (r1, r2):
        s3 = c("s3", region)
        bucket = f"{NAME}-{_short(region)}-data"
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            s3.create_bucket(**kwargs)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        regions[region]["bucket"] = bucket
    for src, dst in ((r1, r2), (r2, r1)):
        c("s3", src).put_bucket_replication(
            Bucket=regions[src]["bucket"],
            ReplicationConfiguration={
                "Role": role_arn,
                "Rules": [
                    {
                        "ID": RULE_ID,
                        "Priority": 1,
                        "Status": "Enabled",
                        "Filter": {},
                        "DeleteMarkerReplication": {"Status": "Enabled"},
                        "Destination": {
                            "Bucket": f"arn:aws:s3:::{regions[dst]['bucket']}",
                            "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
                            "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}},
                        },
                    }
                ],
            },
        )


def _replication_role(iam: Any) -> str:
    name = f"{NAME}-s3-replication"
    policy = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Principal":{"Service":"s3.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    )
    role = _exists_ok(
        lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument=policy)["Role"],
        lambda: iam.get_role(RoleName=name)["Role"],
        "EntityAlreadyExists",
    )
    return str(role["Arn"])


def _switch_alarm(cw: Any, region: str, alarm_region: str, alarm_side: Mapping[str, Any]) -> dict[str, str]:
    """The switch for `region` lives in the other region: drctl puts RegionDrained=1 there to drain it."""
    name = f"{NAME}-drain-{region}"
    cw.put_metric_alarm(
        AlarmName=name,
        AlarmDescription=f"drctl switch: {region} drained",
        Namespace="drctl/Failover",
        MetricName="RegionDrained",
        Dimensions=[{"Name": "Region", "Value": region}],
        **SWITCH_ALARM,
        AlarmActions=[alarm_side["sns_topic_arn"]],
        OKActions=[alarm_side["sns_topic_arn"]],
    )
    return {"switch_alarm_name": name, "switch_alarm_region": alarm_region}


def app_health_alarm_name(region: str, kind: str) -> str:
    return f"{NAME}-{_short(region)}-{kind}"  # Terraform: "${local.prefix}-alb-..." with prefix "<name>-<short>"


def _app_health_alarms(cw: Any, region: str, web: Mapping[str, Any]) -> list[str]:
    """The ALB alarms of `region`, dimensions as Terraform gives them (the ARN suffixes of the ALB and group)."""
    lb = {"Name": "LoadBalancer", "Value": lb_dimension(web["alb_arn"])}
    dims = {
        "alb-unhealthy-hosts": [lb, {"Name": "TargetGroup", "Value": tg_dimension(web["target_group_arn"])}],
        "alb-5xx": [lb],
    }
    names = []
    for kind, alarm in APP_HEALTH_ALARMS.items():
        name = app_health_alarm_name(region, kind)
        cw.put_metric_alarm(
            AlarmName=name,
            AlarmDescription=f"lab: {kind} of {web['alb_arn']}",
            Dimensions=dims[kind],
            **alarm,
            AlarmActions=[web["sns_topic_arn"]],
            OKActions=[web["sns_topic_arn"]],
        )
        names.append(name)
    return names


def _zone(r53: Any) -> str:
    for z in r53.list_hosted_zones().get("HostedZones", []):
        if z.get("Name") == ZONE + ".":
            return str(z["Id"]).rsplit("/", 1)[-1]
    zone = r53.create_hosted_zone(Name=ZONE, CallerReference=f"{NAME}-{uuid.uuid4()}")
    return str(zone["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def _health_checks(r53: Any, region: str, r: Mapping[str, Any]) -> dict[str, str]:
    """HTTPS check of the ALB, CLOUDWATCH_METRIC check on the switch alarm, CALCULATED check of both."""

    def create(config: dict[str, Any]) -> str:
        # Same config, same CallerReference: Route53 returns the existing check, so a re-run adds none.
        digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
        ref = f"{NAME}-{region}-{config['Type']}-{digest}"
        return str(r53.create_health_check(CallerReference=ref, HealthCheckConfig=config)["HealthCheck"]["Id"])

    alb = create(
        {
            "Type": "HTTPS",
            "FullyQualifiedDomainName": r["alb_dns_name"],
            "Port": 443,
            "ResourcePath": "/health",
            "RequestInterval": HC_INTERVAL_S,
            "FailureThreshold": HC_FAILURES,
        }
    )
    switch = create(
        {
            "Type": "CLOUDWATCH_METRIC",
            "AlarmIdentifier": {"Region": r["switch_alarm_region"], "Name": r["switch_alarm_name"]},
            "InsufficientDataHealthStatus": "LastKnownStatus",
        }
    )
    calculated = create({"Type": "CALCULATED", "ChildHealthChecks": [alb, switch], "HealthThreshold": 2})
    return {"alb_health_check_id": alb, "switch_health_check_id": switch, "health_check_id": calculated}


def _records(r53: Any, zone_id: str, r1: str, r2: str, regions: Mapping[str, Mapping[str, Any]]) -> None:
    """Failover PRIMARY (r1) / SECONDARY (r2) records; alias to the ALB, CNAME if the emulator refuses."""

    def change(alias: bool) -> None:
        changes = []
        for region, failover in ((r1, "PRIMARY"), (r2, "SECONDARY")):
            r = regions[region]
            rrset: dict[str, Any] = {
                "Name": RECORD,
                "Type": "A" if alias else "CNAME",
                "SetIdentifier": failover.lower(),
                "Failover": failover,
                "HealthCheckId": r["health_check_id"],
            }
            if alias:
                rrset["AliasTarget"] = {
                    "HostedZoneId": r["alb_zone_id"],
                    "DNSName": r["alb_dns_name"],
                    "EvaluateTargetHealth": False,
                }
            else:
                rrset.update(TTL=TTL_S, ResourceRecords=[{"Value": r["alb_dns_name"]}])
            changes.append({"Action": "UPSERT", "ResourceRecordSet": rrset})
        r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})

    if all(regions[r].get("alb_zone_id") for r in (r1, r2)):
        try:
            change(alias=True)
            return
        except ClientError:
            pass  # the emulator cannot alias to an ALB: plain CNAMEs behave the same for failover
    change(alias=False)


# ------------------------------------------------------------------------------------------ stack file


_REGION_KEYS = (
    "cluster_id",
    "cluster_arn",
    "kms_key_arn",
    "health_check_id",
    "alb_health_check_id",
    "switch_health_check_id",
    "switch_alarm_name",
    "switch_alarm_region",
    "alb_arn",
    "alb_dns_name",
    "target_group_arn",
    "asg_name",
    "bucket",
    "backup_vault",
    "sns_topic_arn",
    "lock_table",
)


def _stack_mapping(
    info: LabEndpoints,
    zone_id: str,
    r1: str,
    r2: str,
    regions: Mapping[str, Mapping[str, Any]],
    writer_endpoint: str = "",
) -> dict[str, Any]:
    return {
        "name": NAME,
        "database": {"global_cluster_id": f"{NAME}-global", "engine_version": ENGINE_VERSION},
        "route53": {
            "zone_id": zone_id,
            "record_name": RECORD,
            "ttl_s": TTL_S,
            "health_check_interval_s": HC_INTERVAL_S,
            "health_check_failure_threshold": HC_FAILURES,
            **name_servers_section(info.dns),
        },
        "objectives": {"rpo_s": 5, "rto_s": 600, "max_switchover_lag_ms": 1000},
        **probe_section(info.http, RECORD),
        **canary_section(getattr(info, "databases", {}), Path(getattr(info, "lab_dir", ".")), writer_endpoint),
        "s3": {"replication_rule_id": RULE_ID},
        "aws": {
            "connect_timeout_s": 2,
            "read_timeout_s": 5,
            "max_attempts": 3,
            **lab_aws_section(info.endpoints),
        },
        "regions": {
            region: {
                "role": role,
                "record_set_identifier": failover,
                **{k: regions[region][k] for k in _REGION_KEYS},
                **(
                    {"app_health_alarms": regions[region]["app_health_alarms"]}
                    if "app_health_alarms" in regions[region]
                    else {}
                ),
            }
            for region, role, failover in ((r1, "primary", "primary"), (r2, "secondary", "secondary"))
        },
    }
