"""Route53's data plane, asked over DNS: what the zone's authoritative name servers answer for the record.

No Route53 API call here (its control plane lives in us-east-1 and may be what failed): the servers are found
through DNS (the zone apex's NS records via the system resolver, then their addresses), unless the stack file
names servers to ask (`[route53] name_servers`: private zones, the lab). Each server is asked directly, with
recursion not desired and a short timeout; an answer counts only with the AA flag (RFC 1035 4.1.1: the
responding server is an authority for the name). A server that is silent, refuses or answers without authority
is reported as "unverified: <why>", never as an answer.

Answers are mapped to the stack's regions by comparing them with each region's load balancer: a CNAME by its
target name, A/AAAA (Route53 answers an alias to an ALB with the ALB's addresses:
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-values-alias.html) by the
addresses the load balancer's own name resolves to.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver

from drctl.stack import Stack, split_name_server

DEFAULT_TIMEOUT_S = 1.0
ADDRESS_TYPES = ("A", "AAAA")


@dataclass(frozen=True)
class NameServer:
    label: str  # as configured ("127.0.0.1:5353") or found ("ns-1.awsdns-1.com")
    address: str  # the IP asked; "" when it could not be found
    port: int = 53
    problem: str = ""  # why it cannot be asked (its address did not resolve)

    @property
    def where(self) -> str:
        configured_host = self.label.rsplit(":", 1)[0].strip("[]") if ":" in self.label else self.label
        return self.label if self.address in ("", configured_host) else f"{self.label} ({self.address})"


@dataclass(frozen=True)
class Record:
    type: str
    value: str
    ttl_s: int


@dataclass(frozen=True)
class ServerAnswer:
    server: str
    verdict: str  # "answered" or "unverified: <why>"
    rcode: str = ""
    records: tuple[Record, ...] = ()
    region: str | None = None  # the stack region the answer names, None when it names none
    ttl_s: int | None = None  # the smallest TTL of the answer (how long resolvers may keep it)

    @property
    def answered(self) -> bool:
        return self.verdict == "answered"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["records"] = [asdict(r) for r in self.records]
        return d


@dataclass(frozen=True)
class DnsCheck:
    """One round: every server's answer, or why no server could be found."""

    record_name: str
    answers: tuple[ServerAnswer, ...] = ()
    problem: str = ""  # set when no server could be found to ask
    regions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # region -> its ALB's addresses

    def regions_answered(self) -> set[str | None]:
        return {a.region for a in self.answers if a.answered}

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_name": self.record_name,
            "problem": self.problem,
            "servers": [a.to_dict() for a in self.answers],
        }


# ---------------------------------------------------------------------------------------------- finding servers


def configured_servers(values: Iterable[str], *, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[NameServer]:
    """The stack file's name_servers; a host name is resolved with the system resolver."""
    out = []
    for value in values:
        host, port = split_name_server(value)
        out.append(_server(value, host, port, timeout_s))
    return out


def authoritative_servers(record_name: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[NameServer]:
    """The zone's name servers, found through DNS: the enclosing zone, its NS records, their addresses.

    Raises DnsUnavailable when the system resolver cannot say."""
    resolver = dns.resolver.Resolver()
    resolver.lifetime = max(timeout_s * 3, 2.0)
    try:
        zone = dns.resolver.zone_for_name(record_name, resolver=resolver, lifetime=resolver.lifetime)
        ns = resolver.resolve(zone, "NS")
    except (dns.exception.DNSException, OSError) as e:
        raise DnsUnavailable(f"the zone of {record_name} and its name servers: {_why(e)}") from e
    names = sorted(str(r.target).rstrip(".") for r in ns)
    return [_server(name, name, 53, timeout_s) for name in names]


class DnsUnavailable(Exception):
    """No server can be found or asked; the message says why (one line)."""


def _server(label: str, host: str, port: int, timeout_s: float) -> NameServer:
    try:
        ipaddress.ip_address(host)
        return NameServer(label, host, port)
    except ValueError:
        pass
    try:
        answer = dns.resolver.resolve(host, "A", lifetime=max(timeout_s * 3, 2.0))
        return NameServer(label, str(next(iter(answer))), port)
    except (dns.exception.DNSException, OSError, StopIteration) as e:
        return NameServer(label, "", port, problem=f"address of {host} not found: {_why(e)}")


def servers_for(stack: Stack, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[NameServer]:
    if stack.name_servers:
        return configured_servers(stack.name_servers, timeout_s=timeout_s)
    return authoritative_servers(stack.record_name, timeout_s=timeout_s)


# ---------------------------------------------------------------------------------------------- asking


def query(server: NameServer, name: str, rdtype: str, *, timeout_s: float, recursion: bool = False) -> Any:
    """One query to one server (UDP; TCP when the answer is truncated). Raises DNSException / OSError."""
    q = dns.message.make_query(name, rdtype)
    if not recursion:
        q.flags &= ~dns.flags.RD
    response = dns.query.udp(q, server.address, port=server.port, timeout=timeout_s)
    if response.flags & dns.flags.TC:
        response = dns.query.tcp(q, server.address, port=server.port, timeout=timeout_s)
    return response


def ask(
    server: NameServer,
    record_name: str,
    region_of: Any,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> ServerAnswer:
    """What `server` answers for the record (A, else AAAA; CNAMEs as answered), and which region it names."""
    if server.problem:
        return ServerAnswer(server.where, f"unverified: {server.problem}")
    records: list[Record] = []
    rcode = "NOERROR"
    for rdtype in ADDRESS_TYPES:
        try:
            response = query(server, record_name, rdtype, timeout_s=timeout_s)
        except dns.exception.Timeout:
            return ServerAnswer(server.where, f"unverified: no answer within {timeout_s:g} s")
        except (dns.exception.DNSException, OSError) as e:
            return ServerAnswer(server.where, f"unverified: {_why(e)}")
        rcode = dns.rcode.to_text(response.rcode())
        if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            hint = " (not authoritative for the zone)" if response.rcode() == dns.rcode.REFUSED else ""
            return ServerAnswer(server.where, f"unverified: answered {rcode}{hint}", rcode)
        if not response.flags & dns.flags.AA:
            return ServerAnswer(server.where, "unverified: answer not authoritative (AA flag off)", rcode)
        records = [
            Record(dns.rdatatype.to_text(rrset.rdtype), _text(rd), int(rrset.ttl))
            for rrset in response.answer
            for rd in rrset
        ]
        if records or response.rcode() == dns.rcode.NXDOMAIN:
            break
    ttl = min((r.ttl_s for r in records), default=None)
    return ServerAnswer(server.where, "answered", rcode, tuple(records), region_of(records), ttl)


def _text(rd: Any) -> str:
    return str(rd.to_text()).rstrip(".").lower() if rd.rdtype == dns.rdatatype.CNAME else str(rd.to_text())


def _why(e: BaseException) -> str:
    if isinstance(e, dns.resolver.NXDOMAIN):
        return "no such name"
    if isinstance(e, dns.resolver.NoNameservers | dns.resolver.NoAnswer | dns.resolver.LifetimeTimeout):
        return type(e).__name__
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text[:160]


# ---------------------------------------------------------------------------------------------- regions


def _bare(name: str) -> str:
    return name.lower().rstrip(".").removeprefix("dualstack.")


def load_balancer_addresses(
    stack: Stack, servers: list[NameServer], *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> dict[str, tuple[str, ...]]:
    """Each region's ALB addresses. With servers named in the stack file (a private resolver; the lab's server,
    which models ELB's DNS too) they are asked; otherwise the system resolver. Unresolved: ()."""
    out: dict[str, tuple[str, ...]] = {}
    for region in stack.regions.values():
        name = _bare(region.alb_dns_name) if region.alb_dns_name else ""
        if not name:
            out[region.name] = ()
        elif stack.name_servers:
            out[region.name] = _addresses_from(name, servers, timeout_s)
        else:
            out[region.name] = _addresses_system(name, timeout_s)
    return out


def _addresses_from(name: str, servers: list[NameServer], timeout_s: float) -> tuple[str, ...]:
    for server in servers:
        if server.problem:
            continue
        found: set[str] = set()
        for rdtype in ADDRESS_TYPES:
            try:
                response = query(server, name, rdtype, timeout_s=timeout_s, recursion=True)
            except (dns.exception.DNSException, OSError):
                break
            if response.rcode() != dns.rcode.NOERROR:
                break
            found.update(
                rd.to_text() for rrset in response.answer if rrset.rdtype != dns.rdatatype.CNAME for rd in rrset
            )
        if found:
            return tuple(sorted(found))
    return ()


def _addresses_system(name: str, timeout_s: float) -> tuple[str, ...]:
    found: set[str] = set()
    for rdtype in ADDRESS_TYPES:
        try:
            found.update(str(rd) for rd in dns.resolver.resolve(name, rdtype, lifetime=max(timeout_s * 2, 2.0)))
        except (dns.exception.DNSException, OSError):
            continue
    return tuple(sorted(found))


def region_mapper(stack: Stack, addresses: Mapping[str, tuple[str, ...]]) -> Any:
    """A function: answer records -> the region they name (by CNAME target or ALB address), or None."""
    names = {_bare(r.alb_dns_name): r.name for r in stack.regions.values() if r.alb_dns_name}

    def region_of(records: list[Record]) -> str | None:
        for r in records:
            if r.type == "CNAME" and _bare(r.value) in names:
                return names[_bare(r.value)]
        answered = {r.value for r in records if r.type in ADDRESS_TYPES}
        hits = [region for region, addrs in addresses.items() if answered & set(addrs)]
        return hits[0] if len(hits) == 1 else None

    return region_of


def check(stack: Stack, *, timeout_s: float = DEFAULT_TIMEOUT_S, cache: dict[str, Any] | None = None) -> DnsCheck:
    """One round: find the servers (once per `cache`), ask each for the stack's record, map answers to regions.

    The load balancers' addresses are looked up only when an answer holds addresses to map (and kept in
    `cache` once every region's resolved)."""
    cache = {} if cache is None else cache
    try:
        if "servers" not in cache:
            cache["servers"] = servers_for(stack, timeout_s=timeout_s)
        servers: list[NameServer] = cache["servers"]
    except DnsUnavailable as e:
        return DnsCheck(stack.record_name, problem=str(e))
    if not servers:
        return DnsCheck(stack.record_name, problem="no name servers to ask")
    unmapped = tuple(ask(s, stack.record_name, lambda records: None, timeout_s=timeout_s) for s in servers)
    addresses: dict[str, tuple[str, ...]] = cache.get("addresses") or {}
    if not addresses and any(r.type in ADDRESS_TYPES for a in unmapped for r in a.records):
        addresses = load_balancer_addresses(stack, servers, timeout_s=timeout_s)
        if all(addresses.values()):
            cache["addresses"] = addresses
    region_of = region_mapper(stack, addresses)
    answers = tuple(
        dataclasses.replace(a, region=region_of(list(a.records))) if a.answered else a for a in unmapped
    )
    return DnsCheck(stack.record_name, answers, regions=addresses)


def resolve_name(
    name: str, name_servers: Iterable[str] = (), *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> tuple[str, ...]:
    """The addresses of `name` (a database endpoint, say): asked of `name_servers` ("host:port") when given,
    else of the system resolver; () when none answers."""
    servers = list(name_servers)
    if servers:
        return _addresses_from(_bare(name), configured_servers(servers, timeout_s=timeout_s), timeout_s)
    return _addresses_system(_bare(name), timeout_s)


def addresses_of(stack: Stack, name: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[str, ...]:
    """The addresses `name` (a CNAME target) resolves to: asked of the stack's name servers when it names some
    (a private resolver; the lab's server, which models ELB's DNS too), else of the system resolver."""
    if stack.name_servers:
        return _addresses_from(_bare(name), configured_servers(stack.name_servers, timeout_s=timeout_s), timeout_s)
    return _addresses_system(_bare(name), timeout_s)
