""" "Target serving", end to end: the lab's load balancers answer HTTP on the addresses its DNS gives them, and
an unplanned failover probes the record name through them after DNS answers the target.

A plain HTTP GET to the address the lab's DNS answers is the user's view; drctl's "target serving" must come
from such an answer, after "DNS answers target", and be the headline RTO.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import tomllib
from urllib.parse import urlsplit

import dns.message
import dns.query
import pytest
from failover_helpers import failover

from drctl.cli.app import run
from drctl.errors import ExitCode
from drctl.stack import load_stack, write_stack_file

pytestmark = [pytest.mark.twin]


def resolve(server: str, name: str) -> list[str]:
    host, port = server.rsplit(":", 1)
    answer = dns.query.udp(dns.message.make_query(name, "A"), host, port=int(port), timeout=2)
    return sorted(rd.to_text() for rrset in answer.answer for rd in rrset)


def get(address: str, url: str) -> int:
    """GET `url` at `address` with the URL's host as Host header: what a client resolving from the zone sends."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(address, parts.port, timeout=2)
    try:
        conn.request("GET", parts.path, headers={"Host": f"{parts.hostname}:{parts.port}"})
        return conn.getresponse().status
    finally:
        conn.close()


def test_unplanned_failover_reaches_target_serving_after_dns(fast, home, capsys) -> None:
    twin, stack_path = fast
    stack = load_stack(stack_path)
    server = stack.name_servers[0]
    # The lab's stack file turns the probe on: the record name on the lab's load balancer port.
    status = json.loads(twin.cli("lab", "status", "--json", check=True).stdout)
    port = status["http"]["port"]
    assert stack.probe.url == f"http://{stack.record_name}:{port}/health"
    assert status["http"]["problems"] == {}, status["http"]
    east, west = (resolve(server, stack.regions[r].alb_dns_name) for r in ("us-east-1", "us-west-2"))
    assert status["http"]["listening"] == {
        stack.regions["us-east-1"].alb_dns_name: east,
        stack.regions["us-west-2"].alb_dns_name: west,
    }
    assert resolve(server, stack.record_name) == east and get(east[0], stack.probe.url) == 200

    assert twin.cli("lab", "outage", "us-east-1").returncode == 0
    with pytest.raises(ConnectionRefusedError):  # the source's load balancer is gone with its region
        get(east[0], stack.probe.url)
    rc, report = failover(capsys, stack_path, "--to", "us-west-2", "--mode", "unplanned", "--allow-data-loss")
    assert rc == ExitCode.OK, report

    serving = report["verification"]["serving"]
    assert serving["verdict"] == "verified", serving
    assert sorted(serving["addresses"]) == west and serving["status"] == 200 and serving["address"] in west
    names = [p["name"] for p in report["recovery"]]
    assert names.index("DNS answers target") < names.index("target serving"), names
    points = {p["name"]: p for p in report["recovery"]}
    assert points["target serving"]["at_s"] >= points["DNS answers target"]["at_s"]
    assert points["target serving"]["source"] == (
        f"HTTP 200 from {serving['address']} for GET {stack.probe.url} (probe through the public name)"
    )
    assert report["rto_source"].startswith("target serving: HTTP 200 from 127."), report["rto_source"]
    assert report["rto_s"] == points["target serving"]["at_s"]
    # The user's view agrees: the record now resolves to the target's load balancer, which serves.
    assert resolve(server, stack.record_name) == west and get(west[0], stack.probe.url) == 200

    # The report shows the phase too.
    assert run(["report", report["run_id"]]) == ExitCode.OK
    markdown = capsys.readouterr().out
    assert "| target serving |" in markdown and "probe through the public name" in markdown
    assert run(["report", report["run_id"], "--format", "html"]) == ExitCode.OK
    assert "target serving" in capsys.readouterr().out


def test_target_serving_waits_for_a_healthy_target_after_dns(fast, home, capsys) -> None:
    """The target cannot launch any instance (capacity 0), so DNS answers it while its load balancer has no
    registered target and answers ELB's 503; "target serving" comes only once capacity is back."""
    twin, stack_path = fast
    data = tomllib.loads(stack_path.read_text())
    data["objectives"]["rto_s"] = 60
    data.setdefault("failover", {})["min_capacity_share"] = 0  # the flip does not wait for capacity
    stack = load_stack(write_stack_file(data, stack_path))
    server = stack.name_servers[0]
    west = resolve(server, stack.regions["us-west-2"].alb_dns_name)
    twin.control.set_capacity_limit("us-west-2", 0)
    twin.control.outage("us-east-1", route53=True)
    seen: list[int] = []

    def lift_once_the_run_saw_dns_answer_the_target() -> None:
        """The run's journal says DNS answers the target; users get the load balancer's 503; then capacity."""
        until = time.monotonic() + 50
        while time.monotonic() < until and not any(
            '"DNS answers target"' in j.read_text() for j in home.glob("runs/*/journal.jsonl")
        ):
            time.sleep(0.1)
        seen.append(get(west[0], stack.probe.url))
        time.sleep(1.0)  # the probe polls every 0.5 s: it meets the 503 too
        twin.control.set_capacity_limit("us-west-2", None)

    lifter = threading.Thread(target=lift_once_the_run_saw_dns_answer_the_target, daemon=True)
    lifter.start()
    rc, report = failover(capsys, stack_path, "--to", "us-west-2", "--mode", "unplanned", "--allow-data-loss")
    lifter.join(timeout=60)
    assert rc == ExitCode.OK, report["_stderr"]
    assert seen == [503], seen  # the user's view while the target has no registered target
    serving = report["verification"]["serving"]
    assert serving["verdict"] == "verified" and serving["attempts"] > 1, serving  # 503s first, then 200
    points = {p["name"]: p for p in report["recovery"]}
    assert points["target serving"]["at_s"] > points["DNS answers target"]["at_s"] + 1.0, points
    assert report["rto_s"] == points["target serving"]["at_s"]
    twin.control.restore()
