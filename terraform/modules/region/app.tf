# The application tier: a public ALB in front of an Auto Scaling group in the private subnets.

locals {
  https         = var.certificate_arn != null
  listener_port = local.https ? 443 : 80
}

# --------------------------------------------------------------------------------------- security groups

resource "aws_security_group" "alb" {
  name        = "${local.prefix}-alb"
  description = "Public ALB: ${local.listener_port} from the internet, app port to the instances only"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "alb_listener" {
  #checkov:skip=CKV_AWS_260:the ALB is the public entry point of the application; port 80 only without a certificate (labs)
  security_group_id = aws_security_group.alb.id
  description       = "Clients and Route53 health checkers"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = local.listener_port
  to_port           = local.listener_port
}

resource "aws_vpc_security_group_egress_rule" "alb_to_app" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Forward to the application instances"
  referenced_security_group_id = aws_security_group.app.id
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
}

resource "aws_security_group" "app" {
  name        = "${local.prefix}-app"
  description = "Application instances: app port from the ALB; out to HTTPS and the databases"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "app_from_alb" {
  security_group_id            = aws_security_group.app.id
  description                  = "Traffic from the ALB"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
}

resource "aws_vpc_security_group_egress_rule" "app_https" {
  security_group_id = aws_security_group.app.id
  description       = "AWS APIs (SSM, CloudWatch, Secrets Manager) and package mirrors through the NAT"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "app_db" {
  for_each = toset([var.vpc_cidr, var.peer_vpc_cidr])

  security_group_id = aws_security_group.app.id
  description       = "PostgreSQL in this region and, after a failover, the writer in the peer region"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
}

# --------------------------------------------------------------------------------------------------- ALB

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:access logs need a per-region log bucket policy for the ELB account; out of scope here
  #checkov:skip=CKV2_AWS_28:WAF is attached by the security team's own stack
  name                       = "${local.prefix}-alb"
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [aws_security_group.alb.id]
  subnets                    = aws_subnet.public[*].id
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
}

resource "aws_lb_target_group" "this" {
  name                 = "${local.prefix}-app"
  port                 = var.app_port
  protocol             = "HTTP"
  vpc_id               = aws_vpc.this.id
  deregistration_delay = 30

  health_check {
    path                = var.health_check_path
    matcher             = "200"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_lb_listener" "this" {
  #checkov:skip=CKV_AWS_2:HTTP only when no certificate is given (labs); production passes certificate_arn
  #checkov:skip=CKV_AWS_103:TLS policy is set whenever the listener is HTTPS
  load_balancer_arn = aws_lb.this.arn
  port              = local.listener_port
  protocol          = local.https ? "HTTPS" : "HTTP"
  certificate_arn   = var.certificate_arn
  ssl_policy        = local.https ? "ELBSecurityPolicy-TLS13-1-2-2021-06" : null

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }
}

# ------------------------------------------------------------------------------------- instances, ASG

resource "aws_iam_role" "app" {
  name = "${local.prefix}-app"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

# Session Manager instead of SSH: no inbound port, every session audited.
resource "aws_iam_role_policy_attachment" "app_ssm" {
  role       = aws_iam_role.app.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_policy" "app" {
  name        = "${local.prefix}-app"
  description = "Application: write its own logs, read the database secret."
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.app.arn}:*"
      },
      {
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = "arn:${local.partition}:secretsmanager:*:${var.account_id}:secret:${var.name}/db-master-*"
      },
      {
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [aws_kms_key.this.arn]
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "app" {
  role       = aws_iam_role.app.name
  policy_arn = aws_iam_policy.app.arn
}

resource "aws_iam_instance_profile" "app" {
  name = "${local.prefix}-app"
  role = aws_iam_role.app.name
}

resource "aws_launch_template" "this" {
  name_prefix            = "${local.prefix}-app-"
  image_id               = var.app_ami_id
  instance_type          = var.app_instance_type
  vpc_security_group_ids = [aws_security_group.app.id]
  update_default_version = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.app.arn
  }

  metadata_options {
    http_tokens                 = "required"
    http_endpoint               = "enabled"
    http_put_response_hop_limit = 1
  }

  monitoring {
    enabled = true
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = 20
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = aws_kms_key.this.arn
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${local.prefix}-app" }
  }
}

resource "aws_autoscaling_group" "this" {
  name                      = "${local.prefix}-app"
  min_size                  = var.asg_capacity.min
  desired_capacity          = var.asg_capacity.desired
  max_size                  = var.asg_capacity.max
  vpc_zone_identifier       = aws_subnet.private[*].id
  target_group_arns         = [aws_lb_target_group.this.arn]
  health_check_type         = "ELB"
  health_check_grace_period = 120

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }

  tag {
    key                 = "Name"
    value               = "${local.prefix}-app"
    propagate_at_launch = true
  }

  lifecycle {
    # A failover scales the new writer region up (and a failback scales it down) behind Terraform's back; a
    # redeploy after a failover must not shrink the region that now carries the traffic.
    ignore_changes = [desired_capacity]
  }
}
