output "drctl_stack" {
  description = "Everything drctl needs, shaped like its stack file (drctl deploy writes .drctl/stack.toml from it)."
  value = {
    name = local.stack_name
    database = {
      global_cluster_id = aws_rds_global_cluster.this.id
      engine_version    = var.engine_version
    }
    route53 = {
      zone_id                        = local.zone_id
      record_name                    = local.record_fqdn
      ttl_s                          = var.record_ttl_s
      health_check_interval_s        = var.health_check_interval_s
      health_check_failure_threshold = var.health_check_failure_threshold
    }
    objectives = var.objectives
    switch     = var.switch
    s3 = {
      replication_rule_id = local.replication_rule_id
    }
    regions = {
      for region, m in local.regions : region => {
        role                   = local.role_of[region]
        cluster_id             = m.cluster_id
        cluster_arn            = m.cluster_arn
        kms_key_arn            = m.kms_key_arn
        health_check_id        = aws_route53_health_check.calculated[region].id
        alb_health_check_id    = aws_route53_health_check.alb[region].id
        switch_health_check_id = aws_route53_health_check.switch[region].id
        switch_alarm_name      = local.regions[local.peer_of[region]].switch_alarm.name
        switch_alarm_region    = local.peer_of[region]
        record_set_identifier  = aws_route53_record.app[region].set_identifier
        alb_arn                = m.alb_arn
        alb_dns_name           = m.alb_dns_name
        target_group_arn       = m.target_group_arn
        asg_name               = m.asg_name
        bucket                 = m.bucket
        backup_vault           = m.backup_vault
        sns_topic_arn          = m.sns_topic_arn
        lock_table             = m.lock_table
        app_health_alarms      = concat(m.app_health_alarms, lookup(var.extra_app_health_alarms, region, []))
      }
    }
  }
}

output "failover_records" {
  description = "Failover role and health check of each region's record."
  value = {
    for region, r in aws_route53_record.app : region => {
      type            = one(r.failover_routing_policy).type
      health_check_id = r.health_check_id
    }
  }
}
