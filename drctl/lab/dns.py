"""The lab's authoritative DNS server: Route53's data plane for the lab's hosted zones, on loopback.

It answers from the emulator's hosted zones and record sets (read straight from the emulator, like the health
model reads alarms, so `drctl lab outage --route53`, which closes the Route53 *API*, leaves it answering: on AWS
"DNS resolution and health checks ... will continue to work" during a control plane impairment,
https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/appendix-b---edge-network-global-service-guidance.html).
Failover records are chosen from the lab's Route53 health model, the way the Route53 Developer Guide describes
(docs/fidelity.md, "Lab DNS server", T-140..T-145):

- PRIMARY when its health check is healthy; else SECONDARY when healthy; when both are unhealthy Route53
  "reverts to considering all records healthy" and answers PRIMARY
  (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-problems.html,
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html, Failover). A record
  without a health check is healthy.
- An alias to a load balancer answers A records with the load balancer's addresses, TTL 60 s (an alias to an
  AWS resource takes the resource's TTL; ELB's is 60 s:
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-values-alias.html,
  https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/using-domain-names-with-elb.html). The lab's
  load balancers have no addresses of their own: each gets two loopback addresses derived from its DNS name,
  and this server also answers the load balancer's own name with them (ELB's DNS, modelled here too:
  https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/elb-internet-facing-load-balancers.html).
- The lab's Aurora endpoints (cluster, reader, global writer endpoint) answer A records with their loopback
  addresses, TTL 5 s (drctl/lab/dbendpoints.py): RDS's own DNS, modelled here too.
- Every answer from a hosted zone has the AA flag set and recursion unavailable (an authoritative server,
  RFC 1035 4.1.1); names outside every zone are REFUSED.

UDP and TCP on one port; messages parsed and built with dnspython.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import socketserver
import struct
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

ELB_TTL_S = 60
DB_ENDPOINT_TTL_S = 5  # drctl/lab/dbendpoints.py ENDPOINT_TTL_S
ELB_SUFFIX = ".elb.amazonaws.com."
MAX_ALIAS_DEPTH = 4
UDP_MAX = 512  # without EDNS (RFC 1035 4.2.1); a larger answer is truncated (TC) and asked again over TCP


def fqdn(name: str) -> str:
    name = name.lower().replace("\\052", "*")
    return name if name.endswith(".") else name + "."


def alb_addresses(dns_name: str) -> list[str]:
    """The lab's addresses for a load balancer: two (one per AZ) in 127/8, stable for its DNS name."""
    name = fqdn(dns_name).removeprefix("dualstack.")
    digest = hashlib.sha256(name.encode()).digest()
    second, third = 1 + digest[0] % 254, digest[1]
    return [f"127.{second}.{third}.{host}" for host in (1, 2)]


@dataclass(frozen=True)
class Zone:
    name: str  # fqdn, lower case
    records: list[dict[str, Any]] = field(default_factory=list)  # ResourceRecordSets as ListResourceRecordSets


class ZoneSource(Protocol):
    """What the server needs of the lab: zones with their records, health, the load balancers."""

    def zones(self) -> list[Zone]: ...
    def healthy(self, check_id: str) -> bool: ...
    def load_balancers(self) -> set[str]: ...  # fqdn DNS names
    def load_balancer_healthy(self, dns_name: str) -> bool: ...


# ---------------------------------------------------------------------------------------------- answering


@dataclass
class _Answer:
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    authoritative: bool = True


def answer_query(query: dns.message.Message, source: ZoneSource) -> dns.message.Message:
    """The response to one parsed query."""
    response = dns.message.make_response(query, recursion_available=False)
    if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
        response.set_rcode(dns.rcode.NOTIMP if query.opcode() != dns.opcode.QUERY else dns.rcode.FORMERR)
        return response
    question = query.question[0]
    if question.rdclass != dns.rdataclass.IN:
        response.set_rcode(dns.rcode.REFUSED)
        return response
    result = resolve(question.name.to_text().lower(), question.rdtype, source)
    response.set_rcode(result.rcode)
    if result.authoritative:
        response.flags |= dns.flags.AA
    response.answer.extend(result.answer)
    response.authority.extend(result.authority)
    return response


def resolve(qname: str, qtype: dns.rdatatype.RdataType, source: ZoneSource) -> _Answer:
    """What an authoritative server for the source's zones answers for (qname, qtype)."""
    qname = fqdn(qname)
    zones = source.zones()
    zone = _zone_for(qname, zones)
    if zone is None:
        endpoints = getattr(source, "database_endpoints", None)
        address = endpoints().get(qname) if endpoints is not None else None
        if address:  # an Aurora endpoint of the lab's (drctl/lab/dbendpoints.py): RDS's own DNS, modelled here
            out = _Answer()
            if qtype in (dns.rdatatype.A, dns.rdatatype.ANY):
                out.answer.append(_rrset(qname, DB_ENDPOINT_TTL_S, "A", [address]))
            return out
        if qname.endswith(ELB_SUFFIX) and _bare(qname) in source.load_balancers():
            out = _Answer()
            if qtype in (dns.rdatatype.A, dns.rdatatype.ANY):
                out.answer.append(_a_rrset(qname, alb_addresses(qname)))
            return out
        return _Answer(rcode=dns.rcode.REFUSED, authoritative=False)
    out = _Answer()
    at_name = [r for r in zone.records if fqdn(str(r.get("Name", ""))) == qname]
    if not at_name:
        below = any(fqdn(str(r.get("Name", ""))).endswith("." + qname) for r in zone.records)
        out.rcode = dns.rcode.NOERROR if below else dns.rcode.NXDOMAIN
        out.authority.extend(_soa(zone))
        return out
    cname = [r for r in at_name if r.get("Type") == "CNAME"]
    if cname and qtype != dns.rdatatype.CNAME:
        groups = [cname]
    elif qtype == dns.rdatatype.ANY:
        types = sorted({str(r.get("Type")) for r in at_name})
        groups = [[r for r in at_name if r.get("Type") == t] for t in types]
    else:
        wanted = dns.rdatatype.to_text(qtype)
        groups = [[r for r in at_name if r.get("Type") == wanted]]
    for group in groups:
        for record in choose(group, lambda r: record_healthy(r, zones, source)):
            rrset = _rrset_of(qname, record, zones, source, depth=0)
            if rrset is None:
                return _Answer(rcode=dns.rcode.SERVFAIL, authoritative=False)
            if len(rrset):
                out.answer.append(rrset)
    if not out.answer:
        out.authority.extend(_soa(zone))
    return out


def choose(records: Sequence[Mapping[str, Any]], healthy: Callable[[Mapping[str, Any]], bool]) -> list[Any]:
    """The records Route53 answers from one group of the same name and type (failover evaluated)."""
    failover = [r for r in records if r.get("Failover")]
    if not failover:
        return list(records)
    primary = [r for r in failover if r.get("Failover") == "PRIMARY"]
    secondary = [r for r in failover if r.get("Failover") == "SECONDARY"]
    if primary and healthy(primary[0]):
        return primary[:1]
    if secondary and healthy(secondary[0]):
        return secondary[:1]
    # Both unhealthy: Route53's "mode of last resort" considers all healthy, so the primary answers.
    return (primary or secondary)[:1]


def record_healthy(record: Mapping[str, Any], zones: list[Zone], source: ZoneSource) -> bool:
    """A record's health: its health check (if any) and, with EvaluateTargetHealth, its alias target's."""
    check = record.get("HealthCheckId")
    if check and not source.healthy(str(check)):
        return False
    alias = record.get("AliasTarget") or {}
    if not alias.get("EvaluateTargetHealth"):
        return True
    target = fqdn(str(alias.get("DNSName", "")))
    zone = _zone_for(target, zones)
    if zone is None:
        return source.load_balancer_healthy(_bare(target))
    group = [r for r in zone.records if fqdn(str(r.get("Name", ""))) == target and r.get("Type") == record["Type"]]
    return any(record_healthy(r, zones, source) for r in group)


def _rrset_of(
    qname: str, record: Mapping[str, Any], zones: list[Zone], source: ZoneSource, *, depth: int
) -> dns.rrset.RRset | None:
    """The answer rrset for one record under the queried name; None when an alias cannot be followed."""
    rtype = str(record.get("Type", ""))
    alias = record.get("AliasTarget")
    if not alias:
        values = [str(v.get("Value", "")) for v in record.get("ResourceRecords", [])]
        return _rrset(qname, int(record.get("TTL", 300)), rtype, values)
    target = fqdn(str(alias.get("DNSName", "")))
    zone = _zone_for(target, zones)
    if zone is None:
        if _bare(target).endswith(ELB_SUFFIX) and rtype == "A":
            return _a_rrset(qname, alb_addresses(target))
        if _bare(target).endswith(ELB_SUFFIX):
            return _rrset(qname, ELB_TTL_S, rtype, [])  # no IPv6 modelled for the lab's load balancers
        return None  # CloudFront, S3 websites, ...: not modelled in the lab
    if depth >= MAX_ALIAS_DEPTH:
        return None
    # An alias to a record of the same zone answers with that record's values and TTL.
    group = [r for r in zone.records if fqdn(str(r.get("Name", ""))) == target and r.get("Type") == rtype]
    chosen = choose(group, lambda r: record_healthy(r, zones, source))
    if not chosen:
        return _rrset(qname, ELB_TTL_S, rtype, [])
    return _rrset_of(qname, chosen[0], zones, source, depth=depth + 1)


def _bare(name: str) -> str:
    return fqdn(name).removeprefix("dualstack.")


def _zone_for(name: str, zones: Iterable[Zone]) -> Zone | None:
    matching = [z for z in zones if name == z.name or name.endswith("." + z.name)]
    return max(matching, key=lambda z: len(z.name), default=None)


def _rrset(name: str, ttl: int, rtype: str, values: list[str]) -> dns.rrset.RRset:
    rdtype = dns.rdatatype.from_text(rtype)
    rrset = dns.rrset.RRset(dns.name.from_text(name), dns.rdataclass.IN, rdtype)
    rrset.update_ttl(ttl)
    for value in values:
        rrset.add(dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, origin=dns.name.root, relativize=False))
    return rrset


def _a_rrset(name: str, addresses: list[str]) -> dns.rrset.RRset:
    return _rrset(name, ELB_TTL_S, "A", addresses)


def _soa(zone: Zone) -> list[dns.rrset.RRset]:
    for r in zone.records:
        if r.get("Type") == "SOA" and fqdn(str(r.get("Name", ""))) == zone.name:
            values = [str(v.get("Value", "")) for v in r.get("ResourceRecords", [])]
            return [_rrset(zone.name, int(r.get("TTL", 900)), "SOA", values[:1])]
    return []


def answer_wire(wire: bytes, source: ZoneSource, *, udp: bool = False) -> bytes | None:
    """Bytes in, bytes out; None for a message too broken to answer (no header to echo)."""
    try:
        query = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        if len(wire) < 12:
            return None
        # FORMERR with the query's id (RFC 1035 4.1.1), question left out: it could not be parsed.
        (qid,) = struct.unpack("!H", wire[:2])
        return struct.pack("!HHHHHH", qid, 0x8000 | dns.rcode.FORMERR, 0, 0, 0, 0)
    if query.flags & dns.flags.QR:
        return None  # a response, not a query: never answer (no loops)
    limit = 65535 if not udp else UDP_MAX if query.edns < 0 else max(UDP_MAX, min(query.payload, 65535))
    try:
        response = answer_query(query, source)
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        truncated = dns.message.make_response(query, recursion_available=False)
        truncated.flags |= dns.flags.TC | (response.flags & dns.flags.AA)
        return truncated.to_wire()
    except Exception:  # a bug, or the emulator unreadable: SERVFAIL, the trace in gateway.log
        traceback.print_exc()
        failed = dns.message.make_response(query, recursion_available=False)
        failed.set_rcode(dns.rcode.SERVFAIL)
        return failed.to_wire()


# ---------------------------------------------------------------------------------------------- the lab's view


class LabZones:
    """ZoneSource over the emulator's Route53 (read directly, never through the gateway) and the health model."""

    def __init__(self, world: Any, store: Any, endpoints: Callable[[], dict[str, str]] | None = None) -> None:
        self.world, self.store = world, store
        self._endpoints = endpoints

    def database_endpoints(self) -> dict[str, str]:
        """The lab's Aurora endpoint names (fqdn) and their loopback addresses."""
        return self._endpoints() if self._endpoints is not None else {}

    def zones(self) -> list[Zone]:
        r53 = self.world.client("route53", "us-east-1")
        out = []
        for page in r53.get_paginator("list_hosted_zones").paginate():
            for z in page.get("HostedZones", []):
                if (z.get("Config") or {}).get("PrivateZone"):
                    continue  # private zones answer only inside their VPCs
                records: list[dict[str, Any]] = []
                for rpage in r53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=z["Id"]):
                    records.extend(rpage.get("ResourceRecordSets", []))
                out.append(Zone(fqdn(str(z["Name"])), records))
        return out

    def healthy(self, check_id: str) -> bool:
        try:
            return bool(self.store.status(check_id, self.world).healthy)
        except Exception:  # no such check (ApiError): Route53 would not route to it
            return False

    def load_balancers(self) -> set[str]:
        names: set[str] = set()
        for region in self.world.regions:
            elb = self.world.client("elbv2", region)
            for page in elb.get_paginator("describe_load_balancers").paginate():
                names.update(fqdn(str(lb["DNSName"])) for lb in page.get("LoadBalancers", []) if lb.get("DNSName"))
        return names

    def load_balancer_healthy(self, dns_name: str) -> bool:
        region = next((r for r in self.world.regions if f".{r}." in fqdn(dns_name)), None)
        return region is None or not self.world.is_region_down(region)


# ---------------------------------------------------------------------------------------------- transport


class _Udp(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = True
    source: ZoneSource


class _Tcp(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    source: ZoneSource


class _UdpHandler(socketserver.BaseRequestHandler):
    server: _Udp

    def handle(self) -> None:
        data, sock = self.request
        out = answer_wire(data, self.server.source, udp=True)
        if out is not None:
            with contextlib.suppress(OSError):
                sock.sendto(out, self.client_address)


class _TcpHandler(socketserver.BaseRequestHandler):
    server: _Tcp

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(5.0)
        with contextlib.suppress(OSError, struct.error):
            while True:  # RFC 7766: several queries may share one connection, each with a 2-byte length
                head = _read(conn, 2)
                if head is None:
                    return
                wire = _read(conn, struct.unpack("!H", head)[0])
                if wire is None:
                    return
                out = answer_wire(wire, self.server.source)
                if out is None:
                    return
                conn.sendall(struct.pack("!H", len(out)) + out)


def _read(conn: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class DnsServer:
    """UDP and TCP on (host, port), answering from `source`; start() and stop()."""

    def __init__(self, host: str, port: int, source: ZoneSource) -> None:
        self.host, self.port, self.source = host, port, source
        self._servers: list[socketserver.BaseServer] = []

    def start(self) -> None:
        for attempt in range(20):  # port 0: the free UDP port picked may be taken for TCP; pick again
            udp = _Udp((self.host, self.port), _UdpHandler)
            try:
                tcp = _Tcp((self.host, udp.server_address[1]), _TcpHandler)
                break
            except OSError:
                udp.server_close()
                if self.port or attempt == 19:
                    raise
        self.port = int(udp.server_address[1])
        for server in (udp, tcp):
            server.source = self.source
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
            self._servers.append(server)

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []
