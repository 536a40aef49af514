"""Registers every command module on the app. Add a module here to add a command."""

from drctl.cli import failover, lab, status  # noqa: F401
from drctl.cli import report  # noqa: F401
from drctl.cli import lab_demo  # noqa: F401
from drctl.cli import deploy  # noqa: F401
