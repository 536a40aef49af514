"""drctl: failover orchestration for a two-region AWS transaction-processing stack."""

__version__ = "0.1.0"
