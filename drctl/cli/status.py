"""`drctl status` (issue 3)."""
