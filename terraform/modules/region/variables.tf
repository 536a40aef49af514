# --------------------------------------------------------------------------------------------- identity

variable "name" {
  description = "Name prefix of every resource of the stack (already including any environment suffix)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "region_role" {
  description = "Deployment role of this region: \"primary\" (creates the global writer) or \"secondary\"."
  type        = string

  validation {
    condition     = contains(["primary", "secondary"], var.region_role)
    error_message = "region_role must be \"primary\" or \"secondary\"."
  }
}

variable "peer_region" {
  description = "The other region of the stack: the switch alarm created here watches that region's drain metric."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.peer_region))
    error_message = "peer_region must be an AWS region name such as us-west-2."
  }
}

# ---------------------------------------------------------------------------------------------- network

variable "vpc_cidr" {
  description = "CIDR block of this region's VPC (must not overlap the peer's: the VPCs are peered)."
  type        = string

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be an IPv4 CIDR block of /20 or larger."
  }
}

variable "peer_vpc_cidr" {
  description = "CIDR block of the peer region's VPC, routed over the peering connection."
  type        = string

  validation {
    condition     = can(cidrnetmask(var.peer_vpc_cidr))
    error_message = "peer_vpc_cidr must be an IPv4 CIDR block."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread the subnets, NAT gateways and instances over."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4
    error_message = "az_count must be between 2 and 4: a DR stack survives the loss of one AZ."
  }
}

variable "availability_zones" {
  description = "Availability zones to use (null: the first az_count zones the region reports as available)."
  type        = list(string)
  default     = null

  validation {
    condition     = var.availability_zones == null || try(length(var.availability_zones) >= 2, false)
    error_message = "Give at least two availability zones."
  }
}

variable "peering_connection_id" {
  description = "Id of the accepted VPC peering connection to the peer region (routes to peer_vpc_cidr use it)."
  type        = string
}

# -------------------------------------------------------------------------------------------------- app

variable "app_ami_id" {
  description = "AMI of the application instances in this region."
  type        = string

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.app_ami_id))
    error_message = "app_ami_id must look like ami-0123456789abcdef0."
  }
}

variable "app_instance_type" {
  description = "EC2 instance type of the application instances."
  type        = string
  default     = "t3.small"
}

variable "app_port" {
  description = "Port the application listens on behind the ALB."
  type        = number
  default     = 8080

  validation {
    condition     = var.app_port > 1023 && var.app_port < 65536
    error_message = "app_port must be an unprivileged port (1024-65535)."
  }
}

variable "asg_capacity" {
  description = "Auto Scaling group size: min (at least 2, one per AZ), desired and max."
  type = object({
    min     = number
    desired = number
    max     = number
  })
  default = { min = 2, desired = 2, max = 6 }

  validation {
    condition     = var.asg_capacity.min >= 2 && var.asg_capacity.min <= var.asg_capacity.desired && var.asg_capacity.desired <= var.asg_capacity.max
    error_message = "asg_capacity needs 2 <= min <= desired <= max."
  }
}

variable "health_check_path" {
  description = "HTTP path the ALB target group and the Route53 health check probe."
  type        = string
  default     = "/health"

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "health_check_path must start with /."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for the ALB's HTTPS listener in this region (null: plain HTTP listener, for labs only)."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Protect the ALB, the database cluster and the lock table against deletion."
  type        = bool
  default     = true
}

# --------------------------------------------------------------------------------------------- database

variable "global_cluster_id" {
  description = "Identifier of the Aurora global cluster this region's cluster joins."
  type        = string
}

variable "engine_version" {
  description = "Aurora PostgreSQL engine version (validated at the root against global-database support)."
  type        = string
}

variable "db_instance_class" {
  description = "Instance class of the Aurora instances (global databases need memory-optimised classes)."
  type        = string
  default     = "db.r6g.large"

  validation {
    condition     = can(regex("^db\\.r[0-9]+[a-z]*\\.[0-9]*x?large$", var.db_instance_class))
    error_message = "Aurora global databases need a db.r* instance class, e.g. db.r6g.large."
  }
}

variable "db_instance_count" {
  description = "Number of Aurora instances in this region's cluster (at least 2 in the primary, 1 in the secondary)."
  type        = number

  validation {
    condition     = var.db_instance_count >= 1 && var.db_instance_count <= 15
    error_message = "db_instance_count must be between 1 and 15."
  }
}

variable "database_name" {
  description = "Name of the initial database (created by the primary cluster only)."
  type        = string
  default     = "app"
}

variable "master_username" {
  description = "Master user of the database (primary cluster only)."
  type        = string
  default     = "dbadmin"
}

variable "master_password" {
  description = "Master password, write-only: sent to RDS and Secrets Manager, never stored in state or plan. Primary only."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true
}

variable "master_password_version" {
  description = "Bump to rotate the master password (write-only arguments are only sent when this changes)."
  type        = number
  default     = 1
}

variable "backup_retention_days" {
  description = "Aurora automated backup retention in days."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35."
  }
}

# ------------------------------------------------------------------------------------- storage, backup

variable "account_id" {
  description = "AWS account id (bucket names and key policies)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "peer_bucket_arn" {
  description = "ARN of the peer region's bucket: this bucket replicates to it (both directions, ready for failback)."
  type        = string
}

variable "peer_kms_key_arn" {
  description = "ARN of the peer region's KMS key, used to encrypt replicas and backup copies there."
  type        = string
}

variable "peer_backup_vault_arn" {
  description = "ARN of the peer region's backup vault: this region's backups are copied there."
  type        = string
}

variable "replication_rule_id" {
  description = "Id of the S3 replication rule (drctl reads its backlog metrics by this id)."
  type        = string
}

variable "backup_schedule" {
  description = "Cron expression of the AWS Backup plan."
  type        = string
  default     = "cron(0 3 * * ? *)"
}

variable "backup_retention" {
  description = "Days to keep backups, locally and in the peer region."
  type        = number
  default     = 35

  validation {
    condition     = var.backup_retention >= 7
    error_message = "Keep backups at least 7 days."
  }
}

# -------------------------------------------------------------------------------------------- monitoring

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (e.g. 30, 90, 365)."
  }
}

variable "alarm_email" {
  description = "Optional e-mail address subscribed to this region's SNS topic."
  type        = string
  default     = null
}

variable "replication_lag_alarm_ms" {
  description = "Aurora global replication lag (ms) above which the lag alarm fires."
  type        = number
  default     = 1000
}

variable "switch" {
  description = "The failover switch metric drctl puts (namespace, metric, dimension name)."
  type = object({
    namespace      = string
    metric_name    = string
    dimension_name = string
  })
  default = {
    namespace      = "drctl/Failover"
    metric_name    = "RegionDrained"
    dimension_name = "Region"
  }
}
