# One region of the DR stack. The root module instantiates this module once per region; everything that
# exists in both regions is written here, once.

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  region     = data.aws_region.current.name
  is_primary = var.region_role == "primary"
  # us-east-1 -> use1: short, stable, readable in resource names.
  region_parts = split("-", local.region)
  short        = "${local.region_parts[0]}${substr(local.region_parts[1], 0, 1)}${local.region_parts[2]}"
  prefix       = "${var.name}-${local.short}"
  partition    = data.aws_partition.current.partition
  account_arn  = "arn:${local.partition}:iam::${var.account_id}:root"
}

# ------------------------------------------------------------------------------------------------- KMS

resource "aws_kms_key" "this" {
  description             = "${local.prefix}: database, bucket, logs, topic, backups and volumes in ${local.region}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = local.account_arn }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsEncrypt"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${var.account_id}:*" }
        }
      },
      {
        Sid       = "AlarmsPublishToEncryptedTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
      },
      {
        Sid    = "AutoScalingEncryptedVolumes"
        Effect = "Allow"
        Principal = {
          AWS = "arn:${local.partition}:iam::${var.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
        }
        Action   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"]
        Resource = "*"
      },
    ]
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${local.prefix}"
  target_key_id = aws_kms_key.this.key_id
}

# ---------------------------------------------------------------------------------------- notifications

resource "aws_sns_topic" "this" {
  name              = "${var.name}-dr"
  kms_master_key_id = aws_kms_key.this.arn
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# ----------------------------------------------------------------------------------------- drctl's lock

# drctl's run lock: a conditional put in the *target* region's table, so two operators never fail over at once.
resource "aws_dynamodb_table" "lock" {
  name                        = "${var.name}-drctl-locks"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "lock_id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "lock_id"
    type = "S"
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  point_in_time_recovery {
    enabled = true
  }
}
