"""The lab's loopback ports: its fixed layout, whether a port is free, free ports for a private lab.

One place for the lab itself (`drctl lab up` checks its ports), the tests (a twin on free ports) and bench/.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from contextlib import ExitStack

DEFAULT_PORT_BASE = 4710  # away from ministack's own default (4566): a developer's ministack and the lab coexist
_LOOPBACK = "127.0.0.1"


def default_ports(regions: Sequence[str], base: int = DEFAULT_PORT_BASE) -> dict[str, int]:
    """global = base, regions = base+1, base+2, admin = base+3, dns = base+4, http (the load balancers) = base+5,
    the regions' databases (`db:<region>`, drctl/lab/databases.py) = base+6, base+7, emulator (internal) =
    base+9."""
    return {
        "global": base,
        regions[0]: base + 1,
        regions[1]: base + 2,
        "admin": base + 3,
        "dns": base + 4,
        "http": base + 5,
        f"db:{regions[0]}": base + 6,
        f"db:{regions[1]}": base + 7,
        "emulator": base + 9,
    }


def port_free(port: int, *, udp: bool = False) -> bool:
    """Nothing listens on `port` on loopback and it can be bound (with `udp`, for UDP as well)."""
    if udp:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((_LOOPBACK, port))
            except OSError:
                return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Like the lab's own servers: a port whose old connections linger in TIME_WAIT is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((_LOOPBACK, port))
        except OSError:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((_LOOPBACK, port)) != 0


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (held open together while choosing, so they differ)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind((_LOOPBACK, 0))
        return [s.getsockname()[1] for s in socks]


def free_port_base(span: int = 10) -> int:
    """A base port such that base .. base+span-1 are all free on loopback (for `--port-base`)."""
    for candidate in free_ports(20):
        base = candidate - candidate % 16
        if base + span < 65536 and all(port_free(p) for p in range(base, base + span)):
            return base
    raise RuntimeError("no block of free loopback ports")


def free_lab_ports(regions: Sequence[str] = ("us-east-1", "us-west-2")) -> dict[str, int]:
    """A port map for `lab_up(ports=...)`, every port free: a private lab beside any other."""
    while True:  # the DNS port serves UDP too: it must be free for both
        names = ("global", *regions, "admin", "dns", "http", *(f"db:{r}" for r in regions), "emulator")
        ports = dict(zip(names, free_ports(len(names)), strict=True))
        if port_free(ports["dns"], udp=True):
            return ports
