"""The canary: numbered, timestamped transactions through a PostgreSQL endpoint, acknowledged commits recorded
locally, read back to measure ground-truth RPO (acknowledged commits lost) and write outage (issue 14)."""
