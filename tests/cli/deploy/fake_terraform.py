#!/usr/bin/env python3
"""A fake `terraform` for drctl deploy tests. FAKE_TF_MODE picks the behaviour; every call is recorded (argv and
whether TF_VAR_master_password was set, and TF_CLI_CONFIG_FILE) as a JSON line in FAKE_TF_LOG."""

import json
import os
import signal
import sys
import time

mode = os.environ.get("FAKE_TF_MODE", "ok")
argv = sys.argv[1:]
cmd = argv[0] if argv else ""
with open(os.environ["FAKE_TF_LOG"], "a", encoding="utf-8") as log:
    has_password = bool(os.environ.get("TF_VAR_master_password"))  # noqa: SIM112 - Terraform's own casing
    cli_config = os.environ.get("TF_CLI_CONFIG_FILE")
    log.write(json.dumps({"argv": argv, "password_env": has_password, "cli_config": cli_config}) + "\n")


def region(name, role, other):
    return {
        "role": role,
        "cluster_id": f"c-{name}",
        "cluster_arn": f"arn:aws:rds:{name}:000000000000:cluster:c-{name}",
        "health_check_id": f"hc-{name}",
        "alb_health_check_id": f"hc-alb-{name}",
        "switch_health_check_id": f"hc-sw-{name}",
        "switch_alarm_name": f"drain-{name}",
        "switch_alarm_region": other,
        "record_set_identifier": name,
        "alb_arn": f"arn:aws:elasticloadbalancing:{name}:000000000000:loadbalancer/app/a/1",
        "alb_dns_name": f"a.{name}.elb.amazonaws.com",
        "target_group_arn": f"arn:aws:elasticloadbalancing:{name}:000000000000:targetgroup/t/1",
        "asg_name": f"asg-{name}",
        "bucket": f"b-{name}",
        "backup_vault": f"v-{name}",
        "sns_topic_arn": f"arn:aws:sns:{name}:000000000000:t",
        "lock_table": "locks",
        "kms_key_arn": f"arn:aws:kms:{name}:000000000000:key/k",
    }


STACK = {
    "name": "payments-test",
    "database": {"global_cluster_id": "payments-test-global", "engine_version": "16.8"},
    "route53": {
        "zone_id": "Z1",
        "record_name": "app.example.com",
        "ttl_s": 60,
        "health_check_interval_s": 30,
        "health_check_failure_threshold": 3,
    },
    "objectives": {"rpo_s": 5, "rto_s": 600, "max_switchover_lag_ms": 1000},
    "s3": {"replication_rule_id": "crr"},
    "regions": {
        "us-east-1": region("us-east-1", "primary", "us-west-2"),
        "us-west-2": region("us-west-2", "secondary", "us-east-1"),
    },
}

PLAN = {
    "resource_changes": [
        {
            "address": "module.primary.aws_vpc.this",
            "mode": "managed",
            "type": "aws_vpc",
            "change": {"actions": ["create"], "before": None, "after": {}},
        },
        {
            "address": "module.primary.aws_kms_key.this",
            "mode": "managed",
            "type": "aws_kms_key",
            "change": {"actions": ["create"], "before": None, "after": {}},
        },
        {
            "address": "module.secondary.aws_vpc.this",
            "mode": "managed",
            "type": "aws_vpc",
            "change": {"actions": ["create"], "before": None, "after": {}},
        },
    ]
}


def event(kind, addr, action="create", message=""):
    print(
        json.dumps(
            {
                "type": kind,
                "@message": message or f"{addr}: {kind}",
                "hook": {"resource": {"addr": addr}, "action": action},
            }
        ),
        flush=True,
    )


if cmd == "version":
    print(json.dumps({"terraform_version": "1.5.7" if mode == "old" else "1.11.4"}))
elif cmd in ("init",):
    print("Terraform has been successfully initialized!")
elif cmd == "validate":
    warn = [{"severity": "warning", "summary": "Deprecated argument", "detail": "x is deprecated"}]
    print(
        json.dumps(
            {
                "valid": True,
                "error_count": 0,
                "warning_count": 1 if mode == "warn" else 0,
                "diagnostics": warn if mode == "warn" else [],
            }
        )
    )
elif cmd == "plan":
    if mode == "plan_fail":
        print("\nError: Invalid provider configuration\n\nno valid credential sources found", file=sys.stderr)
        sys.exit(1)
    sys.exit(0 if mode == "no_changes" else 2)
elif cmd == "show":
    print(
        json.dumps(
            {"resource_changes": []}
            if mode == "no_changes"
            else json.loads(os.environ["FAKE_TF_PLAN"])
            if os.environ.get("FAKE_TF_PLAN")
            else PLAN
        )
    )
elif cmd == "apply":
    addrs = [rc["address"] for rc in PLAN["resource_changes"]]
    event("apply_start", addrs[0])
    event("apply_complete", addrs[0])
    if mode == "apply_fail":
        event("apply_start", addrs[1])
        print(
            json.dumps(
                {
                    "type": "diagnostic",
                    "@message": "Error: creating KMS Key: AccessDenied",
                    "diagnostic": {
                        "severity": "error",
                        "summary": "creating KMS Key",
                        "detail": "AccessDeniedException: not allowed",
                        "address": addrs[1],
                    },
                }
            ),
            flush=True,
        )
        sys.exit(1)
    if mode == "interrupt":

        def stop(signum, frame):
            with open(os.environ["FAKE_TF_LOG"], "a", encoding="utf-8") as log:
                log.write(json.dumps({"signal": signum}) + "\n")
            msg = "Interrupt received; gracefully shutting down"
            print(json.dumps({"type": "log", "@message": msg}), flush=True)
            sys.exit(1)

        signal.signal(signal.SIGINT, stop)
        event("apply_start", addrs[1])
        time.sleep(30)
        sys.exit(0)
    for a in addrs[1:]:
        event("apply_start", a)
        event("apply_complete", a)
elif cmd == "output":
    print(json.dumps({"drctl_stack": {"value": STACK, "type": "object", "sensitive": False}}))
elif cmd == "destroy":
    print("Destroy complete! Resources: 3 destroyed.")
else:
    sys.exit(f"fake terraform: unknown command {argv}")
