# Plan-level tests of the DR stack, offline: both providers are mocks whose values are known at plan time.

mock_provider "aws" {
  alias           = "primary"
  override_during = plan

  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:111111111111:key/use1" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::payments-test-use1-data-111111111111" }
  }
  mock_resource "aws_backup_vault" {
    defaults = { arn = "arn:aws:backup:us-east-1:111111111111:backup-vault:payments-test-use1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111111111111" }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ["us-east-1a", "us-east-1b", "us-east-1c"] }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

mock_provider "aws" {
  alias           = "secondary"
  override_during = plan

  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-west-2:111111111111:key/usw2" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::payments-test-usw2-data-111111111111" }
  }
  mock_resource "aws_backup_vault" {
    defaults = { arn = "arn:aws:backup:us-west-2:111111111111:backup-vault:payments-test-usw2" }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ["us-west-2a", "us-west-2b", "us-west-2c"] }
  }
  mock_data "aws_region" {
    defaults = { name = "us-west-2" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

# Distinct ids, so that the assertions below can tell the health checks apart.
override_resource {
  target          = aws_route53_health_check.alb["us-east-1"]
  override_during = plan
  values          = { id = "hc-alb-us-east-1" }
}

override_resource {
  target          = aws_route53_health_check.alb["us-west-2"]
  override_during = plan
  values          = { id = "hc-alb-us-west-2" }
}

override_resource {
  target          = aws_route53_health_check.switch["us-east-1"]
  override_during = plan
  values          = { id = "hc-switch-us-east-1" }
}

override_resource {
  target          = aws_route53_health_check.switch["us-west-2"]
  override_during = plan
  values          = { id = "hc-switch-us-west-2" }
}

override_resource {
  target          = aws_route53_health_check.calculated["us-east-1"]
  override_during = plan
  values          = { id = "hc-calculated-us-east-1" }
}

override_resource {
  target          = aws_route53_health_check.calculated["us-west-2"]
  override_during = plan
  values          = { id = "hc-calculated-us-west-2" }
}

variables {
  # A sentinel: tests/terraform looks for it in every plan, where it must never appear.
  master_password     = "SENTINEL-db-password-7f3a9c"
  environment         = "test"
  deletion_protection = false
  app_ami_ids = {
    us-east-1 = "ami-0123456789abcdef0"
    us-west-2 = "ami-0fedcba9876543210"
  }
}

run "regions_share_one_module" {
  command = plan

  assert {
    condition     = module.primary.region == "us-east-1" && module.secondary.region == "us-west-2"
    error_message = "each module instance must deploy to its own region"
  }
  assert {
    condition     = keys(module.primary) == keys(module.secondary)
    error_message = "both regions must be instances of the same module"
  }
}

run "each_cluster_uses_its_own_regions_kms_key" {
  command = plan

  assert {
    condition     = module.primary.cluster_kms_key_id == module.primary.kms_key_arn
    error_message = "the primary cluster must be encrypted with the primary region's key"
  }
  assert {
    condition     = module.secondary.cluster_kms_key_id == module.secondary.kms_key_arn
    error_message = "the secondary cluster must be encrypted with the secondary region's key"
  }
  assert {
    condition     = module.primary.kms_key_arn != module.secondary.kms_key_arn
    error_message = "the two regions must have different keys"
  }
}

run "engine_version_without_global_support_is_rejected" {
  command = plan

  variables {
    engine_version = "11.9"
  }

  expect_failures = [var.engine_version]
}

run "engine_version_default_supports_global_databases" {
  command = plan

  assert {
    condition     = aws_rds_global_cluster.this.engine_version == "16.8" && aws_rds_global_cluster.this.engine == "aurora-postgresql"
    error_message = "the global cluster must default to aurora-postgresql 16.8"
  }
}

run "no_managed_policy_arns_anywhere" {
  command = plan

  assert {
    # Every role the modules create, and not one .tf file that sets managed_policy_arns.
    condition = length(module.primary.iam_role_arns) == 5 && alltrue([
      for f in fileset(".", "**/*.tf") : !strcontains(file(f), "managed_policy_arns")
    ])
    error_message = "IAM roles must attach policies with aws_iam_role_policy_attachment, never managed_policy_arns"
  }
}

run "failover_records_have_calculated_checks" {
  command = plan

  assert {
    condition     = output.failover_records["us-east-1"].type == "PRIMARY" && output.failover_records["us-west-2"].type == "SECONDARY"
    error_message = "the primary region's record must be PRIMARY and the secondary's SECONDARY"
  }
  assert {
    condition = alltrue([
      for region, r in aws_route53_record.app :
      r.health_check_id == aws_route53_health_check.calculated[region].id
    ])
    error_message = "each failover record must carry its region's calculated health check"
  }
  assert {
    condition = alltrue([
      for region, hc in aws_route53_health_check.calculated :
      hc.type == "CALCULATED" && hc.child_health_threshold == 2 && length(hc.child_healthchecks) == 2
      && contains(hc.child_healthchecks, aws_route53_health_check.alb[region].id)
      && contains(hc.child_healthchecks, aws_route53_health_check.switch[region].id)
    ])
    error_message = "each calculated check must need both its ALB check and its switch check"
  }
}

run "switch_alarms_live_in_the_opposite_region" {
  command = plan

  assert {
    condition = (
      module.secondary.switch_alarm.for_region == "us-east-1" && module.secondary.switch_alarm.region == "us-west-2"
      && module.primary.switch_alarm.for_region == "us-west-2" && module.primary.switch_alarm.region == "us-east-1"
    )
    error_message = "the switch alarm of a region must be created in the other region"
  }
  assert {
    condition = alltrue([
      for m in [module.primary, module.secondary] :
      m.switch_alarm.treat_missing_data == "ignore" && m.switch_alarm.period == 60
      && m.switch_alarm.dimensions["Region"] == m.switch_alarm.for_region && length(m.switch_alarm.dimensions) == 1
    ])
    error_message = "switch alarms must be standard resolution, ignore missing data, and watch Region=<drained region>"
  }
  assert {
    condition = alltrue([
      for region, hc in aws_route53_health_check.switch :
      hc.type == "CLOUDWATCH_METRIC" && hc.insufficient_data_health_status == "LastKnownStatus"
      && hc.cloudwatch_alarm_region != region
      && hc.cloudwatch_alarm_name == "payments-test-drain-${region}"
    ])
    error_message = "each switch health check must follow its region's alarm in the other region"
  }
}

run "s3_replication_has_rtc_and_metrics_both_ways" {
  command = plan

  assert {
    condition = alltrue([
      for m in [module.primary, module.secondary] :
      one(m.replication_rule.destination).replication_time[0].status == "Enabled"
      && one(m.replication_rule.destination).replication_time[0].time[0].minutes == 15
      && one(m.replication_rule.destination).metrics[0].status == "Enabled"
    ])
    error_message = "replication must use RTC (15 minutes) and replication metrics"
  }
  assert {
    condition = (
      one(module.primary.replication_rule.destination).bucket == module.secondary.bucket_arn
      && one(module.secondary.replication_rule.destination).bucket == module.primary.bucket_arn
    )
    error_message = "each bucket must replicate to the other (ready for failback)"
  }
}

run "backup_plan_copies_cross_region" {
  command = plan

  assert {
    condition = (
      module.primary.backup_copy_destinations == [module.secondary.backup_vault_arn]
      && module.secondary.backup_copy_destinations == [module.primary.backup_vault_arn]
    )
    error_message = "every backup must be copied to the other region's vault"
  }
}

run "writer_region_decides_the_primary_record" {
  command = plan

  variables {
    writer_region = "us-west-2"
  }

  assert {
    condition     = output.failover_records["us-west-2"].type == "PRIMARY" && output.failover_records["us-east-1"].type == "SECONDARY"
    error_message = "after a failover the PRIMARY record must follow writer_region"
  }
  assert {
    condition     = output.drctl_stack.regions["us-east-1"].role == "primary"
    error_message = "deployment roles do not change with the writer"
  }
}

run "stack_output_is_shaped_like_the_stack_file" {
  command = plan

  assert {
    condition = (
      output.drctl_stack.name == "payments-test"
      && output.drctl_stack.database.engine_version == "16.8"
      && output.drctl_stack.regions["us-east-1"].switch_alarm_region == "us-west-2"
      && output.drctl_stack.regions["us-west-2"].switch_alarm_region == "us-east-1"
      && output.drctl_stack.route53.record_name == "app.payments.example.com"
    )
    error_message = "drctl_stack must carry the names drctl reads"
  }
}

run "stack_output_names_each_regions_application_health_alarms" {
  command = plan

  variables {
    extra_app_health_alarms = { "us-west-2" = ["payments-test-usw2-checkout-errors"] }
  }

  assert {
    condition = (
      output.drctl_stack.regions["us-east-1"].app_health_alarms == ["payments-test-use1-alb-unhealthy-hosts", "payments-test-use1-alb-5xx"]
      && output.drctl_stack.regions["us-west-2"].app_health_alarms == ["payments-test-usw2-alb-unhealthy-hosts", "payments-test-usw2-alb-5xx", "payments-test-usw2-checkout-errors"]
    )
    error_message = "drctl_stack must name each region's ALB alarms, then the extra alarms given for that region"
  }
}

run "replication_lag_is_alarmed_under_both_documented_dimension_sets" {
  command = plan

  assert {
    condition = alltrue([
      for m in [module.primary, module.secondary] :
      toset(keys(m.replication_lag_alarms)) == toset(["cluster", "cluster_source_region"])
      && m.replication_lag_alarms["cluster"].dimensions == tomap({ DBClusterIdentifier = m.cluster_id })
      && m.replication_lag_alarms["cluster_source_region"].dimensions == tomap({
        DBClusterIdentifier = m.cluster_id
        SourceRegion        = m.switch_alarm.for_region # the peer: the writer while this region is secondary
      })
      && alltrue([for a in values(m.replication_lag_alarms) : a.metric_name == "AuroraGlobalDBReplicationLag" && a.period % 60 == 0])
    ])
    error_message = "each region must alarm on replication lag under {DBClusterIdentifier} and {DBClusterIdentifier, SourceRegion=<peer>}, at standard-resolution periods"
  }
  assert {
    condition     = module.primary.replication_lag_alarms["cluster"].name == "payments-test-use1-aurora-replication-lag"
    error_message = "the {DBClusterIdentifier} alarm must keep the name of the former single alarm (moved, not replaced)"
  }
  assert {
    condition = alltrue([
      for m in [module.primary, module.secondary] : alltrue([
        for metric, lines in m.lag_dashboard_metrics :
        length(lines) == 2 && contains(flatten(lines), "SourceRegion") && contains(flatten(lines), m.switch_alarm.for_region)
      ])
    ])
    error_message = "the dashboard's lag widgets must graph both dimension sets"
  }
}
