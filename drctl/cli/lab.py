"""`drctl lab ...` (issue 2)."""
