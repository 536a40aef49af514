# Log groups, alarms, the dashboard, and the failover switch of the *peer* region (it must live here, in the
# region that stays up when the peer fails).

resource "aws_cloudwatch_log_group" "app" {
  name              = "/${var.name}/${local.region}/app"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_cloudwatch_log_group" "db" {
  name              = "/aws/rds/cluster/${local.prefix}/postgresql"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_cloudwatch_log_group" "flow" {
  name              = "/${var.name}/${local.region}/vpc-flow"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

# ------------------------------------------------------------------------------------ the failover switch

# drctl drains the peer region by putting RegionDrained=1 for it *here*; the alarm turns ALARM, the Route53
# CLOUDWATCH_METRIC check that follows it turns unhealthy, and the peer's failover record stops answering.
# Missing data is ignored: a thrown switch stays thrown until drctl puts 0.
resource "aws_cloudwatch_metric_alarm" "switch" {
  alarm_name          = "${var.name}-drain-${var.peer_region}"
  alarm_description   = "drctl failover switch: ALARM means traffic is drained from ${var.peer_region}"
  namespace           = var.switch.namespace
  metric_name         = var.switch.metric_name
  dimensions          = { (var.switch.dimension_name) = var.peer_region }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "ignore"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]
}

# ------------------------------------------------------------------------------------------------ alarms

# Aurora publishes its global lag metrics from the secondary, in the secondary's region, and AWS material shows
# them under {DBClusterIdentifier} and under {DBClusterIdentifier, SourceRegion = the primary's region}
# (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/dimensions.html). CloudWatch matches dimension
# sets exactly (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Dimension),
# so an alarm on the wrong set sits in INSUFFICIENT_DATA for ever: alarm on both. While this region is the
# secondary, the writer is the peer, hence SourceRegion = peer_region. drctl reads both sets the same way.
locals {
  lag_dimension_sets = {
    cluster = { DBClusterIdentifier = aws_rds_cluster.this.cluster_identifier }
    cluster_source_region = {
      DBClusterIdentifier = aws_rds_cluster.this.cluster_identifier
      SourceRegion        = var.peer_region
    }
  }
  # Dashboard lines: one per dimension set, [namespace, metric, name1, value1, name2, value2...].
  lag_graphs = {
    for metric in ["AuroraGlobalDBReplicationLag", "AuroraGlobalDBRPOLag"] : metric => [
      for dims in values(local.lag_dimension_sets) : concat(["AWS/RDS", metric], flatten([for k, v in dims : [k, v]]))
    ]
  }
}

resource "aws_cloudwatch_metric_alarm" "replication_lag" {
  for_each = local.lag_dimension_sets

  # The first set keeps the name the single alarm had, so the `moved` block below is a pure address change.
  alarm_name          = each.key == "cluster" ? "${local.prefix}-aurora-replication-lag" : "${local.prefix}-aurora-replication-lag-${var.peer_region}"
  alarm_description   = "Aurora global replication lag into ${local.prefix} above ${var.replication_lag_alarm_ms} ms (dimensions ${join(", ", keys(each.value))})"
  namespace           = "AWS/RDS"
  metric_name         = "AuroraGlobalDBReplicationLag"
  dimensions          = each.value
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = var.replication_lag_alarm_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching" # the writer publishes no lag of its own, and AWS uses one of the two sets
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]
}

moved {
  from = aws_cloudwatch_metric_alarm.replication_lag
  to   = aws_cloudwatch_metric_alarm.replication_lag["cluster"]
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  alarm_name          = "${local.prefix}-alb-unhealthy-hosts"
  alarm_description   = "Targets of ${aws_lb.this.name} unhealthy"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { LoadBalancer = aws_lb.this.arn_suffix, TargetGroup = aws_lb_target_group.this.arn_suffix }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]
}

resource "aws_cloudwatch_metric_alarm" "alb_5xx" {
  alarm_name          = "${local.prefix}-alb-5xx"
  alarm_description   = "${aws_lb.this.name} answers 5xx"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_ELB_5XX_Count"
  dimensions          = { LoadBalancer = aws_lb.this.arn_suffix }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 10
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]
}

resource "aws_cloudwatch_metric_alarm" "s3_replication_latency" {
  alarm_name          = "${local.prefix}-s3-replication-latency"
  alarm_description   = "Replication from ${aws_s3_bucket.this.bucket} slower than RTC's 15 minutes"
  namespace           = "AWS/S3"
  metric_name         = "ReplicationLatency"
  dimensions          = { SourceBucket = aws_s3_bucket.this.bucket, DestinationBucket = element(split(":", var.peer_bucket_arn), 5), RuleId = var.replication_rule_id }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 900
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]
}

# ---------------------------------------------------------------------------------------------- dashboard

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${local.prefix}-dr"
  dashboard_body = jsonencode({
    widgets = [
      for i, w in [
        { title = "Aurora replication lag (ms)", metrics = local.lag_graphs.AuroraGlobalDBReplicationLag },
        { title = "Aurora RPO lag (ms)", metrics = local.lag_graphs.AuroraGlobalDBRPOLag },
        { title = "ALB requests and 5xx", metrics = [["AWS/ApplicationELB", "RequestCount", "LoadBalancer", aws_lb.this.arn_suffix], ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", aws_lb.this.arn_suffix]] },
        { title = "ASG in service", metrics = [["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", aws_autoscaling_group.this.name]] },
        { title = "S3 replication backlog", metrics = [["AWS/S3", "OperationsPendingReplication", "SourceBucket", aws_s3_bucket.this.bucket, "DestinationBucket", element(split(":", var.peer_bucket_arn), 5), "RuleId", var.replication_rule_id]] },
        { title = "Failover switch (${var.peer_region})", metrics = [[var.switch.namespace, var.switch.metric_name, var.switch.dimension_name, var.peer_region]] },
        ] : {
        type   = "metric"
        x      = (i % 2) * 12
        y      = floor(i / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = w.title
          region  = local.region
          metrics = w.metrics
          stat    = "Maximum"
          period  = 60
        }
      }
    ]
  })
}
