# -------------------------------------------------------------------------------------------- identity

variable "name" {
  description = "Name of the stack; prefix of every resource (with environment_suffix appended)."
  type        = string
  default     = "payments"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must be 2-21 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name, e.g. prod, staging, lab (tag and part of the stack name)."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2-10 lower-case letters or digits."
  }
}

variable "environment_suffix" {
  description = "Suffix for parallel stacks in one account (e.g. \"-pr42\"); empty for the main stack."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^(-[a-z0-9]{1,8})?$", var.environment_suffix))
    error_message = "environment_suffix must be empty or a hyphen followed by 1-8 lower-case letters or digits."
  }
}

variable "application" {
  description = "Application tag value."
  type        = string
  default     = "payments"
}

# --------------------------------------------------------------------------------------------- regions

variable "primary_region" {
  description = "Region of the deployment-time writer (role \"primary\")."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.primary_region))
    error_message = "primary_region must be an AWS region name such as us-east-1."
  }
}

variable "secondary_region" {
  description = "Region of the standby (role \"secondary\")."
  type        = string
  default     = "us-west-2"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.secondary_region))
    error_message = "secondary_region must be an AWS region name such as us-west-2."
  }
}

variable "writer_region" {
  description = "Region that writes now (null: primary_region). drctl deploy passes the actual writer after a failover so that a redeploy keeps the PRIMARY record on it."
  type        = string
  default     = null

  validation {
    condition     = var.writer_region == null || contains([var.primary_region, var.secondary_region], coalesce(var.writer_region, "none"))
    error_message = "writer_region must be primary_region or secondary_region."
  }
}

variable "vpc_cidrs" {
  description = "VPC CIDR per deployment role; they must not overlap (the VPCs are peered)."
  type = object({
    primary   = string
    secondary = string
  })
  default = { primary = "10.10.0.0/16", secondary = "10.20.0.0/16" }

  validation {
    condition     = var.vpc_cidrs.primary != var.vpc_cidrs.secondary
    error_message = "The two VPC CIDRs must differ."
  }
}

variable "availability_zones" {
  description = "Availability zones per region name (missing: the first two the region reports)."
  type        = map(list(string))
  default     = {}
}

# ------------------------------------------------------------------------------------------------- app

variable "app_ami_ids" {
  description = "AMI of the application instances per region name (AMIs are regional)."
  type        = map(string)

  validation {
    condition     = alltrue([for ami in values(var.app_ami_ids) : can(regex("^ami-[0-9a-f]{8,17}$", ami))])
    error_message = "Every AMI id must look like ami-0123456789abcdef0."
  }
}

variable "app_instance_type" {
  description = "EC2 instance type of the application instances."
  type        = string
  default     = "t3.small"
}

variable "certificate_arns" {
  description = "ACM certificate ARN per region name for HTTPS listeners (missing: HTTP, for labs only)."
  type        = map(string)
  default     = {}
}

variable "deletion_protection" {
  description = "Deletion protection on the database clusters, ALBs and lock tables (false for labs and tests)."
  type        = bool
  default     = true
}

variable "alarm_email" {
  description = "Optional e-mail subscribed to the DR topics of both regions."
  type        = string
  default     = null
}

# --------------------------------------------------------------------------------------------- database

variable "engine_version" {
  description = "Aurora PostgreSQL version; must support global databases (drctl deploy re-checks with describe_db_engine_versions in both regions)."
  type        = string
  default     = "16.8"

  validation {
    # Versions AWS documents as supporting Aurora global databases. Not every region offers every one of them:
    # drctl deploy's preflight asks each region before planning.
    condition = contains([
      "13.12", "13.15", "13.18", "13.20",
      "14.9", "14.12", "14.15", "14.17",
      "15.4", "15.7", "15.10", "15.12",
      "16.1", "16.3", "16.6", "16.8",
      "17.4", "17.5",
    ], var.engine_version)
    error_message = "engine_version must be an aurora-postgresql version with global database support, e.g. 16.8, 15.12 or 14.17."
  }
}

variable "db_instance_class" {
  description = "Instance class of the Aurora instances (global databases need db.r* classes)."
  type        = string
  default     = "db.r6g.large"
}

variable "db_instance_counts" {
  description = "Aurora instances per deployment role: at least 2 in the primary (writer + reader), 1 in the secondary."
  type = object({
    primary   = number
    secondary = number
  })
  default = { primary = 2, secondary = 1 }

  validation {
    condition     = var.db_instance_counts.primary >= 2 && var.db_instance_counts.secondary >= 1
    error_message = "The primary needs at least 2 instances and the secondary at least 1."
  }
}

variable "master_password" {
  description = "Master password, ephemeral and sent write-only (to RDS and the Secrets Manager secret), so never stored in state or plan; only used when the cluster is created or master_password_version changes. drctl deploy generates one per run and passes it as TF_VAR_master_password in Terraform's environment; by hand, set that variable yourself."
  type        = string
  sensitive   = true
  ephemeral   = true
  nullable    = false

  validation {
    condition     = length(var.master_password) >= 16
    error_message = "master_password must be at least 16 characters."
  }
}

variable "master_password_version" {
  description = "Bump to generate and send a new master password (write-only: the value is never in state)."
  type        = number
  default     = 1
}

# ---------------------------------------------------------------------------------------------- Route53

variable "zone_id" {
  description = "Existing Route53 hosted zone id (null: create a zone for domain_name)."
  type        = string
  default     = null
}

variable "domain_name" {
  description = "Domain of the hosted zone (used when zone_id is null)."
  type        = string
  default     = "payments.example.com"
}

variable "record_name" {
  description = "Name of the failover record clients use, relative to the zone (e.g. \"app\")."
  type        = string
  default     = "app"
}

variable "record_ttl_s" {
  description = "TTL reported for the failover records (alias records follow the ALB's TTL; an RTO term)."
  type        = number
  default     = 60
}

variable "health_check_interval_s" {
  description = "Request interval of the ALB health checks: 10 (fast) or 30 seconds."
  type        = number
  default     = 30

  validation {
    condition     = contains([10, 30], var.health_check_interval_s)
    error_message = "Route53 health checks probe every 10 or 30 seconds."
  }
}

variable "health_check_failure_threshold" {
  description = "Consecutive failures before an ALB health check turns unhealthy (1-10)."
  type        = number
  default     = 3

  validation {
    condition     = var.health_check_failure_threshold >= 1 && var.health_check_failure_threshold <= 10
    error_message = "health_check_failure_threshold must be between 1 and 10."
  }
}

variable "health_check_path" {
  description = "Path the ALB target groups and the Route53 health checks probe."
  type        = string
  default     = "/health"
}

# ----------------------------------------------------------------------------------------------- drctl

variable "objectives" {
  description = "Recovery objectives drctl measures runs against."
  type = object({
    rpo_s                 = number
    rto_s                 = number
    max_switchover_lag_ms = number
  })
  default = { rpo_s = 5, rto_s = 600, max_switchover_lag_ms = 1000 }
}

variable "extra_app_health_alarms" {
  description = "More CloudWatch metric alarm names per region (region => names) that say the application is healthy; drctl's stack file lists them after the module's ALB alarms (app_health_alarms)."
  type        = map(list(string))
  default     = {}
  validation {
    condition     = alltrue([for names in values(var.extra_app_health_alarms) : alltrue([for n in names : length(n) >= 1 && length(n) <= 255])])
    error_message = "an alarm name has 1 to 255 characters (CloudWatch DescribeAlarms AlarmNames)"
  }
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
