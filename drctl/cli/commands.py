"""Registers every command module on the app. Add a module here to add a command.

Import order is the order of `drctl --help`; `lab_demo` adds `demo` to the lab group, so it follows `lab`.
"""

from drctl.cli import status  # noqa: F401, I001
from drctl.cli import failover  # noqa: F401
from drctl.cli import rejoin  # noqa: F401
from drctl.cli import canary  # noqa: F401
from drctl.cli import report  # noqa: F401
from drctl.cli import snapshots  # noqa: F401
from drctl.cli import discover  # noqa: F401
from drctl.cli import deploy  # noqa: F401
from drctl.cli import lab  # noqa: F401
from drctl.cli import lab_demo  # noqa: F401
