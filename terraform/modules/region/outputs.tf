output "region" {
  description = "The region this instance of the module deployed to."
  value       = local.region
}

output "vpc_id" {
  description = "Id of this region's VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "CIDR block of this region's VPC."
  value       = aws_vpc.this.cidr_block
}

output "kms_key_arn" {
  description = "ARN of this region's KMS key."
  value       = aws_kms_key.this.arn
}

output "cluster_id" {
  description = "Identifier of this region's Aurora cluster."
  value       = aws_rds_cluster.this.cluster_identifier
}

output "cluster_arn" {
  description = "ARN of this region's Aurora cluster."
  value       = aws_rds_cluster.this.arn
}

output "cluster_kms_key_id" {
  description = "KMS key the cluster's storage is encrypted with (this region's key)."
  value       = aws_rds_cluster.this.kms_key_id
}

output "cluster_global_cluster_id" {
  description = "Global cluster the cluster joined (read from the cluster, so a secondary can wait for the primary)."
  value       = aws_rds_cluster.this.global_cluster_identifier
}

output "alb_arn" {
  description = "ARN of the ALB."
  value       = aws_lb.this.arn
}

output "alb_dns_name" {
  description = "DNS name of the ALB (target of the failover alias record and of the ALB health check)."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone id of the ALB, for alias records."
  value       = aws_lb.this.zone_id
}

output "listener_port" {
  description = "Port of the ALB listener (443 with a certificate, 80 without)."
  value       = local.listener_port
}

output "listener_protocol" {
  description = "HTTPS with a certificate, HTTP without."
  value       = local.https ? "HTTPS" : "HTTP"
}

output "target_group_arn" {
  description = "ARN of the application target group."
  value       = aws_lb_target_group.this.arn
}

output "asg_name" {
  description = "Name of the application Auto Scaling group."
  value       = aws_autoscaling_group.this.name
}

output "bucket" {
  description = "Name of this region's data bucket."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "ARN of this region's data bucket."
  value       = aws_s3_bucket.this.arn
}

output "replication_rule" {
  description = "The bucket's replication rule (for tests and drctl: id, RTC, metrics)."
  value       = one(aws_s3_bucket_replication_configuration.this.rule)
}

output "backup_vault" {
  description = "Name of this region's backup vault."
  value       = aws_backup_vault.this.name
}

output "backup_vault_arn" {
  description = "ARN of this region's backup vault."
  value       = aws_backup_vault.this.arn
}

output "backup_copy_destinations" {
  description = "Vaults every backup rule copies to (the peer region's vault)."
  value       = flatten([for r in aws_backup_plan.this.rule : [for c in r.copy_action : c.destination_vault_arn]])
}

output "sns_topic_arn" {
  description = "ARN of this region's DR notification topic."
  value       = aws_sns_topic.this.arn
}

output "lock_table" {
  description = "DynamoDB table drctl's run lock writes to in this region."
  value       = aws_dynamodb_table.lock.name
}

output "switch_alarm" {
  description = "The switch alarm this region holds for the peer region: name, region, treat_missing_data, dimensions."
  value = {
    name               = aws_cloudwatch_metric_alarm.switch.alarm_name
    region             = local.region
    for_region         = var.peer_region
    treat_missing_data = aws_cloudwatch_metric_alarm.switch.treat_missing_data
    dimensions         = aws_cloudwatch_metric_alarm.switch.dimensions
    period             = aws_cloudwatch_metric_alarm.switch.period
  }
}

output "replication_lag_alarms" {
  description = "The Aurora replication-lag alarms of this region, one per dimension set AWS documents: name, metric, dimensions, period."
  value = {
    for k, a in aws_cloudwatch_metric_alarm.replication_lag : k => {
      name        = a.alarm_name
      metric_name = a.metric_name
      dimensions  = a.dimensions
      period      = a.period
    }
  }
}

output "app_health_alarms" {
  description = "Names of this region's application-health alarms (ALB unhealthy hosts, ALB 5xx): drctl's \"application healthy\" phase waits for them to be OK after a failover into this region."
  value       = [aws_cloudwatch_metric_alarm.unhealthy_hosts.alarm_name, aws_cloudwatch_metric_alarm.alb_5xx.alarm_name]
}

output "lag_dashboard_metrics" {
  description = "What this region's dashboard graphs for each Aurora lag metric: one line per dimension set."
  value       = local.lag_graphs
}

output "iam_role_arns" {
  description = "ARNs of the IAM roles this module creates."
  value       = [aws_iam_role.app.arn, aws_iam_role.flow_logs.arn, aws_iam_role.replication.arn, aws_iam_role.backup.arn, aws_iam_role.rds_monitoring.arn]
}
