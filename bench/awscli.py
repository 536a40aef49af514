"""The operator's alternative to `drctl status`: the same reads as a sequence of `aws` CLI commands.

awscli comes from PyPI into an environment of its own under the bench cache (it pins botocore, so it never
enters drctl's environment), pointed at the twin's endpoints with the twin's test credentials.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import CACHE

AWSCLI_VERSION = "1.46.2"
INSTALL_TIMEOUT_S = 600


def ensure_awscli(cache: Path = CACHE) -> Path:
    """The `aws` executable of a venv holding awscli==AWSCLI_VERSION (created on first use)."""
    venv = cache / f"awscli-{AWSCLI_VERSION}"
    aws = venv / "bin" / "aws"
    marker = venv / ".complete"
    if marker.exists() and aws.exists():
        return aws
    cache.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    uv = shutil.which("uv")
    steps = (
        [
            [uv, "venv", "--quiet", "--allow-existing", "--python", sys.executable, str(venv)],
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(venv / "bin" / "python"),
                f"awscli=={AWSCLI_VERSION}",
            ],
        ]
        if uv
        else [
            [sys.executable, "-m", "venv", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"awscli=={AWSCLI_VERSION}"],
        ]
    )
    for argv in steps:
        subprocess.run(argv, env=env, check=True, timeout=INSTALL_TIMEOUT_S, capture_output=True)
    marker.touch()
    return aws


@dataclass(frozen=True)
class AwsCommand:
    service: str  # the signing name, as in the gateway's request log ("elasticloadbalancing", "s3", ...)
    operation: str  # the API operation, as in the gateway's request log
    region: str  # a region, or "global" (route53)
    argv: tuple[str, ...]  # after `aws`


def aws_env(home: Path, secret: str) -> dict[str, str]:
    """Credentials and nothing else: no profile, config or credentials file of the machine's user."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DRCTL_"))}
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY=secret,
        AWS_CONFIG_FILE=str(home / "aws-config-none"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials-none"),
        AWS_RETRY_MODE="standard",
        AWS_PAGER="",
    )
    return env


def status_commands(stack_path: Path, writer_region: str | None = None) -> list[AwsCommand]:
    """The reads `drctl status` makes, one `aws` command each, in the order an operator would type them.

    The lag of the non-writer needs to know who writes: like drctl, read it after DescribeGlobalClusters
    (`writer_region` None: the stack's primary, the seeded writer).
    """
    from drctl.stack import load_stack

    stack = load_stack(stack_path)
    eps = stack.aws.endpoints
    now = datetime.now(UTC)
    window = [
        "--start-time",
        (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--end-time",
        (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--scan-by",
        "TimestampDescending",
    ]
    writer = writer_region or stack.primary.name
    cmds: list[AwsCommand] = []

    def add(service: str, op: str, region: str, *argv: str) -> None:
        endpoint = eps.get("global" if region == "global" else region)
        where = ["--region", "us-east-1" if region == "global" else region]
        if endpoint:
            where += ["--endpoint-url", endpoint]
        cmds.append(AwsCommand(service, op, region, (*argv, *where, "--output", "json")))

    def metric_queries(namespace: str, dims: dict[str, str], metrics: list[str]) -> str:
        return json.dumps(
            [
                {
                    "Id": f"q{i}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": namespace,
                            "MetricName": m,
                            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                        },
                        "Period": 1,
                        "Stat": "Maximum",
                    },
                    "ReturnData": True,
                }
                for i, m in enumerate(metrics)
            ]
        )

    for r in stack.regions.values():
        other = stack.other(r.name)
        n = r.name
        add(
            "rds",
            "DescribeGlobalClusters",
            n,
            "rds",
            "describe-global-clusters",
            "--global-cluster-identifier",
            stack.global_cluster_id,
        )
        if n != writer:
            add(
                "monitoring",
                "GetMetricData",
                n,
                "cloudwatch",
                "get-metric-data",
                "--metric-data-queries",
                metric_queries(
                    "AWS/RDS",
                    {"DBClusterIdentifier": r.cluster_id},
                    ["AuroraGlobalDBReplicationLag", "AuroraGlobalDBRPOLag"],
                ),
                *window,
            )
        add("rds", "DescribeDBClusters", n, "rds", "describe-db-clusters", "--db-cluster-identifier", r.cluster_id)
        add(
            "elasticloadbalancing",
            "DescribeTargetHealth",
            n,
            "elbv2",
            "describe-target-health",
            "--target-group-arn",
            r.target_group_arn,
        )
        add(
            "autoscaling",
            "DescribeAutoScalingGroups",
            n,
            "autoscaling",
            "describe-auto-scaling-groups",
            "--auto-scaling-group-names",
            r.asg_name,
        )
        add("s3", "GetBucketVersioning", n, "s3api", "get-bucket-versioning", "--bucket", r.bucket)
        add("s3", "GetBucketReplication", n, "s3api", "get-bucket-replication", "--bucket", r.bucket)
        add(
            "monitoring",
            "GetMetricData",
            n,
            "cloudwatch",
            "get-metric-data",
            "--metric-data-queries",
            metric_queries(
                "AWS/S3",
                {"SourceBucket": r.bucket, "DestinationBucket": other.bucket, "RuleId": stack.replication_rule_id},
                ["OperationsPendingReplication", "BytesPendingReplication", "ReplicationLatency"],
            ),
            *window,
        )
        add(
            "backup",
            "ListRecoveryPointsByBackupVault",
            n,
            "backup",
            "list-recovery-points-by-backup-vault",
            "--backup-vault-name",
            r.backup_vault,
            "--max-results",
            "100",
        )
        add("backup", "ListCopyJobs", n, "backup", "list-copy-jobs", "--max-results", "100")
        add("sns", "GetTopicAttributes", n, "sns", "get-topic-attributes", "--topic-arn", r.sns_topic_arn)
    add(
        "route53",
        "ListResourceRecordSets",
        "global",
        "route53",
        "list-resource-record-sets",
        "--hosted-zone-id",
        stack.zone_id,
        "--start-record-name",
        stack.record_name,
    )
    for r in stack.regions.values():
        add(
            "route53",
            "GetHealthCheck",
            "global",
            "route53",
            "get-health-check",
            "--health-check-id",
            r.health_check_id,
        )
        for leaf in (r.alb_health_check_id, r.switch_health_check_id):
            add("route53", "GetHealthCheck", "global", "route53", "get-health-check", "--health-check-id", leaf)
            add(
                "route53",
                "GetHealthCheckStatus",
                "global",
                "route53",
                "get-health-check-status",
                "--health-check-id",
                leaf,
            )
    return cmds


def run_sequence(aws: Path, cmds: list[AwsCommand], env: dict[str, str], timeout: float = 120.0) -> list[int]:
    """Run the commands one after another (as an operator's script would); return their exit codes."""
    codes = []
    for c in cmds:
        p = subprocess.run(
            [str(aws), *c.argv], env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        codes.append(p.returncode)
    return codes


def first_failure(aws: Path, cmds: list[AwsCommand], env: dict[str, str]) -> dict[str, Any] | None:
    """The first command that fails, with its stderr (to check the sequence before timing it)."""
    for c in cmds:
        p = subprocess.run([str(aws), *c.argv], env=env, capture_output=True, text=True, timeout=120, check=False)
        if p.returncode != 0:
            return {"argv": " ".join(c.argv), "rc": p.returncode, "stderr": p.stderr.strip()[-500:]}
    return None
