"""A per-API token bucket in front of the twin, for "status under 10 TPS per API".

The lab gateway injects throttling as a *rate* (a fraction of calls); AWS throttles by a token bucket per
API. Rather than change the gateway, the bench puts this small loopback proxy in front of each of its
endpoints: a call of an API whose bucket is empty gets the gateway's own AWS-shaped Throttling error
(drctl.lab.faults.throttled), every other call is forwarded unchanged. Buckets are per
(endpoint, service, operation), refilled at `rate` per second up to `burst`.
"""

from __future__ import annotations

import contextlib
import http.client
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from drctl.lab.faults import throttled
from drctl.lab.protocol import parse_request


@dataclass
class Bucket:
    rate: float
    burst: float
    tokens: float
    stamp: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class Buckets:
    rate: float
    burst: float
    buckets: dict[tuple[str, str, str], Bucket] = field(default_factory=dict)
    passed: Counter[tuple[str, str]] = field(default_factory=Counter)
    throttled: Counter[tuple[str, str]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, role: str, service: str, operation: str) -> bool:
        now = time.monotonic()
        with self.lock:
            key = (role, service, operation)
            b = self.buckets.setdefault(key, Bucket(self.rate, self.burst, self.burst, now))
            ok = b.take(now)
            (self.passed if ok else self.throttled)[(service, operation)] += 1
            return ok

    def reset_counts(self) -> None:
        with self.lock:
            self.passed.clear()
            self.throttled.clear()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, role: str, upstream: str, buckets: Buckets) -> None:
        self.role = role
        self.upstream = urlsplit(upstream)
        self.buckets = buckets
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        req = parse_request(self.command, self.path, headers, body, self.server.role)
        # rest-json operations (backup) are not named by the parser: their first path segment stands in.
        operation = req.operation or f"{req.method} /{req.path.strip('/').split('/')[0]}"
        if not self.server.buckets.admit(self.server.role, req.service, operation):
            resp = throttled(req)
            self._send(resp.status, list(resp.headers.items()), resp.body)
            return
        up = self.server.upstream
        conn = http.client.HTTPConnection(up.hostname or "127.0.0.1", up.port, timeout=60)
        try:
            fwd = {k: v for k, v in headers.items() if k.lower() not in ("connection", "keep-alive")}
            conn.request(self.command, self.path, body=body, headers=fwd)
            raw = conn.getresponse()
            data = raw.read()
            out = [(k, v) for k, v in raw.getheaders() if k.lower() not in ("connection", "transfer-encoding")]
            self._send(raw.status, out, data)
        finally:
            conn.close()

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for k, v in headers:
            if k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


@contextlib.contextmanager
def throttling_proxy(
    endpoints: dict[str, str], rate: float, burst: float = 1.0
) -> Iterator[tuple[dict[str, str], Buckets]]:
    """Proxies for each endpoint (region or "global"): yields (their URLs, the buckets with their counts)."""
    buckets = Buckets(rate=rate, burst=burst)
    servers = {role: _Server(role, url, buckets) for role, url in endpoints.items()}
    threads = [
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        for s in servers.values()
    ]
    for t in threads:
        t.start()
    try:
        yield {role: f"http://127.0.0.1:{s.server_address[1]}" for role, s in servers.items()}, buckets
    finally:
        for s in servers.values():
            s.shutdown()
            s.server_close()
