"""The lab's load balancers' data plane: an HTTP listener for each ALB on its loopback addresses.

The lab's DNS (drctl/lab/dns.py) answers each ALB's name, and every alias to it, with two loopback addresses
derived from the ALB's DNS name (`alb_addresses`, one per AZ). This server listens on those addresses, on the
one lab port `http` (`drctl lab status --json` lists it), so a client that resolves the record from the lab's
zone and connects reaches the ALB that record names. It models what the ELB documentation says an
Application Load Balancer answers (docs/fidelity.md, "Lab load balancers' data plane", T-160..T-164):

- At least one healthy target in the listener's target group: the request goes to a healthy target ("If there
  is at least one healthy target in a target group, the load balancer routes requests only to the healthy
  targets", https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html
  #no-healthy-targets). The lab has no application: its target answers 200 on the target group's health
  check path (the page its health checks pass on) and 404 elsewhere.
- No registered targets: the load balancer itself answers "HTTP 503: Service unavailable — The target groups
  for the load balancer have no registered targets" (same page, #http-503-issues), with ELB's
  "503 Service Temporarily Unavailable" page (https://repost.aws/knowledge-center/alb-troubleshoot-503-errors).
- Only unhealthy targets: the load balancer fails open and "routes requests to the unhealthy targets" (same
  page; https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html);
  the lab's unhealthy targets fail their health checks with 503 (drctl/lab/capacity.py), so they answer 503.
  Targets still in "initial" (registering, not yet in service: "Your target is not in service until it
  passes one health check", same troubleshooting page) are not routed to: 503 while no target is healthy.
- Target health is the lab's capacity model (drctl/lab/capacity.py `target_counts`: DescribeTargetHealth as
  the lab shows it); the same decision as the lab's simulated ALB metrics (drctl/lab/signals.py, T-35).
- Its region in outage (`drctl lab outage REGION`): the listeners close, so connections are refused, like the
  region's API ports.

Lab simplifications: HTTP only (no TLS listener, no certificate), on the lab port instead of 80/443; GET and
HEAD only; the listener's default action's target groups (no listener rules). Loopback only: every address
is in 127.0.0.0/8 (Linux routes all of it to `lo`; where binding such an address fails, the error is kept
and shown by `drctl lab status`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from drctl.lab.dns import alb_addresses, fqdn

REFRESH_S = 1.0  # how often new (or deleted) load balancers are picked up; outages apply at once
ELB_503_BODY = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class LoadBalancer:
    region: str
    arn: str
    dns_name: str  # fqdn, lower case

    @property
    def addresses(self) -> list[str]:
        return alb_addresses(self.dns_name)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    by: str  # "elb" (the load balancer's own answer) or "target"
    close: bool = False  # no answer at all: the connection is closed


class Backend(Protocol):
    """What the server needs of the lab: the load balancers, outages, and how one answers a path."""

    def load_balancers(self) -> list[LoadBalancer]: ...
    def is_region_down(self, region: str) -> bool: ...
    def answer(self, lb: LoadBalancer, path: str) -> Answer: ...


def route(target_groups: list[tuple[str, list[str]]]) -> str:
    """What an ALB does with a request, from its target groups' (health check path, target states):
    "healthy" (to a healthy target), "no-targets" (ELB 503), "fail-open" (to an unhealthy target),
    "not-in-service" (only targets still registering)."""
    states = [s for _, group in target_groups for s in group]
    if "healthy" in states:
        return "healthy"
    if not states:
        return "no-targets"
    if "unhealthy" in states:
        return "fail-open"
    return "not-in-service"


class LabBackend:
    """Backend over the emulator's elbv2 (read directly) and the capacity model's target health."""

    def __init__(self, world: Any, capacity: Any) -> None:
        self.world, self.capacity = world, capacity

    def load_balancers(self) -> list[LoadBalancer]:
        out: list[LoadBalancer] = []
        for region in self.world.regions:
            elb = self.world.client("elbv2", region)
            for page in elb.get_paginator("describe_load_balancers").paginate():
                out.extend(
                    LoadBalancer(region, str(lb["LoadBalancerArn"]), fqdn(str(lb["DNSName"])))
                    for lb in page.get("LoadBalancers", [])
                    if lb.get("DNSName") and lb.get("Type", "application") == "application"
                )
        return out

    def is_region_down(self, region: str) -> bool:
        return bool(self.world.is_region_down(region))

    def target_groups(self, lb: LoadBalancer) -> list[tuple[str, list[str]]] | None:
        """(health check path, target states) of each target group the listener forwards to; None without a
        listener."""
        elb = self.world.client("elbv2", lb.region)
        listeners = elb.describe_listeners(LoadBalancerArn=lb.arn).get("Listeners", [])
        if not listeners:
            return None
        arns: list[str] = []
        for listener in listeners:
            for action in listener.get("DefaultActions", []):
                forward = [action.get("TargetGroupArn")] + [
                    t.get("TargetGroupArn") for t in (action.get("ForwardConfig") or {}).get("TargetGroups", [])
                ]
                arns.extend(a for a in forward if a and a not in arns)
        if not arns:
            return []
        groups = elb.describe_target_groups(TargetGroupArns=arns).get("TargetGroups", [])
        return [
            (str(g.get("HealthCheckPath") or "/"), self._states(lb.region, g["TargetGroupArn"])) for g in groups
        ]

    def _states(self, region: str, tg_arn: str) -> list[str]:
        counts = self.capacity.target_counts(region, tg_arn)  # DescribeTargetHealth as the lab shows it
        return [state for state, n in sorted(counts.items()) for _ in range(n)]

    def answer(self, lb: LoadBalancer, path: str) -> Answer:
        groups = self.target_groups(lb)
        if groups is None:
            return Answer(0, b"", "elb", close=True)  # no listener: nothing accepts the request
        verdict = route(groups)
        if verdict == "healthy":
            paths = {p for p, states in groups if "healthy" in states}
            if urlsplit(path).path in paths:
                return Answer(200, b"OK (lab target)\n", "target")
            return Answer(404, b"Not Found (lab target)\n", "target")
        if verdict == "fail-open":
            return Answer(503, b"Service Unavailable (lab target failing its health checks)\n", "target")
        return Answer(503, ELB_503_BODY, "elb")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    lb: LoadBalancer
    backend: Backend


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        lb, backend = self.server.lb, self.server.backend
        if backend.is_region_down(lb.region):  # the listener is closing: answer nothing, like a dead region
            self._drop()
            return
        try:
            answer = backend.answer(lb, self.path)
        except Exception:  # the emulator unreadable or a bug: ELB's 500 would hide it; keep the trace
            traceback.print_exc()
            answer = Answer(500, b"lab load balancer error (see gateway.log)\n", "elb")
        if answer.close:
            self._drop()
            return
        self.send_response(answer.status)
        self.send_header("Server", "awselb/2.0" if answer.by == "elb" else "lab-target")
        self.send_header("Content-Type", "text/html" if answer.by == "elb" else "text/plain")
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_HEAD = _handle


class LoadBalancerServer:
    """Listeners on every lab ALB's addresses at `port`, opened as ALBs appear and closed while their region is
    in outage; start() and stop()."""

    def __init__(self, port: int, backend: Backend, *, refresh_s: float = REFRESH_S) -> None:
        self.port, self.backend, self.refresh_s = port, backend, refresh_s
        self._servers: dict[str, _Server] = {}  # address -> its listener
        self._known: dict[str, LoadBalancer] = {}  # address -> its load balancer
        self.problems: dict[str, str] = {}  # address -> why it could not be bound
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            for address in list(self._servers):
                self._close(address)

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_s):
            try:
                self.refresh()
            except Exception:  # the emulator unreadable for a moment: keep the listeners, try again
                traceback.print_exc()

    def refresh(self, *, reread: bool = True) -> None:
        """Open listeners for new load balancers in regions that are up; close those of regions in outage."""
        if reread:
            found = {a: lb for lb in self.backend.load_balancers() for a in lb.addresses}
            with self._lock:
                for address in [a for a in self._servers if a not in found]:  # deleted (or the lab reset)
                    self._close(address)
                self._known = found
                self.problems = {a: why for a, why in self.problems.items() if a in found}
        with self._lock:
            for address, lb in self._known.items():
                down = self.backend.is_region_down(lb.region)
                if down and address in self._servers:
                    self._close(address)
                elif not down and address not in self._servers and address not in self.problems:
                    self._open(address, lb)

    def _open(self, address: str, lb: LoadBalancer) -> None:
        if not ipaddress.ip_address(address).is_loopback:
            self.problems[address] = "not a loopback address: the lab binds loopback only"
            return
        try:
            server = _Server((address, self.port), _Handler)
        except OSError as e:
            self.problems[address] = f"cannot listen on {address}:{self.port}: {e.strerror or e}"
            return
        server.lb, server.backend = lb, self.backend
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        self._servers[address] = server

    def _close(self, address: str) -> None:
        server = self._servers.pop(address)
        server.shutdown()
        server.server_close()

    def status(self) -> dict[str, Any]:
        with self._lock:
            listening: dict[str, list[str]] = {}
            for address in sorted(self._servers):
                listening.setdefault(self._known[address].dns_name.rstrip("."), []).append(address)
            return {
                "port": self.port,
                "listening": listening,
                "problems": dict(self.problems),
            }
