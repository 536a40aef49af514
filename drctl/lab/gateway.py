"""The lab gateway: one loopback HTTP port per region (plus "global"), in front of the emulator.

It forwards every AWS request to the emulator and adds only what no emulator models: per-region outages (the
region's listening socket is closed, so connections are refused at once), injected latency, injected
throttling and 5xx faults (the fault chain, drctl/lab/faults.py), and the lab models of drctl/lab/models.py
(health checks, transition durations, signals). Requests are parsed once by drctl/lab/protocol.py; this module
is the server: ports, the chain, forwarding, the request log and the admin API. The admin API (`/_lab/...`,
JSON) is served on the admin port, which no outage takes down, and on the global port.

Run by drctl/lab/runtime.py as `python -m drctl.lab.gateway CONFIG.json`, detached; SIGTERM stops it.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib
import json
import signal
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

from drctl.lab.albs import LoadBalancerServer
from drctl.lab.dns import DnsServer
from drctl.lab.emulator import reset_emulator
from drctl.lab.faults import DROP_HEADER, GLOBAL, Faults, operations
from drctl.lab.http import Forward, LabRequest, LabResponse, Middleware
from drctl.lab.protocol import aws_error, is_mutating, parse_request
from drctl.lab.redact import redact_params

ADMIN = "admin"
DNS = "dns"  # the lab's authoritative DNS (UDP and TCP): Route53's data plane, which no outage takes down
HTTP = "http"  # the lab's load balancers' listeners, on their loopback addresses (drctl/lab/albs.py)
_HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
     "transfer-encoding", "upgrade", "content-length", "expect")
)  # fmt: skip


# --- the chain -------------------------------------------------------------------------------------------


class ModelSet(Protocol):
    middlewares: list[Middleware]

    def admin(self, method: str, path: str, body: dict[str, Any]) -> LabResponse | None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def reset(self) -> None: ...


class _NoModels:
    """Stand-in while drctl/lab/models.py does not exist: plain forwarding."""

    middlewares: list[Middleware] = []  # noqa: RUF012 - never mutated

    def admin(self, method: str, path: str, body: dict[str, Any]) -> LabResponse | None:
        return None

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def reset(self) -> None: ...


def load_models(
    emulator_url: str,
    regions: tuple[str, str],
    home: Path,
    time_scale: float = 1.0,
    ports: dict[str, int] | None = None,
    databases: bool = False,
) -> ModelSet:
    try:
        module = importlib.import_module("drctl.lab.models")
    except ModuleNotFoundError as e:
        if e.name != "drctl.lab.models":
            raise
        return _NoModels()
    models: ModelSet = module.build_models(
        emulator_url=emulator_url,
        regions=regions,
        home=home,
        time_scale=time_scale,
        ports=ports,
        databases=databases,
    )
    return models


class Gateway:
    def __init__(self, config: dict[str, Any]) -> None:
        first, second = config["regions"]
        self.regions: tuple[str, str] = (str(first), str(second))
        self.ports: dict[str, int] = {k: int(v) for k, v in config["ports"].items()}
        self.emulator_url: str = config["emulator_url"]
        self.home = Path(config["home"])
        self.log_path = Path(config["request_log"])
        self.faults = Faults(self.regions)
        self._lock = threading.RLock()
        self._log_lock = threading.Lock()
        self._local = threading.local()
        self.servers: dict[str, _Server] = {}
        self.dns: DnsServer | None = None
        self.lbs: LoadBalancerServer | None = None
        self.models = load_models(
            self.emulator_url,
            self.regions,
            self.home,
            float(config.get("time_scale", 1.0)),
            ports=self.ports,
            databases=bool(config.get("databases", False)),
        )
        if hasattr(self.models, "is_region_down"):  # the models see outages (a down region's checks fail)
            self.models.is_region_down = self.faults.is_down
        self.chain = self._build_chain()

    # lifecycle
    def start(self) -> None:
        for role in (ADMIN, GLOBAL, *self.regions):  # database front ports are the models' (databases.py)
            self._open(role)
        zones = getattr(self.models, "dns_zones", None)
        if DNS in self.ports and zones is not None:
            self.dns = DnsServer("127.0.0.1", self.ports[DNS], zones)
            self.dns.start()
        backend = getattr(self.models, "alb_backend", None)
        if HTTP in self.ports and backend is not None:
            self.lbs = LoadBalancerServer(self.ports[HTTP], backend)
            self.lbs.start()
        self.models.start()

    def stop(self) -> None:
        self.models.stop()
        if self.lbs is not None:
            self.lbs.stop()
        if self.dns is not None:
            self.dns.stop()
        with self._lock:
            for role in list(self.servers):
                self._close(role)

    def _open(self, role: str) -> None:
        server = _Server(("127.0.0.1", self.ports[role]), _Handler, self, role)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        self.servers[role] = server

    def _close(self, role: str) -> None:
        server = self.servers.pop(role, None)
        if server is not None:
            server.shutdown()
            server.server_close()
            server.drop_connections()

    # outages
    def outage(self, region: str, *, route53: bool = False) -> None:
        with self._lock:
            for role in self.faults.take_down(region, route53=route53):
                self._close(role)
            if self.lbs is not None:  # its load balancers' listeners close too
                self.lbs.refresh(reread=False)
            self._regions_changed()

    def restore(self, region: str | None = None) -> None:
        with self._lock:
            for role in self.faults.bring_back(region):
                self._open(role)
            if self.lbs is not None:
                self.lbs.refresh(reread=False)
            self._regions_changed()

    def _regions_changed(self) -> None:
        """Models with servers of their own (the databases' front ports) follow outages at once."""
        hook = getattr(self.models, "regions_changed", None)
        if hook is not None:
            hook()

    def reset(self) -> None:
        reset_emulator(self.emulator_url)
        self.models.reset()
        self.restore()
        self.faults.clear()
        self.clear_requests()

    # the request chain: log -> latency -> injected errors -> models -> emulator
    def _build_chain(self) -> Forward:
        links: list[Middleware] = [self.faults.latency, self.faults.inject_errors, *self.models.middlewares]
        handler: Forward = self._forward
        for link in reversed(links):
            handler = _bind(link, handler)
        return _bind(self._log, handler)

    def _log(self, req: LabRequest, forward: Forward) -> LabResponse:
        resp = forward(req)
        entry: dict[str, Any] = {
            "ts": time.time(),
            "port_role": req.port_role,
            "region": req.region,
            "service": req.service,
            "operation": req.operation,
            "status": resp.status,
        }
        if DROP_HEADER in resp.headers:
            entry["answer_lost"] = True
        if is_mutating(req.operation):
            entry["params"] = redact_params(req.params)
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self._log_lock, self.log_path.open("a", encoding="utf-8") as f:
            f.write(line)
        return resp

    def _forward(self, req: LabRequest) -> LabResponse:
        received = req.headers.get(":query", "")
        query = (
            received
            if parse_qs(received, keep_blank_values=True) == req.query
            else urlencode(req.query, doseq=True)
        )
        path = f"{req.path}?{query}" if query else req.path
        headers = {k: v for k, v in req.headers.items() if k not in _HOP_BY_HOP and not k.startswith(":")}
        headers["content-length"] = str(len(req.body))
        for attempt in (1, 2):  # a kept-alive connection the emulator closed meanwhile: retry once, fresh
            conn = self._emulator_connection(fresh=attempt == 2)
            try:
                conn.request(req.method, path, body=req.body, headers=headers)
                raw = conn.getresponse()
                body = raw.read()
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                conn.close()
                if attempt == 2 or not isinstance(e, (http.client.RemoteDisconnected, BrokenPipeError)):
                    return aws_error(req, 502, "ServiceUnavailable", f"lab: emulator unreachable ({e})")
                continue
            out = {k: v for k, v in raw.getheaders() if k.lower() not in _HOP_BY_HOP}
            if req.method == "HEAD" and raw.getheader("Content-Length"):  # HeadObject's size, without a body
                out["Content-Length"] = raw.getheader("Content-Length", "0")
            return LabResponse(raw.status, out, body)
        raise AssertionError("unreachable")

    def _emulator_connection(self, *, fresh: bool) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None or fresh:
            parts = urlsplit(self.emulator_url)
            conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
            self._local.conn = conn
        return conn

    # request log
    def requests(self) -> list[dict[str, Any]]:
        with self._log_lock:
            try:
                lines = self.log_path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                return []
        return [json.loads(line) for line in lines if line.strip()]

    def clear_requests(self) -> None:
        with self._log_lock:
            self.log_path.write_text("", encoding="utf-8")

    # admin API
    def status(self) -> dict[str, Any]:
        return {
            "lab": True,
            "regions": list(self.regions),
            "ports": self.ports,
            "emulator_url": self.emulator_url,
            **self.faults.status(),
            "models": not isinstance(self.models, _NoModels),
            **({"http": self.lbs.status()} if self.lbs is not None else {}),
        }

    def admin(self, method: str, path: str, body: dict[str, Any]) -> LabResponse:
        name = path.removeprefix("/_lab/").strip("/")
        try:
            if (method, name) == ("GET", "status"):
                return LabResponse.json(200, self.status())
            if (method, name) == ("POST", "outage"):
                self.outage(str(body["region"]), route53=bool(body.get("route53", False)))
                return LabResponse.json(200, self.status())
            if (method, name) == ("POST", "restore"):
                region = body.get("region")
                self.restore(str(region) if region else None)
                return LabResponse.json(200, self.status())
            if (method, name) == ("POST", "latency"):
                self.faults.set_latency(float(body.get("ms", 0)), float(body.get("jitter_ms", 0)))
                return LabResponse.json(200, self.status())
            if (method, name) == ("POST", "faults"):
                fail, lose = operations(body.get("fail", [])), operations(body.get("lose_answer", []))
                self.faults.set_rates(
                    throttle_rate=float(body.get("throttle_rate", 0.0)),
                    error_rate=float(body.get("error_rate", 0.0)),
                )
                self.faults.set_operations(fail=fail, lose_answer=lose)
                return LabResponse.json(200, self.status())
            if (method, name) == ("GET", "requests"):
                return LabResponse.json(200, {"requests": self.requests()})
            if (method, name) == ("DELETE", "requests"):
                self.clear_requests()
                return LabResponse.json(200, {"requests": []})
            if (method, name) == ("POST", "reset"):
                self.reset()
                return LabResponse.json(200, self.status())
        except (KeyError, TypeError, ValueError) as e:
            return LabResponse.json(400, {"error": f"{type(e).__name__}: {e}"})
        delegated = self.models.admin(method, path, body)
        if delegated is not None:
            return delegated
        return LabResponse.json(404, {"error": f"no lab admin endpoint {method} {path}"})


def _bind(link: Middleware, nxt: Forward) -> Forward:
    return lambda req: link(req, nxt)


# --- HTTP plumbing ---------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # status fans out many connections at once; the default 5 costs SYN retries

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], gateway: Gateway, role: str
    ) -> None:
        self.gateway = gateway
        self.role = role
        self.connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            (self.connections.add if add else self.connections.discard)(conn)

    def drop_connections(self) -> None:
        """An outage also cuts kept-alive connections: clients see a reset, then refused connects."""
        with self._conn_lock:
            conns, self.connections = set(self.connections), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:  # the request log is ours
        pass

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        gw, role = self.server.gateway, self.server.role
        body = self._body()
        if gw.faults.is_down(role):  # the socket is closing: answer nothing, like a dead region
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.path.startswith("/_lab/") and role in (ADMIN, GLOBAL):
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                data = None
            if not isinstance(data, dict):
                resp = LabResponse.json(400, {"error": "body must be a JSON object"})
            else:
                try:
                    resp = gw.admin(self.command, urlsplit(self.path).path, data)
                except Exception as e:
                    traceback.print_exc()
                    resp = LabResponse.json(500, {"error": f"lab gateway error: {type(e).__name__}: {e}"})
        elif role == ADMIN:
            resp = LabResponse.json(404, {"error": "the admin port serves /_lab/ only"})
        else:
            req = parse_request(self.command, self.path, dict(self.headers.items()), body, role)
            try:
                resp = gw.chain(req)
            except Exception as e:  # a bug in a lab model: answer like AWS would, keep the trace in gateway.log
                traceback.print_exc()
                resp = aws_error(req, 500, "InternalFailure", f"lab gateway error: {type(e).__name__}: {e}")
        self._send(resp)

    def _send(self, resp: LabResponse) -> None:
        if DROP_HEADER in resp.headers:  # --lose-answer: the request was acted on; the client hears nothing
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            if k.lower() not in _HOP_BY_HOP:
                self.send_header(k, v)
        head_length = resp.headers.get("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", head_length or str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    config = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    gateway = Gateway(config)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    gateway.start()
    print(f"lab gateway ready: {json.dumps(gateway.ports)}", flush=True)
    stop.wait()
    gateway.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
