# This region's member of the Aurora PostgreSQL global database. The primary region's cluster is created with the
# master credentials and joins the global cluster as writer; the secondary joins as a read-only member. Each is
# encrypted with its own region's KMS key (a cross-region encrypted secondary needs a key of its region).

resource "aws_db_subnet_group" "this" {
  name       = local.prefix
  subnet_ids = aws_subnet.private[*].id
}

resource "aws_security_group" "db" {
  name        = "${local.prefix}-db"
  description = "Aurora: PostgreSQL from this region's app instances and the peer VPC only"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "db_from_app" {
  security_group_id            = aws_security_group.db.id
  description                  = "Application instances of this region"
  referenced_security_group_id = aws_security_group.app.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_vpc_security_group_ingress_rule" "db_from_peer" {
  security_group_id = aws_security_group.db.id
  description       = "Application instances of the peer region, writing here after a failover"
  cidr_ipv4         = var.peer_vpc_cidr
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
}

# Log DDL and slow statements: what an auditor asks about after an incident, without logging every query.
resource "aws_rds_cluster_parameter_group" "this" {
  name        = "${local.prefix}-pg${split(".", var.engine_version)[0]}"
  family      = "aurora-postgresql${split(".", var.engine_version)[0]}"
  description = "${local.prefix}: statement logging"

  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_rds_cluster" "this" {
  #checkov:skip=CKV2_AWS_8:backed up by AWS Backup (plan with cross-region copy in this module)
  #checkov:skip=CKV_AWS_162:IAM database authentication is an application decision; master credentials are write-only
  cluster_identifier              = local.prefix
  global_cluster_identifier       = var.global_cluster_id
  engine                          = "aurora-postgresql"
  engine_version                  = var.engine_version
  db_subnet_group_name            = aws_db_subnet_group.this.name
  db_cluster_parameter_group_name = aws_rds_cluster_parameter_group.this.name
  vpc_security_group_ids          = [aws_security_group.db.id]
  storage_encrypted               = true
  kms_key_id                      = aws_kms_key.this.arn
  backup_retention_period         = var.backup_retention_days
  preferred_backup_window         = "02:00-03:00"
  copy_tags_to_snapshot           = true
  deletion_protection             = var.deletion_protection
  skip_final_snapshot             = !var.deletion_protection
  final_snapshot_identifier       = var.deletion_protection ? "${local.prefix}-final" : null

  enabled_cloudwatch_logs_exports = ["postgresql"]

  # Only the cluster that creates the global database carries the credentials; secondaries inherit them.
  # Write-only: the password goes to RDS and is never stored in state or shown in a plan.
  database_name              = local.is_primary ? var.database_name : null
  master_username            = local.is_primary ? var.master_username : null
  master_password_wo         = local.is_primary ? var.master_password : null
  master_password_wo_version = local.is_primary ? var.master_password_version : null

  lifecycle {
    # After a failover with data loss, drctl detaches the old writer from the global cluster; a redeploy must not
    # try to re-attach (impossible in place) or destroy it. Re-joining is an explicit, documented operation.
    # AWS sets replication_source_identifier on secondary members itself.
    ignore_changes = [global_cluster_identifier, replication_source_identifier]
  }

  depends_on = [aws_cloudwatch_log_group.db]
}

resource "aws_rds_cluster_instance" "this" {
  count = var.db_instance_count

  identifier                   = "${local.prefix}-${count.index + 1}"
  cluster_identifier           = aws_rds_cluster.this.id
  engine                       = aws_rds_cluster.this.engine
  engine_version               = aws_rds_cluster.this.engine_version
  instance_class               = var.db_instance_class
  db_subnet_group_name         = aws_db_subnet_group.this.name
  publicly_accessible          = false
  auto_minor_version_upgrade   = true
  performance_insights_enabled = true

  performance_insights_kms_key_id = aws_kms_key.this.arn
  monitoring_interval             = 60
  monitoring_role_arn             = aws_iam_role.rds_monitoring.arn
}

resource "aws_iam_role" "rds_monitoring" {
  name = "${local.prefix}-rds-monitoring"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "monitoring.rds.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

# AWS's policy for enhanced monitoring: write to the RDSOSMetrics log group only.
resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

# ------------------------------------------------------------------------------ the master password secret

# Kept by the primary region and replicated to the peer, so that operators can reach the database after a failover
# without the failed region. Write-only too: the value never enters state.
resource "aws_secretsmanager_secret" "db_master" {
  #checkov:skip=CKV2_AWS_57:rotation needs a rotation Lambda in the VPC; rotate with master_password_version instead
  count = local.is_primary ? 1 : 0

  name                    = "${var.name}/db-master"
  description             = "Master credentials of the ${var.global_cluster_id} Aurora global database"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 7

  replica {
    region     = var.peer_region
    kms_key_id = var.peer_kms_key_arn
  }
}

resource "aws_secretsmanager_secret_version" "db_master" {
  count = local.is_primary ? 1 : 0

  secret_id                = aws_secretsmanager_secret.db_master[0].id
  secret_string_wo         = jsonencode({ username = var.master_username, password = var.master_password })
  secret_string_wo_version = var.master_password_version
}
