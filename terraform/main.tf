# The two-region DR stack: one provider per region, the regional module instantiated once per region, and the
# pieces that span both regions (global database, peering, Route53 failover).

locals {
  stack_name    = "${var.name}-${var.environment}${var.environment_suffix}"
  writer_region = coalesce(var.writer_region, var.primary_region)

  tags = {
    environment = var.environment
    application = var.application
    managed-by  = "terraform"
  }
}

provider "aws" {
  alias  = "primary"
  region = var.primary_region

  default_tags {
    tags = merge(local.tags, { dr-role = "primary" })
  }
}

provider "aws" {
  alias  = "secondary"
  region = var.secondary_region

  default_tags {
    tags = merge(local.tags, { dr-role = "secondary" })
  }
}

data "aws_caller_identity" "current" {
  provider = aws.primary
}

# ------------------------------------------------------------------------------------------ the regions

module "primary" {
  source    = "./modules/region"
  providers = { aws = aws.primary }

  name               = local.stack_name
  region_role        = "primary"
  peer_region        = var.secondary_region
  account_id         = data.aws_caller_identity.current.account_id
  vpc_cidr           = var.vpc_cidrs.primary
  peer_vpc_cidr      = var.vpc_cidrs.secondary
  availability_zones = lookup(var.availability_zones, var.primary_region, null)

  peering_connection_id = aws_vpc_peering_connection_accepter.this.id

  app_ami_id          = var.app_ami_ids[var.primary_region]
  app_instance_type   = var.app_instance_type
  certificate_arn     = lookup(var.certificate_arns, var.primary_region, null)
  health_check_path   = var.health_check_path
  deletion_protection = var.deletion_protection
  alarm_email         = var.alarm_email

  global_cluster_id       = aws_rds_global_cluster.this.id
  engine_version          = var.engine_version
  db_instance_class       = var.db_instance_class
  db_instance_count       = var.db_instance_counts.primary
  master_password         = var.master_password
  master_password_version = var.master_password_version

  peer_bucket_arn       = module.secondary.bucket_arn
  peer_kms_key_arn      = module.secondary.kms_key_arn
  peer_backup_vault_arn = module.secondary.backup_vault_arn
  replication_rule_id   = local.replication_rule_id
  switch                = var.switch
}

module "secondary" {
  source    = "./modules/region"
  providers = { aws = aws.secondary }

  name               = local.stack_name
  region_role        = "secondary"
  peer_region        = var.primary_region
  account_id         = data.aws_caller_identity.current.account_id
  vpc_cidr           = var.vpc_cidrs.secondary
  peer_vpc_cidr      = var.vpc_cidrs.primary
  availability_zones = lookup(var.availability_zones, var.secondary_region, null)

  peering_connection_id = aws_vpc_peering_connection_accepter.this.id

  app_ami_id          = var.app_ami_ids[var.secondary_region]
  app_instance_type   = var.app_instance_type
  certificate_arn     = lookup(var.certificate_arns, var.secondary_region, null)
  health_check_path   = var.health_check_path
  deletion_protection = var.deletion_protection
  alarm_email         = var.alarm_email

  # Read from the primary cluster, not from the global cluster: the secondary can only join once the primary
  # cluster (the global writer) exists.
  global_cluster_id = module.primary.cluster_global_cluster_id
  engine_version    = var.engine_version
  db_instance_class = var.db_instance_class
  db_instance_count = var.db_instance_counts.secondary

  peer_bucket_arn       = module.primary.bucket_arn
  peer_kms_key_arn      = module.primary.kms_key_arn
  peer_backup_vault_arn = module.primary.backup_vault_arn
  replication_rule_id   = local.replication_rule_id
  switch                = var.switch
}

locals {
  replication_rule_id = "${local.stack_name}-crr"

  # Region name -> the module instance deployed there, and its peer.
  regions = {
    (var.primary_region)   = module.primary
    (var.secondary_region) = module.secondary
  }
  peer_of = {
    (var.primary_region)   = var.secondary_region
    (var.secondary_region) = var.primary_region
  }
  role_of = {
    (var.primary_region)   = "primary"
    (var.secondary_region) = "secondary"
  }
}

# ------------------------------------------------------------------------------------ global database

resource "aws_rds_global_cluster" "this" {
  provider = aws.primary

  global_cluster_identifier = "${local.stack_name}-global"
  engine                    = "aurora-postgresql"
  engine_version            = var.engine_version
  storage_encrypted         = true
  deletion_protection       = var.deletion_protection
}

# ---------------------------------------------------------------------------------------- VPC peering

resource "aws_vpc_peering_connection" "this" {
  provider = aws.primary

  vpc_id      = module.primary.vpc_id
  peer_vpc_id = module.secondary.vpc_id
  peer_region = var.secondary_region

  tags = { Name = "${local.stack_name}-peering" }
}

resource "aws_vpc_peering_connection_accepter" "this" {
  provider = aws.secondary

  vpc_peering_connection_id = aws_vpc_peering_connection.this.id
  auto_accept               = true

  tags = { Name = "${local.stack_name}-peering" }
}
