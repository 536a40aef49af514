"""Asking the zone's name servers over DNS (drctl/aws/dns.py) and the `dns` verdict built on it.

The servers are in-process on loopback: the lab's DNS module (authoritative), a server that answers without
the AA flag, and one that never answers.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import dns.flags
import dns.message
import pytest

from drctl.aws import dns as plane
from drctl.failover.verify import _verify_dns
from drctl.lab.dns import DnsServer, Zone, alb_addresses
from drctl.stack import Stack, parse_stack

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "stack.example.toml"
ZONE = "payments.example.com."
RECORD = "app.payments.example.com."
ALB1 = "payments-use1-123.us-east-1.elb.amazonaws.com."
ALB2 = "payments-usw2-456.us-west-2.elb.amazonaws.com."


class Source:
    """The example stack's zone: failover alias records to each region's ALB."""

    def __init__(self) -> None:
        self.primary_healthy = True

    def zones(self) -> list[Zone]:
        def record(role: str, alb: str, check: str) -> dict:
            return {
                "Name": RECORD,
                "Type": "A",
                "SetIdentifier": role.lower(),
                "Failover": role,
                "HealthCheckId": check,
                "AliasTarget": {"HostedZoneId": "Z1", "DNSName": alb, "EvaluateTargetHealth": False},
            }

        return [Zone(ZONE, [record("PRIMARY", ALB1, "p"), record("SECONDARY", ALB2, "s")])]

    def healthy(self, check_id: str) -> bool:
        return self.primary_healthy if check_id == "p" else True

    def load_balancers(self) -> set[str]:
        return {ALB1, ALB2}

    def load_balancer_healthy(self, dns_name: str) -> bool:
        return True


@pytest.fixture
def source() -> Source:
    return Source()


@pytest.fixture
def authoritative(source: Source) -> Iterator[str]:
    server = DnsServer("127.0.0.1", 0, source)
    server.start()
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        server.stop()


def _udp_thread(reply: bool) -> Iterator[str]:
    """A UDP server that answers every query without AA (reply) or never answers (not reply)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except OSError:
                continue
            if reply:
                response = dns.message.make_response(dns.message.from_wire(data))  # no AA: a cache would say so
                sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        sock.close()


@pytest.fixture
def non_authoritative() -> Iterator[str]:
    yield from _udp_thread(reply=True)


@pytest.fixture
def silent() -> Iterator[str]:
    yield from _udp_thread(reply=False)


def stack_with(*servers: str) -> Stack:
    data = tomllib.loads(EXAMPLE.read_text())
    data["route53"]["name_servers"] = list(servers)
    return parse_stack(data, EXAMPLE)


def test_an_authoritative_answer_names_its_region_with_the_ttl(authoritative: str, source: Source) -> None:
    stack = stack_with(authoritative)
    check = plane.check(stack, timeout_s=0.5)
    [answer] = check.answers
    assert answer.verdict == "answered" and answer.region == "us-east-1" and answer.ttl_s == 60
    assert {r.value for r in answer.records} == set(alb_addresses(ALB1))
    assert check.regions == {"us-east-1": tuple(alb_addresses(ALB1)), "us-west-2": tuple(alb_addresses(ALB2))}
    source.primary_healthy = False
    assert plane.check(stack, timeout_s=0.5).answers[0].region == "us-west-2"


def test_silent_and_non_authoritative_servers_are_unverified_never_answers(
    authoritative: str, non_authoritative: str, silent: str
) -> None:
    stack = stack_with(authoritative, non_authoritative, silent, "127.0.0.1:1")
    answers = {a.server: a for a in plane.check(stack, timeout_s=0.3).answers}
    assert answers[authoritative].answered
    assert answers[non_authoritative].verdict == "unverified: answer not authoritative (AA flag off)"
    assert answers[silent].verdict == "unverified: no answer within 0.3 s"
    assert answers["127.0.0.1:1"].verdict.startswith("unverified: ")  # nothing listens: refused or silent
    assert sum(a.answered for a in answers.values()) == 1


def test_a_cname_answer_maps_to_the_region_of_its_target() -> None:
    stack = stack_with("127.0.0.1:1")
    region_of = plane.region_mapper(stack, {})
    assert region_of([plane.Record("CNAME", ALB2.rstrip(".").upper(), 60)]) == "us-west-2"
    assert region_of([plane.Record("A", "192.0.2.1", 60)]) is None


def _run(stack: Stack, target: str = "us-west-2") -> SimpleNamespace:
    milestones: list[tuple] = []
    return SimpleNamespace(
        stack=stack,
        target=stack.regions[target],
        remaining=lambda: 30.0,
        stop_event=threading.Event(),
        milestones=milestones,
        milestone=lambda name, source, *, at=None, **detail: milestones.append((name, source, at, detail)),
    )


def test_dns_verdict_is_verified_with_the_time_of_the_first_answer_naming_the_target(
    authoritative: str, source: Source
) -> None:
    source.primary_healthy = False
    before = time.time()
    run = _run(stack_with(authoritative))
    result = _verify_dns(run)
    assert result["verdict"] == "verified", result
    assert before <= result["answered_target_at"] <= time.time()
    assert result["servers"][0]["region"] == "us-west-2" and result["servers"][0]["ttl_s"] == 60
    [(name, source, at, detail)] = run.milestones  # the RTO phase, journaled once with the record's TTL
    assert (name, at, detail["ttl_s"]) == ("DNS answers target", result["answered_target_at"], 60)
    assert "asked over DNS" in source


def test_dns_verdict_is_unverified_with_the_reason_when_no_server_answers(silent: str) -> None:
    stack = dataclasses.replace(stack_with(silent), health_check_interval_s=10)
    started = time.monotonic()
    result = _verify_dns(_run(stack))
    assert result["verdict"] == "unverified: no authoritative answer from 1 server(s)", result
    assert "no answer within" in result["detail"] and "answered_target_at" not in result
    assert time.monotonic() - started < 10  # gives up after a few silent rounds, not at the deadline


def test_dns_verdict_is_unverified_while_the_servers_still_answer_the_source(authoritative: str) -> None:
    stack = dataclasses.replace(
        stack_with(authoritative), health_check_interval_s=1, health_check_failure_threshold=1
    )
    run = _run(stack)
    run.remaining = lambda: 1.0
    result = _verify_dns(run)
    assert (
        result["verdict"].startswith("unverified: after ")
        and "answer us-east-1, not us-west-2" in result["verdict"]
    )
