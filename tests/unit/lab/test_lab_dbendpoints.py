"""The lab's Aurora endpoints (drctl/lab/dbendpoints.py): names in the RDS API's answers, per-lab loopback
addresses, DNS answers, where each endpoint leads; and the canary resolving a name through name servers."""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
import dns.rdatatype
import pytest
from botocore.parsers import create_parser

from drctl.canary.db import Endpoint
from drctl.errors import Unreachable
from drctl.lab.dbendpoints import (
    GLOBAL,
    DbEndpoint,
    DbEndpoints,
    add_global_endpoints,
    cluster_endpoints,
    endpoint_address,
    global_endpoint,
    rds_cluster_endpoints,
)
from drctl.lab.dns import DnsServer, Zone, resolve
from drctl.stack import load_stack, write_stack_file

ARN = "arn:aws:rds:us-west-2:000000000000:cluster:drctl-lab-usw2"
CLUSTERS = f"""<DescribeDBClustersResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
<DescribeDBClustersResult><DBClusters><DBCluster>
<DBClusterIdentifier>drctl-lab-usw2</DBClusterIdentifier><DBClusterArn>{ARN}</DBClusterArn>
<DBClusterMembers><DBClusterMember><DBInstanceIdentifier>i</DBInstanceIdentifier></DBClusterMember></DBClusterMembers>
<Endpoint>localhost</Endpoint><ReaderEndpoint>localhost</ReaderEndpoint><Port>5432</Port>
</DBCluster></DBClusters></DescribeDBClustersResult></DescribeDBClustersResponse>""".encode()
GLOBALS = b"""<DescribeGlobalClustersResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
<DescribeGlobalClustersResult><GlobalClusters><GlobalClusterMember>
<GlobalClusterIdentifier>drctl-lab-global</GlobalClusterIdentifier>
<GlobalClusterArn>arn:aws:rds::000000000000:global-cluster:drctl-lab-global</GlobalClusterArn>
<GlobalClusterResourceId>cluster-ABC</GlobalClusterResourceId><Engine>aurora-postgresql</Engine>
<GlobalClusterMembers></GlobalClusterMembers>
</GlobalClusterMember></GlobalClusters></DescribeGlobalClustersResult></DescribeGlobalClustersResponse>"""


def _parse(operation: str, body: bytes) -> dict[str, Any]:
    model = botocore.session.get_session().get_service_model("rds").operation_model(operation)
    parsed: dict[str, Any] = create_parser("query").parse({"status_code": 200, "headers": {}, "body": body},
                                                         model.output_shape)  # fmt: skip
    return parsed


def test_describe_db_clusters_returns_rds_shaped_endpoint_names_and_the_port_as_is() -> None:
    """T-136: the emulator's "localhost" becomes `<id>.cluster-<hash>.<region>.rds.amazonaws.com`."""
    [cluster] = _parse("DescribeDBClusters", rds_cluster_endpoints(CLUSTERS))["DBClusters"]
    assert cluster["Endpoint"].startswith("drctl-lab-usw2.cluster-")
    assert cluster["Endpoint"].endswith(".us-west-2.rds.amazonaws.com")
    assert cluster["ReaderEndpoint"] == cluster["Endpoint"].replace(".cluster-", ".cluster-ro-")
    assert cluster["Port"] == 5432
    assert rds_cluster_endpoints(rds_cluster_endpoints(CLUSTERS)) == rds_cluster_endpoints(CLUSTERS)  # stable
    given = ("a.cluster-x.us-west-2.rds.amazonaws.com", "a.cluster-ro-x.us-west-2.rds.amazonaws.com")
    assert cluster_endpoints("a", ARN, *given) == given  # an emulator that gives RDS names keeps them


def test_describe_global_clusters_gains_the_global_writer_endpoint() -> None:
    """T-137: the global writer endpoint, the global database's name first."""
    [gc] = _parse("DescribeGlobalClusters", add_global_endpoints(GLOBALS))["GlobalClusters"]
    assert gc["Endpoint"] == global_endpoint("drctl-lab-global", "cluster-ABC")
    assert gc["Endpoint"].startswith("drctl-lab-global.global-") and gc["Endpoint"].endswith(
        ".global.rds.amazonaws.com"
    )
    assert add_global_endpoints(add_global_endpoints(GLOBALS)) == add_global_endpoints(GLOBALS)


def test_each_lab_gets_its_own_loopback_address_for_a_name() -> None:
    name = "drctl-lab-global.global-abc.global.rds.amazonaws.com"
    a, b = endpoint_address(name, "/tmp/lab-a"), endpoint_address(name, "/tmp/lab-b")
    assert a != b and a == endpoint_address(name + ".", "/tmp/lab-a")
    for address in (a, b):
        ip = ipaddress.ip_address(address)
        assert ip.is_loopback and address != "127.0.0.1" and int(address.rsplit(".", 1)[1]) >= 10  # not an ALB's


@dataclass
class _Source:
    endpoints: dict[str, str] = field(default_factory=dict)

    def zones(self) -> list[Zone]:
        return []

    def healthy(self, check_id: str) -> bool:
        return True

    def load_balancers(self) -> set[str]:
        return set()

    def load_balancer_healthy(self, dns_name: str) -> bool:
        return True

    def database_endpoints(self) -> dict[str, str]:
        return self.endpoints


def test_the_lab_dns_answers_an_endpoint_with_its_address_ttl_5() -> None:
    source = _Source({"db.cluster-x.us-east-1.rds.amazonaws.com.": "127.9.9.20"})
    out = resolve("DB.cluster-x.us-east-1.rds.amazonaws.com", dns.rdatatype.A, source)
    [rrset] = out.answer
    assert [r.address for r in rrset] == ["127.9.9.20"] and rrset.ttl == 5
    assert resolve("other.rds.amazonaws.com", dns.rdatatype.A, source).answer == []


@dataclass
class _World:
    down: set[str] = field(default_factory=set)
    regions: tuple[str, ...] = ("us-east-1", "us-west-2")

    def is_region_down(self, region: str) -> bool:
        return region in self.down

    def client(self, service: str, region: str) -> Any:
        raise AssertionError("not read here")


@dataclass
class _Databases:
    writer: str | None = "us-east-1"
    front_ports: dict[str, int] = field(default_factory=lambda: {"us-east-1": 1, "us-west-2": 2})

    def endpoint_target(self, region: str) -> int | None:
        return {"us-east-1": 5001, "us-west-2": 5002}[region]


def test_the_global_writer_endpoint_follows_the_writer_and_an_outage_refuses() -> None:
    world, dbs = _World(), _Databases()
    endpoints = DbEndpoints(world, dbs, "salt")
    glob = DbEndpoint("g.global-x.global.rds.amazonaws.com", 5432, GLOBAL, "", "127.1.1.10")
    west = DbEndpoint("w.cluster-x.us-west-2.rds.amazonaws.com", 5432, "cluster", "us-west-2", "127.1.1.11")
    assert (endpoints.target(glob), endpoints.target(west)) == (5001, 5002)
    dbs.writer = "us-west-2"  # a switchover: the same name, the new writer
    assert endpoints.target(glob) == 5002
    world.down.add("us-west-2")
    assert (endpoints.target(glob), endpoints.target(west)) == (None, None)


def test_the_canary_resolves_an_endpoint_through_the_name_servers(tmp_path: Path) -> None:
    server = DnsServer("127.0.0.1", 0, _Source({"db.cluster-x.us-east-1.rds.amazonaws.com.": "127.9.9.21"}))
    server.start()
    try:
        ns = (f"127.0.0.1:{server.port}",)
        assert Endpoint.parse("db.cluster-x.us-east-1.rds.amazonaws.com:5432", ns).address() == "127.9.9.21"
        assert Endpoint.parse("127.0.0.1:5432", ns).address() is None  # an address: nothing to resolve
        assert Endpoint.parse("db.example.internal:5432").address() is None  # no name servers: libpq resolves
        with pytest.raises(Unreachable, match="not found by the name servers"):
            Endpoint.parse("nope.cluster-x.us-east-1.rds.amazonaws.com:5432", ns).address()
    finally:
        server.stop()


def test_canary_name_servers_default_to_route53s(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[3] / "examples" / "stack.example.toml"
    data = tomllib.loads(example.read_text())
    data["route53"]["name_servers"] = ["127.0.0.1:5353"]
    data["canary"] = {"endpoint": "g.global-x.global.rds.amazonaws.com:5432", "database": "app"}
    stack = load_stack(str(write_stack_file(data, tmp_path / "a.toml")))
    assert stack.canary.name_servers == ("127.0.0.1:5353",)
    assert stack.canary.endpoints == ("g.global-x.global.rds.amazonaws.com:5432",)
    data["canary"]["name_servers"] = ["10.0.0.2:53"]
    assert load_stack(str(write_stack_file(data, tmp_path / "b.toml"))).canary.name_servers == ("10.0.0.2:53",)
