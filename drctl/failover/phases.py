"""Which phase of a run each failover step belongs to: shared by the RTO split and the report's timeline."""

from __future__ import annotations

# Capacity and promotion run side by side; the confirmation prompt is the operator's time, not AWS's.
PHASE_OF = {
    "lock": "preflight",
    "preflight": "preflight",
    "confirm": "confirmation",
    "sample_rpo": "preflight",
    "keep_snapshots": "preflight",
    "capacity": "capacity",
    "promote": "promotion",
    "flip": "traffic flip",
    "verify": "verification",
}
PHASE_ORDER = ("preflight", "capacity", "promotion", "traffic flip", "verification")
