"""Verification on the DNS data plane, end to end: the lab's authoritative DNS server and `verification.dns`.

A plain dnspython query to the lab's `dns` endpoint is the user's view; drctl's verdict must agree with it,
also with Route53's API down (the data plane keeps answering), and must say "unverified" when it cannot ask.
"""

from __future__ import annotations

import json
import socket
import tomllib
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import pytest
from botocore.exceptions import EndpointConnectionError
from failover_helpers import failover

from drctl.errors import ExitCode
from drctl.stack import load_stack, write_stack_file

pytestmark = [pytest.mark.twin]


def plain_query(server: str, name: str) -> dns.message.Message:
    host, port = server.rsplit(":", 1)
    query = dns.message.make_query(name, "A")
    query.flags &= ~dns.flags.RD
    return dns.query.udp(query, host, port=int(port), timeout=2)


def addresses(response: dns.message.Message) -> set[str]:
    return {rd.to_text() for rrset in response.answer for rd in rrset}


def answers_region(stack_path: Path) -> str | None:
    """The region whose load balancer the lab's DNS answers the record with (a user's plain query)."""
    stack = load_stack(stack_path)
    server = stack.name_servers[0]
    answer = plain_query(server, stack.record_name)
    assert answer.flags & dns.flags.AA, answer
    for region in stack.regions.values():
        if addresses(answer) and addresses(answer) == addresses(plain_query(server, region.alb_dns_name)):
            return region.name
    return None


def test_lab_status_lists_the_dns_endpoint_the_seeded_stack_asks(fast) -> None:
    twin, stack = fast
    status = twin.cli("lab", "status", "--json", check=True)
    dns_endpoint = json.loads(status.stdout)["dns"]
    assert dns_endpoint == {"host": "127.0.0.1", "port": twin.info.dns["port"]}
    assert load_stack(stack).name_servers == (f"127.0.0.1:{dns_endpoint['port']}",)


def test_unplanned_failover_with_route53_down_is_verified_on_dns(fast, home, capsys) -> None:
    twin, stack = fast
    assert answers_region(stack) == "us-east-1"
    out = twin.cli("lab", "outage", "us-east-1", "--with-route53")
    assert out.returncode == 0, out.stderr
    with pytest.raises(EndpointConnectionError):  # Route53's API is down ...
        twin.client("route53", "us-east-1", connect_timeout=1, retries={"max_attempts": 1}).list_hosted_zones()
    rc, report = failover(capsys, stack, "--to", "us-west-2", "--mode", "unplanned", "--allow-data-loss")
    assert rc == ExitCode.OK, report
    verdict = report["verification"]["dns"]
    assert verdict["verdict"] == "verified", verdict  # ... and DNS still answers
    assert [s["region"] for s in verdict["servers"]] == ["us-west-2"]
    assert verdict["servers"][0]["ttl_s"] == 60 and verdict["answered_target_at"] > 0
    assert answers_region(stack) == "us-west-2"
    # The answer is the run's "DNS answers target" milestone, the headline RTO, and clients converge a TTL later.
    recovery = {p["name"]: p for p in report["recovery"]}
    assert recovery["DNS answers target"]["source"].startswith("authoritative answer from 127.0.0.1:")
    assert recovery["clients converge"]["at_s"] == pytest.approx(recovery["DNS answers target"]["at_s"] + 60)
    assert report["rto_source"].startswith(("DNS answers target", "target serving")), report["rto_source"]


def test_planned_flip_shows_on_dns_and_silent_servers_are_unverified(fast, home, capsys, tmp_path) -> None:
    _, stack = fast
    assert answers_region(stack) == "us-east-1"
    rc, report = failover(capsys, stack, "--to", "secondary")
    assert rc == ExitCode.OK, report
    assert report["verification"]["dns"]["verdict"] == "verified", report["verification"]["dns"]
    assert answers_region(stack) == "us-west-2"

    # Bad input: name servers that never answer. The run completes (traffic verification is informational)
    # and says why DNS could not be verified instead of claiming success.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        data = tomllib.loads(stack.read_text())
        data["route53"]["name_servers"] = [f"127.0.0.1:{silent.getsockname()[1]}"]
        bad = write_stack_file(data, tmp_path / "silent.toml")
        rc, back = failover(capsys, bad, "--to", "primary")
    assert rc == ExitCode.OK, back
    dns_verdict = back["verification"]["dns"]
    assert dns_verdict["verdict"] == "unverified: no authoritative answer from 1 server(s)", dns_verdict
    assert "no answer within" in dns_verdict["detail"] and "answered_target_at" not in dns_verdict
    assert "DNS answers target" not in {p["name"] for p in back["recovery"]}
    assert answers_region(stack) == "us-east-1"  # the lab's own server saw the failback
