"""The lab gateway's own behaviour: forwarding per region, outages, latency, faults, request log, loopback only."""

from __future__ import annotations

import http.client
import json
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

pytestmark = pytest.mark.twin

KEY = [{"AttributeName": "k", "KeyType": "HASH"}]
ATTRS = [{"AttributeName": "k", "AttributeType": "S"}]


def _create_table(ddb, name: str) -> None:
    ddb.create_table(TableName=name, KeySchema=KEY, AttributeDefinitions=ATTRS, BillingMode="PAY_PER_REQUEST")


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def test_boto3_at_us_west_2_creates_and_describes(lab) -> None:
    ddb = lab.client("dynamodb", "us-west-2")
    _create_table(ddb, "orders")
    assert ddb.describe_table(TableName="orders")["Table"]["TableStatus"] == "ACTIVE"
    # The emulator keeps regions apart by the signing region, so the other region has no such table.
    assert lab.client("dynamodb", "us-east-1").list_tables()["TableNames"] == []


def test_s3_objects_round_trip_with_their_size(lab) -> None:
    s3 = lab.client("s3", "us-west-2")
    s3.create_bucket(Bucket="lab-payments", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    s3.put_object(Bucket="lab-payments", Key="batch/1.json", Body=b"hello")
    assert s3.head_object(Bucket="lab-payments", Key="batch/1.json")["ContentLength"] == 5
    assert s3.get_object(Bucket="lab-payments", Key="batch/1.json")["Body"].read() == b"hello"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="lab-payments", Prefix="batch/")["Contents"]] == [
        "batch/1.json"
    ]


def test_request_log_names_region_service_operation_and_mutating_params(lab) -> None:
    lab.client("dynamodb", "us-west-2").list_tables()
    lab.client("cloudwatch", "us-east-1").put_metric_data(
        Namespace="Lab/Test", MetricData=[{"MetricName": "switch", "Value": 1.0}]
    )
    lab.client("rds", "us-east-1").describe_db_clusters()
    rows = lab.control.requests()
    assert [(r["port_role"], r["region"], r["service"], r["operation"], r["status"]) for r in rows] == [
        ("us-west-2", "us-west-2", "dynamodb", "ListTables", 200),
        ("us-east-1", "us-east-1", "monitoring", "PutMetricData", 200),
        ("us-east-1", "us-east-1", "rds", "DescribeDBClusters", 200),
    ]
    assert "params" not in rows[0] and "params" not in rows[2]
    assert rows[1]["params"]["Namespace"] == "Lab/Test"
    lab.control.clear_requests()
    assert lab.control.requests() == []


def test_outage_refuses_the_region_within_a_second_while_the_other_answers(lab) -> None:
    east = lab.client(
        "dynamodb", "us-east-1", connect_timeout=1, retries={"mode": "standard", "total_max_attempts": 3}
    )
    west = lab.client("dynamodb", "us-west-2")
    east.list_tables()  # a kept-alive connection exists: the outage must cut it too
    lab.control.outage("us-east-1")

    started = time.monotonic()
    with pytest.raises((EndpointConnectionError, ConnectionClosedError)):
        east.list_tables()
    assert time.monotonic() - started < 1.0
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", _port(lab.info.endpoints["us-east-1"])), timeout=1),
    ):
        pass
    assert west.list_tables()["TableNames"] == []
    assert lab.client("sts", "us-east-1").get_caller_identity()["Account"] == "000000000000"

    lab.control.restore("us-east-1")
    assert east.list_tables()["TableNames"] == []
    assert lab.control.status()["outages"] == []


def test_outage_with_route53_takes_the_global_endpoint_down_but_not_the_admin_api(lab) -> None:
    lab.control.outage("us-east-1", route53=True)
    for name in ("us-east-1", "global"):
        with (
            pytest.raises(ConnectionRefusedError),
            socket.create_connection(("127.0.0.1", _port(lab.info.endpoints[name])), timeout=1),
        ):
            pass
    assert sorted(lab.control.status()["outages"]) == ["global", "us-east-1"]
    lab.client("s3", "us-west-2").list_buckets()
    lab.control.restore("us-east-1")  # the control plane comes back with its region
    assert lab.client("route53", "us-east-1").list_hosted_zones()["HostedZones"] == []


def test_unknown_outage_region_is_refused(lab) -> None:
    from drctl.errors import DrctlError, ExitCode

    with pytest.raises(DrctlError) as e:
        lab.control.outage("eu-west-1")
    assert e.value.code == ExitCode.LAB and "eu-west-1" in e.value.message


def test_latency_delays_every_call_by_at_least_the_injected_time(lab) -> None:
    ddb = lab.client("dynamodb", "us-west-2")
    ddb.list_tables()
    lab.control.set_latency(300, jitter_ms=100)
    for _ in range(3):
        started = time.monotonic()
        ddb.list_tables()
        elapsed = time.monotonic() - started
        assert 0.3 <= elapsed < 1.5
    lab.control.set_latency(0)
    started = time.monotonic()
    ddb.list_tables()
    assert time.monotonic() - started < 0.3


def _raw_list_tables(conn: http.client.HTTPConnection, region: str) -> int:
    scope = f"test/20260101/{region}/dynamodb/aws4_request"
    auth = f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"
    headers = {
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Content-Type": "application/x-amz-json-1.0",
        "Authorization": auth,
    }
    conn.request("POST", "/", body=b"{}", headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status == 400:
        assert json.loads(body)["__type"] == "ThrottlingException"
    return resp.status


@pytest.mark.parametrize("rate", [0.3, 0.05])
def test_throttling_rate_is_within_ten_percent_over_200_calls(lab, rate: float) -> None:
    lab.control.set_faults(throttle_rate=rate)
    conn = http.client.HTTPConnection("127.0.0.1", _port(lab.info.endpoints["us-west-2"]), timeout=10)
    try:
        statuses = [_raw_list_tables(conn, "us-west-2") for _ in range(200)]
    finally:
        conn.close()
    throttled = statuses.count(400)
    assert abs(throttled - 200 * rate) <= 0.1 * 200 * rate
    assert set(statuses) <= {200, 400}


@pytest.mark.parametrize(
    ("service", "call", "codes"),
    [
        ("rds", lambda c: c.describe_db_clusters(), {"Throttling"}),  # query XML
        ("elbv2", lambda c: c.describe_load_balancers(), {"Throttling"}),
        ("autoscaling", lambda c: c.describe_auto_scaling_groups(), {"Throttling"}),
        ("cloudwatch", lambda c: c.describe_alarms(), {"Throttling"}),  # query-compatible JSON
        ("dynamodb", lambda c: c.list_tables(), {"ThrottlingException"}),  # JSON
        ("route53", lambda c: c.list_hosted_zones(), {"Throttling"}),  # REST XML
        ("s3", lambda c: c.list_buckets(), {"SlowDown"}),
        ("backup", lambda c: c.list_backup_vaults(), {"ThrottlingException"}),  # REST JSON
    ],
)
def test_injected_throttling_is_parsed_and_retried_by_botocore(lab, service, call, codes) -> None:
    lab.control.set_faults(throttle_rate=1.0)
    client = lab.client(service, "us-west-2", retries={"mode": "standard", "total_max_attempts": 2})
    with pytest.raises(ClientError) as e:
        call(client)
    assert e.value.response["Error"]["Code"] in codes
    assert e.value.response["ResponseMetadata"]["RetryAttempts"] == 1  # classified as retryable
    lab.control.set_faults(throttle_rate=0.5)  # every second call: one retry gets through
    call(client)


def test_injected_server_errors_are_5xx_and_retried(lab) -> None:
    lab.control.set_faults(error_rate=1.0)
    client = lab.client("rds", "us-east-1", retries={"mode": "standard", "total_max_attempts": 2})
    with pytest.raises(ClientError) as e:
        client.describe_global_clusters()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert e.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    lab.control.set_faults()
    client.describe_global_clusters()


def test_reset_wipes_the_emulator_and_the_injected_faults(lab) -> None:
    _create_table(lab.client("dynamodb", "us-west-2"), "gone-after-reset")
    lab.control.set_latency(50)
    lab.control.outage("us-east-1")
    lab.control.reset()
    status = lab.control.status()
    assert status["outages"] == [] and status["latency"]["ms"] == 0
    assert lab.control.requests() == []
    assert lab.client("dynamodb", "us-west-2").list_tables()["TableNames"] == []


def _listening_sockets(pids: set[int]) -> list[tuple[str, str]]:
    """(protocol, local address hex) of every listening TCP / bound UDP socket the processes hold."""
    inodes: set[str] = set()
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                target = fd.readlink().as_posix()
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        lines = Path(f"/proc/net/{proto}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if inode in inodes and (proto.startswith("udp") or state == "0A"):
                found.append((proto, local))
    return found


def _process_group(leaders: set[int]) -> set[int]:
    members = set(leaders)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) in leaders:  # process group id
            members.add(int(stat.parent.name))
    return members


def test_nothing_listens_on_a_non_loopback_address(lab) -> None:
    # Touch a few services first: some emulators open listeners lazily.
    lab.client("rds", "us-east-1").describe_db_clusters()
    lab.client("s3", "us-west-2").list_buckets()
    lab.client("route53", "us-east-1").list_hosted_zones()
    sockets = _listening_sockets(_process_group(set(lab.info.pids.values())))
    assert len(sockets) >= 5  # 4 gateway ports + the emulator
    loopback = {"0100007F", "00000000000000000000000001000000"}
    assert [s for s in sockets if s[1].split(":")[0] not in loopback] == []
