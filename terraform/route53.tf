# Route53 failover: one alias record per region, PRIMARY on the region that writes. Each record carries a
# CALCULATED health check that is healthy only when both children are: the ALB's own HTTP(S) check, and the
# failover switch (a CLOUDWATCH_METRIC check following the switch alarm kept in the *other* region).

resource "aws_route53_zone" "this" {
  #checkov:skip=CKV2_AWS_38:DNSSEC signing needs a KMS key in us-east-1 and registrar changes; enabled by the DNS team
  #checkov:skip=CKV2_AWS_39:query logging needs a us-east-1 log group; enabled by the DNS team
  count    = var.zone_id == null ? 1 : 0
  provider = aws.primary

  name = var.domain_name
}

locals {
  zone_id     = var.zone_id != null ? var.zone_id : aws_route53_zone.this[0].zone_id
  record_fqdn = "${var.record_name}.${var.zone_id != null ? data.aws_route53_zone.existing[0].name : var.domain_name}"
}

data "aws_route53_zone" "existing" {
  count    = var.zone_id == null ? 0 : 1
  provider = aws.primary

  zone_id = var.zone_id
}

resource "aws_route53_health_check" "alb" {
  for_each = local.regions
  provider = aws.primary

  type              = each.value.listener_protocol
  fqdn              = each.value.alb_dns_name
  port              = each.value.listener_port
  resource_path     = var.health_check_path
  request_interval  = var.health_check_interval_s
  failure_threshold = var.health_check_failure_threshold
  measure_latency   = true

  tags = { Name = "${local.stack_name}-alb-${each.key}" }
}

resource "aws_route53_health_check" "switch" {
  for_each = local.regions
  provider = aws.primary

  type                            = "CLOUDWATCH_METRIC"
  cloudwatch_alarm_name           = local.regions[local.peer_of[each.key]].switch_alarm.name
  cloudwatch_alarm_region         = local.peer_of[each.key]
  insufficient_data_health_status = "LastKnownStatus"

  tags = { Name = "${local.stack_name}-switch-${each.key}" }
}

resource "aws_route53_health_check" "calculated" {
  for_each = local.regions
  provider = aws.primary

  type                   = "CALCULATED"
  child_health_threshold = 2
  child_healthchecks     = [aws_route53_health_check.alb[each.key].id, aws_route53_health_check.switch[each.key].id]

  tags = { Name = "${local.stack_name}-${each.key}" }
}

resource "aws_route53_record" "app" {
  #checkov:skip=CKV2_AWS_23:the alias targets the ALB through the region module's outputs, which the graph check cannot follow
  for_each = local.regions
  provider = aws.primary

  zone_id         = local.zone_id
  name            = local.record_fqdn
  type            = "A"
  set_identifier  = each.key
  health_check_id = aws_route53_health_check.calculated[each.key].id

  failover_routing_policy {
    # Created PRIMARY on the region that writes (drctl deploy passes the actual writer after a failover).
    type = each.key == local.writer_region ? "PRIMARY" : "SECONDARY"
  }

  alias {
    name                   = each.value.alb_dns_name
    zone_id                = each.value.alb_zone_id
    evaluate_target_health = true
  }

  lifecycle {
    # Which record is PRIMARY may be changed by drctl's failover (its Route53 fallback path); a redeploy after a
    # failover must neither move it back nor move it on its own: traffic moves by the switch, not by deploys.
    ignore_changes = [failover_routing_policy]
  }
}
