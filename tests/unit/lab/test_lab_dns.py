"""The lab's authoritative DNS server (drctl/lab/dns.py): Route53's answer rules, TTLs, AA, both transports.

Answers are built from an in-process zone source (no emulator); the transport test starts the server in-process
on a free loopback port. Each test names the docs/fidelity.md row it proves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from drctl.lab.dns import DnsServer, Zone, alb_addresses, answer_query

ZONE = "lab.test."
RECORD = "app.lab.test."
ALB1 = "app-use1-1.us-east-1.elb.amazonaws.com."
ALB2 = "app-usw2-2.us-west-2.elb.amazonaws.com."


def _failover(role: str, alb: str, check: str | None) -> dict:
    r: dict = {
        "Name": RECORD,
        "Type": "A",
        "SetIdentifier": role.lower(),
        "Failover": role,
        "AliasTarget": {"HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": alb, "EvaluateTargetHealth": False},
    }
    if check:
        r["HealthCheckId"] = check
    return r


@dataclass
class Source:
    health: dict[str, bool] = field(default_factory=lambda: {"hc-1": True, "hc-2": True})
    secondary_check: str | None = "hc-2"
    extra: list[dict] = field(default_factory=list)

    def zones(self) -> list[Zone]:
        soa = "ns-1.awsdns-1.com. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"
        records = [
            {"Name": ZONE, "Type": "SOA", "TTL": 900, "ResourceRecords": [{"Value": soa}]},
            {"Name": ZONE, "Type": "NS", "TTL": 172800, "ResourceRecords": [{"Value": "ns-1.awsdns-1.com."}]},
            _failover("PRIMARY", ALB1, "hc-1"),
            _failover("SECONDARY", ALB2, self.secondary_check),
            *self.extra,
        ]
        return [Zone(ZONE, records)]

    def healthy(self, check_id: str) -> bool:
        return self.health.get(check_id, False)

    def load_balancers(self) -> set[str]:
        return {ALB1, ALB2}

    def load_balancer_healthy(self, dns_name: str) -> bool:
        return True


def ask(source: Source, name: str = RECORD, rdtype: str = "A") -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    query.flags &= ~dns.flags.RD
    return answer_query(query, source)


def addresses(response: dns.message.Message) -> set[str]:
    return {rd.to_text() for rrset in response.answer for rd in rrset if rrset.rdtype == dns.rdatatype.A}


def test_failover_answers_primary_while_healthy_secondary_when_not_and_primary_when_both_fail() -> None:
    """T-140: PRIMARY when healthy; SECONDARY when the primary is unhealthy and it is healthy; both unhealthy:
    the primary (Route53 fails open); a secondary without a health check is healthy."""
    source = Source()
    assert addresses(ask(source)) == set(alb_addresses(ALB1))
    source.health["hc-2"] = False  # the secondary's health does not matter while the primary is healthy
    assert addresses(ask(source)) == set(alb_addresses(ALB1))
    source.health.update({"hc-1": False, "hc-2": True})
    assert addresses(ask(source)) == set(alb_addresses(ALB2))
    source.health["hc-2"] = False
    assert addresses(ask(source)) == set(alb_addresses(ALB1))
    no_check = Source(health={"hc-1": False}, secondary_check=None)
    assert addresses(ask(no_check)) == set(alb_addresses(ALB2))


def test_alias_to_a_load_balancer_answers_its_addresses_with_elb_ttl() -> None:
    """T-141: an alias A to an ALB answers the ALB's addresses with ELB's 60 s TTL; the ALB's own name answers
    the same addresses; no AAAA is modelled (NODATA with the SOA)."""
    response = ask(Source())
    assert [(rr.rdtype, rr.ttl) for rr in response.answer] == [(dns.rdatatype.A, 60)]
    assert len(alb_addresses(ALB1)) == 2 and alb_addresses(ALB1) != alb_addresses(ALB2)
    own = ask(Source(), ALB1)
    assert addresses(own) == set(alb_addresses(ALB1)) and own.flags & dns.flags.AA
    aaaa = ask(Source(), RECORD, "AAAA")
    assert aaaa.rcode() == dns.rcode.NOERROR and not aaaa.answer
    assert [rr.rdtype for rr in aaaa.authority] == [dns.rdatatype.SOA]


def test_answers_are_authoritative_and_names_outside_the_zones_are_refused() -> None:
    """T-142: AA on every answer from a hosted zone, recursion not available; NXDOMAIN carries the SOA;
    a name in no zone is REFUSED without AA."""
    response = ask(Source())
    assert response.flags & dns.flags.AA and not response.flags & dns.flags.RA
    missing = ask(Source(), "nope.lab.test.")
    assert missing.rcode() == dns.rcode.NXDOMAIN and missing.flags & dns.flags.AA
    assert [(rr.rdtype, rr.ttl) for rr in missing.authority] == [(dns.rdatatype.SOA, 900)]
    outside = ask(Source(), "example.com.")
    assert outside.rcode() == dns.rcode.REFUSED and not outside.flags & dns.flags.AA


def test_plain_records_answer_with_their_own_ttl_and_cname_for_any_type() -> None:
    """T-143: a non-alias record answers its values with its TTL; a CNAME answers a query of any type."""
    extra = [
        {"Name": "www.lab.test.", "Type": "CNAME", "TTL": 30, "ResourceRecords": [{"Value": ALB2.rstrip(".")}]},
        {"Name": "db.lab.test.", "Type": "A", "TTL": 15, "ResourceRecords": [{"Value": "127.0.0.9"}]},
    ]
    source = Source(extra=extra)
    cname = ask(source, "www.lab.test.", "A")
    assert [(rr.rdtype, rr.ttl, rr[0].to_text()) for rr in cname.answer] == [(dns.rdatatype.CNAME, 30, ALB2)]
    plain = ask(source, "db.lab.test.")
    assert [(rr.ttl, rr[0].to_text()) for rr in plain.answer] == [(15, "127.0.0.9")]


@pytest.fixture
def server() -> Iterator[DnsServer]:
    srv = DnsServer("127.0.0.1", 0, Source())
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_the_server_answers_over_udp_and_tcp(server: DnsServer) -> None:
    """T-144: one loopback port, UDP and TCP, the same authoritative answer."""
    query = dns.message.make_query(RECORD, "A")
    query.flags &= ~dns.flags.RD
    udp = dns.query.udp(query, "127.0.0.1", port=server.port, timeout=2)
    tcp = dns.query.tcp(query, "127.0.0.1", port=server.port, timeout=2)
    assert addresses(udp) == addresses(tcp) == set(alb_addresses(ALB1))
    assert udp.flags & dns.flags.AA and tcp.flags & dns.flags.AA
