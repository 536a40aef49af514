"""The twin keeps AWS's clock, at two time scales, and drctl's "DNS answers target" is what a user sees.

After an unplanned failover whose source still passes its endpoint checks (only the drain can move the
answer), a plain DNS query to the lab's `dns` endpoint (an observer thread, polling far
faster than drctl) answers the record with the target's load balancer — and not before the switch alarm has
evaluated the drain datapoint at its period boundary (60 s x the lab's time scale) and the CLOUDWATCH_METRIC
health check has followed the alarm after its modelled delay (30 s x the scale, docs/fidelity.md T-7).
drctl's "DNS answers target" milestone is within one of its poll intervals of the observer's first such answer.

The session twin runs at one scale; this module starts a second lab of its own at another (its own home and
free loopback ports), so the same run is checked on two clocks.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.query
import pytest
from failover_helpers import failover, wait_for_lag

from drctl.errors import ExitCode
from drctl.failover.verify import DNS_POLL_S
from drctl.journal.events import Milestone
from drctl.journal.log import RunLog
from drctl.lab.control import LabControl
from drctl.lab.health import ALARM_CHECK_DELAY_S
from drctl.lab.models import SHORT_DURATIONS
from drctl.lab.ports import free_lab_ports
from drctl.lab.runtime import lab_down, lab_up
from drctl.lab.seed import seed_topology
from drctl.stack import load_stack

pytestmark = [pytest.mark.twin]

SECOND_SCALE = 0.05  # the session twin runs at tests/conftest.py's TWIN_TIME_SCALE (0.02)
OBSERVER_POLL_S = 0.02
AWS_PERIOD_S = 60.0  # the Terraform's switch alarm period


class Observer:
    """Asks the lab's DNS server for the record every OBSERVER_POLL_S; remembers when it first named `addrs`."""

    def __init__(self, server: str, name: str, target_addresses: set[str]) -> None:
        host, port = server.rsplit(":", 1)
        self.host, self.port, self.name, self.target = host, int(port), name, target_addresses
        self.first_at: float | None = None
        self.queries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dns-observer", daemon=True)

    def __enter__(self) -> Observer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set() and self.first_at is None:
            asked_at = time.time()
            if addresses(self.host, self.port, self.name) == self.target:
                self.first_at = asked_at
            self.queries += 1
            self._stop.wait(OBSERVER_POLL_S)


def addresses(host: str, port: int, name: str) -> set[str]:
    query = dns.message.make_query(name, "A")
    query.flags &= ~dns.flags.RD
    try:
        answer = dns.query.udp(query, host, port=port, timeout=1)
    except (dns.exception.Timeout, OSError):
        return set()
    return {rd.to_text() for rrset in answer.answer for rd in rrset}


@pytest.fixture(scope="module")
def second_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    home = tmp_path_factory.mktemp("second-clock")
    try:
        info = lab_up(home, ports=free_lab_ports(), time_scale=SECOND_SCALE, databases=False)
        yield SimpleNamespace(info=info, control=LabControl(info.admin_url), home=home)
    finally:
        lab_down(home)


@pytest.fixture
def second(second_lab: SimpleNamespace, tmp_path: Path, lab_tools: Any) -> tuple[Any, Path]:
    second_lab.control.reset()
    second_lab.control.set_durations(**SHORT_DURATIONS)
    stack = seed_topology(second_lab.info, tmp_path)
    second_lab.control.set_lag(200)
    second_lab.client = lambda service, region: lab_tools.boto3_client(second_lab.info, service, region)
    wait_for_lag(second_lab)
    return second_lab, stack


def check_unplanned_run_on_the_lab_clock(
    control: LabControl, stack_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = load_stack(stack_path)
    scale = float(control.clock()["time_scale"])
    server = stack.name_servers[0]
    host, port = server.rsplit(":", 1)
    target = addresses(host, int(port), stack.secondary.alb_dns_name)
    assert target and addresses(host, int(port), stack.record_name) != target  # the primary answers first
    # No regional outage: the source's load balancer keeps passing its endpoint checks (say only its database
    # is lost), so nothing but drctl's drain datapoint can move the answer — on the alarm's clock.
    with Observer(server, stack.record_name, target) as seen:
        rc, report = failover(capsys, stack_path, "--to", "us-west-2", "--mode", "unplanned", "--allow-data-loss")
    assert rc == ExitCode.OK, report.get("_stderr", "")[-3000:]
    assert seen.first_at is not None, f"the observer never saw the target in {seen.queries} queries"

    log = RunLog.read(Path(report["journal"]))
    put = next(m for m in log.of(Milestone) if m.name == "switch datapoint put")
    period = AWS_PERIOD_S * scale
    # The alarm that drains us-east-1 lives in us-west-2; the lab records each evaluation's period boundary.
    evaluations = [
        e
        for e in control.clock()["evaluations"]
        if e["alarm"] == stack.primary.switch_alarm_name and e["to"] == "ALARM" and e["boundary"] >= put.at_epoch
    ]
    assert evaluations, control.clock()
    boundary = float(evaluations[0]["boundary"])
    assert boundary == pytest.approx(math.ceil(put.at_epoch / period) * period, abs=1e-6), (boundary, put.at_epoch)
    follows = ALARM_CHECK_DELAY_S * scale
    # Not before the alarm's evaluation at its boundary plus the health check's modelled turn (small slack for
    # the lab's evaluation thread, which wakes just after the boundary).
    assert seen.first_at >= boundary + follows - 0.05, (seen.first_at, boundary, follows)

    dns_verdict = report["verification"]["dns"]
    assert dns_verdict["verdict"] == "verified", dns_verdict
    drctl_at = float(dns_verdict["answered_target_at"])
    assert -OBSERVER_POLL_S - 0.05 <= drctl_at - seen.first_at <= DNS_POLL_S + 0.25, (drctl_at, seen.first_at)
    headline = {p["name"]: p for p in report["recovery"]}["DNS answers target"]
    assert report["rto_s"] == headline["at_s"] or report["rto_source"].startswith("target serving")
    assert report["rto_s"] != report.get("run_s"), "the headline RTO is not the run's own duration"


def test_the_session_twin_keeps_the_clock_at_its_scale(fast, home, capsys) -> None:
    twin, stack = fast
    check_unplanned_run_on_the_lab_clock(twin.control, stack, capsys)


def test_a_second_lab_keeps_the_clock_at_another_scale(second, home, capsys) -> None:
    lab, stack = second
    assert lab.control.clock()["time_scale"] == SECOND_SCALE
    check_unplanned_run_on_the_lab_clock(lab.control, stack, capsys)
