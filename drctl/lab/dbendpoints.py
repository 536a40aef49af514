"""The lab's Aurora endpoints: the names the RDS API returns lead to the right PostgreSQL server at each moment.

AWS (docs/fidelity.md, "Lab database endpoints", T-136..T-139):
- A cluster endpoint (DescribeDBClusters `Endpoint`) "connects to the current primary DB instance for that DB
  cluster" (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.Endpoints.Cluster.html). On a
  secondary cluster of a global database there is no primary: "A secondary AWS Region runs a read-only Aurora DB
  cluster made up entirely of Aurora Replicas"
  (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-getting-started.html);
  its writer endpoint is "inactive" (https://aws.amazon.com/blogs/database/automate-amazon-aurora-global-database-endpoint-management/).
  The lab routes it to that region's server, which is a read-only standby there: writes through it fail.
- The reader endpoint (`ReaderEndpoint`): "If the cluster only contains a primary instance and no Aurora
  Replicas, the reader endpoint connects to the primary instance"
  (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.Endpoints.Reader.html). The lab has one
  server per region: a cluster's reader endpoint connects to its region's server (the writer in the primary
  region, the standby in the secondary).
- The global writer endpoint (DescribeGlobalClusters `Endpoint`: "This endpoint always points to the writer DB
  instance in the current primary cluster", botocore's RDS model; "automatically updated by Aurora to route
  requests to the current writer instance of the primary DB cluster" after switchover and failover,
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-connecting.html, whose
  name starts with the global database's name). The emulator (ministack 1.5.33) leaves `Endpoint` out of
  DescribeGlobalClusters: the lab adds it (`middleware`), `<global id>.global-<hash>.global.rds.amazonaws.com`.

How: the lab's DNS server (drctl/lab/dns.py) answers each endpoint name with a loopback address of its own
(TTL 5 s), derived from the name and the lab's folder so that parallel labs never share one; the lab listens on
that address at the port DescribeDBClusters reports (`Port`, never rewritten) and joins each connection to the
server the endpoint stands for at that moment (drctl/lab/dbproxy.py): the global writer endpoint to the current
writer, a cluster's endpoints to its region's server. A region in outage refuses: its endpoints stop listening,
and the global writer endpoint refuses while the writer's region is down.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from drctl.lab.dbproxy import Proxy
from drctl.lab.dns import fqdn
from drctl.lab.http import Forward, LabRequest, LabResponse
from drctl.lab.periodic import Periodic

ENDPOINT_TTL_S = 5
REFRESH_S = 1.0
GLOBAL_DOMAIN = "global.rds.amazonaws.com"
CLUSTER, READER, GLOBAL = "cluster", "reader", "global"


def global_endpoint(global_id: str, resource_id: str) -> str:
    """The lab's global writer endpoint name for a global cluster (its name first, as on AWS)."""
    suffix = hashlib.sha256((resource_id or global_id).encode()).hexdigest()[:12]
    return f"{global_id}.global-{suffix}.{GLOBAL_DOMAIN}".lower()


RDS_DOMAIN = "rds.amazonaws.com"


def cluster_endpoints(cluster_id: str, arn: str, endpoint: str, reader: str) -> tuple[str, str]:
    """(Endpoint, ReaderEndpoint) of a cluster as the lab returns them: the emulator's when they are RDS names,
    else RDS's shape (`<id>.cluster-<hash>.<region>.rds.amazonaws.com`, `.cluster-ro-` for the reader,
    https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.Endpoints.Cluster.html and
    .../Aurora.Endpoints.Reader.html); the emulator (ministack 1.5.33) says "localhost", which no DNS can own."""
    region = arn.split(":")[3] if arn.count(":") >= 3 else ""
    suffix = hashlib.sha256(arn.encode()).hexdigest()[:12]
    base = f"{cluster_id}.cluster-{suffix}.{region}.{RDS_DOMAIN}".lower()
    writer = endpoint if endpoint.lower().endswith("." + RDS_DOMAIN) else base
    ro = reader if reader.lower().endswith("." + RDS_DOMAIN) else base.replace(".cluster-", ".cluster-ro-", 1)
    return writer, ro


def endpoint_address(name: str, salt: str) -> str:
    """A loopback address for an endpoint name in one lab (`salt`: the lab's folder): stable, and another lab's
    endpoint of the same name gets another address. Host part 10..249: never an ALB's (.1/.2) nor 127.0.0.1."""
    digest = hashlib.sha256(f"{salt}|{fqdn(name)}".encode()).digest()
    return f"127.{1 + digest[0] % 254}.{digest[1]}.{10 + digest[2] % 240}"


@dataclass(frozen=True)
class DbEndpoint:
    name: str  # lower case, no trailing dot
    port: int
    kind: str  # CLUSTER, READER or GLOBAL
    region: str  # the cluster's region ("" for a global writer endpoint)
    address: str


class _Databases(Protocol):
    writer: str | None
    front_ports: dict[str, int]

    def endpoint_target(self, region: str) -> int | None: ...


class _World(Protocol):
    regions: tuple[str, ...]

    def is_region_down(self, region: str) -> bool: ...
    def client(self, service: str, region: str) -> Any: ...


class DbEndpoints:
    """Listeners on the endpoints' loopback addresses, refreshed once a second; `addresses()` for the DNS."""

    def __init__(self, world: _World, databases: _Databases, salt: str, *, refresh_s: float = REFRESH_S) -> None:
        self.world, self.databases, self.salt, self.refresh_s = world, databases, salt, refresh_s
        self.endpoints: dict[str, DbEndpoint] = {}  # name -> endpoint
        self.problems: dict[str, str] = {}  # name -> why it cannot listen
        self._proxies: dict[str, Proxy] = {}
        self._lock = threading.Lock()
        self._loop = Periodic("lab-db-endpoints", self.refresh, refresh_s)  # the emulator unreadable: next time

    @property
    def enabled(self) -> bool:
        return bool(self.databases.front_ports)

    # ---------------------------------------------------------------- what the emulator holds

    def read(self) -> list[DbEndpoint]:
        out: list[DbEndpoint] = []
        ports: dict[str, int] = {}  # cluster ARN -> Port
        for region in self.world.regions:
            rds = self.world.client("rds", region)
            for page in rds.get_paginator("describe_db_clusters").paginate():
                for c in page.get("DBClusters", []):
                    port = int(c.get("Port") or 5432)
                    arn = str(c.get("DBClusterArn", ""))
                    ports[arn] = port
                    names = cluster_endpoints(
                        str(c["DBClusterIdentifier"]),
                        arn,
                        str(c.get("Endpoint", "")),
                        str(c.get("ReaderEndpoint", "")),
                    )
                    out.extend(
                        self._endpoint(n, port, k, region) for n, k in zip(names, (CLUSTER, READER), strict=True)
                    )
        rds = self.world.client("rds", self.world.regions[0])
        for gc in rds.describe_global_clusters().get("GlobalClusters", []):
            members = gc.get("GlobalClusterMembers", [])
            writer = next((m["DBClusterArn"] for m in members if m.get("IsWriter")), None)
            known = [ports[m["DBClusterArn"]] for m in members if m["DBClusterArn"] in ports]
            port = ports.get(writer or "", known[0] if known else 5432)
            gid, resource = str(gc["GlobalClusterIdentifier"]), str(gc.get("GlobalClusterResourceId", ""))
            name = gc.get("Endpoint") or global_endpoint(gid, resource)
            out.append(self._endpoint(str(name), port, GLOBAL, ""))
        return out

    def _endpoint(self, name: str, port: int, kind: str, region: str) -> DbEndpoint:
        bare = fqdn(name).rstrip(".")
        return DbEndpoint(bare, port, kind, region, endpoint_address(bare, self.salt))

    def target(self, ep: DbEndpoint) -> int | None:
        """The server port a new connection to `ep` joins now; None: refused."""
        region = self.databases.writer if ep.kind == GLOBAL else ep.region
        if not region or self.world.is_region_down(region):
            return None
        return self.databases.endpoint_target(region)

    def addresses(self) -> dict[str, str]:
        """fqdn -> loopback address, for the lab's DNS server."""
        with self._lock:
            return {fqdn(ep.name): ep.address for ep in self.endpoints.values()}

    # ---------------------------------------------------------------- listeners

    def start(self) -> None:
        if self.enabled:
            self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
        with self._lock:
            for proxy in self._proxies.values():
                proxy.close()
            self._proxies = {}

    def refresh(self, *, reread: bool = True) -> None:
        """Listen for new endpoints, stop for deleted ones; close a region's in its outage (and reopen)."""
        if not self.enabled:
            return
        found = {ep.name: ep for ep in self.read()} if reread else None
        with self._lock:
            if found is not None:
                for name in [n for n in self._proxies if n not in found or found[n] != self.endpoints.get(n)]:
                    self._proxies.pop(name).close()
                self.endpoints = found
                self.problems = {n: why for n, why in self.problems.items() if n in found}
            for name, ep in self.endpoints.items():
                down = bool(ep.region) and self.world.is_region_down(ep.region)
                proxy = self._proxies.get(name)
                if proxy is None and name not in self.problems:
                    if not ipaddress.ip_address(ep.address).is_loopback:
                        self.problems[name] = "not a loopback address"
                        continue
                    proxy = Proxy(f"endpoint-{name}", ep.port, functools.partial(self.target, ep), host=ep.address)
                    self._proxies[name] = proxy
                if proxy is None:
                    continue
                if down:
                    proxy.close()
                elif not proxy.listening:
                    try:
                        proxy.open()
                    except OSError as e:
                        self.problems[name] = f"cannot listen on {ep.address}:{ep.port}: {e.strerror or e}"
                        self._proxies.pop(name)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "ttl_s": ENDPOINT_TTL_S,
                "endpoints": {
                    ep.name: {
                        "kind": ep.kind,
                        "region": ep.region or None,
                        "address": ep.address,
                        "port": ep.port,
                        "listening": bool(self._proxies.get(name) and self._proxies[name].listening),
                        **({"problem": self.problems[name]} if name in self.problems else {}),
                    }
                    for name, ep in sorted(self.endpoints.items())
                },
            }

    # ---------------------------------------------------------------- the RDS API: the global writer endpoint

    def middleware(self, req: LabRequest, forward: Forward) -> LabResponse:
        resp = forward(req)
        if req.service != "rds" or resp.status != 200:
            return resp
        if req.operation == "DescribeGlobalClusters":
            return LabResponse(resp.status, resp.headers, add_global_endpoints(resp.body))
        if req.operation == "DescribeDBClusters":
            return LabResponse(resp.status, resp.headers, rds_cluster_endpoints(resp.body))
        return resp


_DB_CLUSTER = re.compile(rb"<DBCluster>.*?</DBCluster>", re.S)


def rds_cluster_endpoints(body: bytes) -> bytes:
    """DescribeDBClusters' XML with RDS-shaped Endpoint/ReaderEndpoint names (`cluster_endpoints`); Port as is."""

    def one(m: re.Match[bytes]) -> bytes:
        block = m.group(0)

        def value(tag: bytes) -> str:
            found = re.search(b"<" + tag + rb">([^<]*)</" + tag + b">", block)
            return found.group(1).decode() if found else ""

        cid, arn = value(b"DBClusterIdentifier"), value(b"DBClusterArn")
        if not cid or not arn:
            return block
        writer, reader = cluster_endpoints(cid, arn, value(b"Endpoint"), value(b"ReaderEndpoint"))
        for tag, name in ((b"Endpoint", writer), (b"ReaderEndpoint", reader)):
            block = re.sub(
                b"<" + tag + rb">[^<]*</" + tag + b">",
                f"<{tag.decode()}>{name}</{tag.decode()}>".encode(),
                block,
                count=1,
            )
        return block

    return _DB_CLUSTER.sub(one, body)


_GLOBAL_CLUSTER = re.compile(
    rb"(<GlobalClusterIdentifier>([^<]*)</GlobalClusterIdentifier>\s*<GlobalClusterArn>[^<]*</GlobalClusterArn>"
    rb"\s*<GlobalClusterResourceId>([^<]*)</GlobalClusterResourceId>)"
)


def add_global_endpoints(body: bytes) -> bytes:
    """DescribeGlobalClusters' XML with each global cluster's `Endpoint` (when the emulator left it out)."""

    def add(m: re.Match[bytes]) -> bytes:
        name = global_endpoint(m.group(2).decode(), m.group(3).decode())
        return m.group(1) + f"<Endpoint>{name}</Endpoint>".encode()

    if b"<GlobalClusterIdentifier>" not in body or b"<Endpoint>" in body:  # none, or the emulator gave them
        return body
    return _GLOBAL_CLUSTER.sub(add, body)


def endpoint_map(status: Mapping[str, Any]) -> dict[str, str]:
    """name -> "address:port" from `status()` (for the lab's status view and tests)."""
    return {name: f"{d['address']}:{d['port']}" for name, d in status.get("endpoints", {}).items()}
