"""Constants drctl uses where nothing can be measured before a failover. Always shown as estimates."""

from __future__ import annotations

# Aurora global database promotion (switchover or failover) of a secondary: typically one to two minutes.
PROMOTION_ESTIMATE_S = 120.0
# Launching and warming instances when the target region cannot take the load with what runs now.
CAPACITY_WARMUP_ESTIMATE_S = 300.0
# S3 Replication Time Control replicates 99.99 % of objects within 15 minutes (its SLA).
S3_RTC_SLA_S = 900.0
