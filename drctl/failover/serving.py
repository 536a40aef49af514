"""The "target serving" RTO phase: an HTTP(S) GET of `[probe] url` through the public name.

After the zone's authoritative servers answer with the target region's record (drctl/failover/verify.py,
"DNS answers target"), drctl connects to the addresses those servers answered for the target and sends the
GET with the URL's host (the record name) as Host header and, for https, as TLS SNI, verifying the
certificate against that name (Python's default context: CERT_REQUIRED + check_hostname). An ALB's HTTPS
listener picks its certificate by the SNI hostname, the default one without SNI
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/create-https-listener.html, certificate
list). So the request takes the path a client resolving from the zone takes: the record's answer (an alias
to an ALB answers the ALB's addresses: Route53 Developer Guide, resource-record-sets-values-alias.html), the
target's load balancer, its healthy targets (an ALB answers 503 without registered targets: ELB
load-balancer-troubleshooting.html). DNS and HTTP only — no AWS API call — so it works with Route53's control
plane down.

It polls until a status of `[probe] expect_status` arrives (default 200-399), each attempt bounded by
`[probe] timeout_s`, the whole by the run's remaining time and the same window DNS verification gets. It never
fails the run: the verdict is "verified", "unverified: <why>" or "not probed: ...". What it does not show:
that resolvers' caches expired (that is "clients converge", a bound: DNS answer + TTL). docs/fidelity.md D-row
"Target serving".
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from drctl.aws import dns as dns_plane
from drctl.failover.context import Run, traffic_bound_s
from drctl.stack import ProbeSettings

PROBE_POLL_S = 0.5
READ_LIMIT = 64 * 1024  # the body is read (and dropped) up to this much so the connection ends cleanly
NOT_PROBED = "not probed: no [probe] url in the stack file"


@dataclass(frozen=True)
class Attempt:
    address: str
    status: int | None = None  # the HTTP status, None when no response came
    error: str = ""  # why there was no response (refused, timeout, TLS, ...)
    elapsed_s: float = 0.0

    def said(self) -> str:
        return f"HTTP {self.status}" if self.status is not None else self.error

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Http(http.client.HTTPConnection):
    """HTTP to `address`; http.client's Host header stays the URL's host (the record name)."""

    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _Https(http.client.HTTPSConnection):
    """HTTPS to `address` with SNI and certificate check for the URL's host, not the address."""

    def __init__(self, host: str, port: int | None, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address, self._tls = address, context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        try:
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def probe_once(url: str, address: str, *, timeout_s: float, context: ssl.SSLContext | None = None) -> Attempt:
    """One GET of `url` sent to `address` (Host and SNI: the URL's host). Never raises for network errors."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = _Https(host, parts.port, address, timeout_s, context or ssl.create_default_context())
    else:
        conn = _Http(host, parts.port, address, timeout_s)
    try:
        conn.request("GET", path, headers={"User-Agent": "drctl-probe", "Connection": "close"})
        resp = conn.getresponse()
        resp.read(READ_LIMIT)
        return Attempt(address, resp.status, elapsed_s=round(time.monotonic() - started, 3))
    except ssl.SSLCertVerificationError as e:
        error = f"TLS certificate not valid for {host}: {e.verify_message or e.reason}"
    except ssl.SSLError as e:
        error = f"TLS handshake failed: {e.reason or type(e).__name__}"
    except ConnectionRefusedError:
        error = "connection refused"
    except TimeoutError:
        error = f"no response within {timeout_s:g} s"
    except (ConnectionError, http.client.HTTPException, OSError) as e:
        error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'connection closed'}"[:160]
    finally:
        conn.close()
    return Attempt(address, error=error, elapsed_s=round(time.monotonic() - started, 3))


@dataclass
class ProbeResult:
    served: Attempt | None  # the first attempt with an expected status
    served_at: float | None  # epoch seconds of that response
    attempts: int
    last: dict[str, Attempt]  # address -> its latest attempt
    stopped: bool = False


def probe_until(
    url: str,
    addresses: Sequence[str],
    settings: ProbeSettings,
    *,
    deadline_s: float,
    stop_event: threading.Event,
    context: ssl.SSLContext | None = None,
    on_served: Callable[[Attempt, float], None] = lambda attempt, at: None,
) -> ProbeResult:
    """GET `url` at each address in turn, round after round, until one answers an expected status, the
    deadline (seconds from now) passes or `stop_event` is set."""
    until = time.monotonic() + deadline_s
    last: dict[str, Attempt] = {}
    attempts = 0
    while True:
        for address in addresses:
            left = until - time.monotonic()
            attempt = probe_once(url, address, timeout_s=max(0.1, min(settings.timeout_s, left)), context=context)
            attempts += 1
            last[address] = attempt
            if attempt.status is not None and settings.expects(attempt.status):
                at = time.time()
                on_served(attempt, at)
                return ProbeResult(attempt, at, attempts, last)
            if stop_event.is_set():
                return ProbeResult(None, None, attempts, last, stopped=True)
        if time.monotonic() >= until:
            return ProbeResult(None, None, attempts, last)
        if stop_event.wait(min(PROBE_POLL_S, max(0.0, until - time.monotonic()))):
            return ProbeResult(None, None, attempts, last, stopped=True)


def target_addresses(run: Run, dns_result: dict[str, Any]) -> list[str]:
    """The addresses the authoritative servers answered for the target region (their last round): A/AAAA
    values, or what an answered CNAME's target resolves to."""
    found: list[str] = []
    cnames: list[str] = []
    for server in dns_result.get("servers") or []:
        if server.get("verdict") != "answered" or server.get("region") != run.target.name:
            continue
        for record in server.get("records") or []:
            if record.get("type") in dns_plane.ADDRESS_TYPES and record.get("value") not in found:
                found.append(str(record["value"]))
            elif record.get("type") == "CNAME":
                cnames.append(str(record["value"]))
    for name in cnames if not found else []:
        found.extend(a for a in dns_plane.addresses_of(run.stack, name) if a not in found)
    return found


def verify_serving(
    run: Run, dns_result: dict[str, Any], *, context: ssl.SSLContext | None = None
) -> dict[str, Any]:
    """`verification.serving`: the probe through the public name, after DNS answers the target."""
    stack, t = run.stack, run.target
    settings = stack.probe
    if not settings.url:
        return {"verdict": NOT_PROBED, "detail": "set [probe] url to probe the target through the public name"}
    base = {"url": settings.url, "target": t.name, "expect_status": settings.expected_text()}
    addresses = target_addresses(run, dns_result)
    if not addresses:
        return {
            **base,
            "verdict": f"unverified: the authoritative servers did not answer {t.name}'s record: nothing to probe",
            "detail": f"GET {settings.url} not sent",
        }
    started = time.monotonic()
    bound = traffic_bound_s(run)

    def served(attempt: Attempt, at: float) -> None:
        run.milestone(
            "target serving",
            f"HTTP {attempt.status} from {attempt.address} for GET {settings.url} (probe through the public name)",
            at=at,
            status=attempt.status,
            address=attempt.address,
        )

    result = probe_until(
        settings.url, addresses, settings, deadline_s=bound, stop_event=run.stop_event, context=context,
        on_served=served,
    )  # fmt: skip
    elapsed = round(time.monotonic() - started, 3)
    said = "; ".join(f"{a}: {result.last[a].said()}" for a in addresses if a in result.last)
    out = {**base, "addresses": addresses, "attempts": result.attempts, "elapsed_s": elapsed}
    if result.served is not None:
        return {
            **out,
            "verdict": "verified",
            "detail": f"HTTP {result.served.status} from {result.served.address} for GET {settings.url} "
            f"(Host {settings.host}; addresses from the authoritative DNS answer for {t.name})",
            "status": result.served.status,
            "address": result.served.address,
            "served_at": result.served_at,
        }
    expected = settings.expected_text()
    why = "stopped before an expected answer" if result.stopped else f"no {expected} within {elapsed:g} s"
    return {**out, "verdict": f"unverified: {why} ({said})", "detail": f"GET {settings.url}: {said}"}
