"""`drctl discover`: write a stack file for a deployment drctl did not make, by reading AWS (reads only)."""

from drctl.discover.core import Discovery, discover

__all__ = ["Discovery", "discover"]
