"""The lab gateway: one loopback HTTP port per region (plus "global"), in front of the emulator.

It forwards every AWS request to the emulator and adds only what no emulator models: per-region outages (the
region's listening socket is closed, so connections are refused at once), injected latency, injected
throttling and 5xx faults, and the lab models of drctl/lab/models.py (health checks, transition durations,
signals). The admin API (`/_lab/...`, JSON) is served on the admin port, which no outage takes down, and on the
global port.

Run by drctl/lab/runtime.py as `python -m drctl.lab.gateway CONFIG.json`, detached; SIGTERM stops it.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib
import json
import random
import re
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

from drctl.lab.emulator import reset_emulator
from drctl.lab.http import Forward, LabRequest, LabResponse, Middleware
from drctl.lab.redact import redact_params

GLOBAL = "global"
ADMIN = "admin"
_HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
     "transfer-encoding", "upgrade", "content-length", "expect")
)  # fmt: skip
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_READ_PREFIXES = ("Describe", "List", "Get", "Head", "Query", "Scan", "BatchGet", "Select", "Test", "Lookup")
# Services whose errors travel as query-protocol XML (form-encoded requests).
_EC2_STYLE = frozenset(("ec2",))


# --- parsing ---------------------------------------------------------------------------------------------


def parse_request(method: str, raw_path: str, headers: dict[str, str], body: bytes, port_role: str) -> LabRequest:
    """Parse an AWS request once: signing region/service, operation, flattened params."""
    parts = urlsplit(raw_path)
    path = parts.path or "/"
    query = parse_qs(parts.query, keep_blank_values=True)
    lower = {k.lower(): v for k, v in headers.items()}
    lower[":query"] = parts.query  # the raw query string, forwarded as received (a pseudo-header, never sent)
    region, service = "", ""
    m = _SCOPE.search(lower.get("authorization", "")) or _SCOPE.search(
        "Credential=" + query.get("X-Amz-Credential", [""])[0]
    )
    if m:
        region, service = m.group(1), m.group(2)
    req = LabRequest(method.upper(), path, query, lower, body, port_role, region, service, "")
    req.operation, req.params = _operation_and_params(req)
    return req


def _operation_and_params(req: LabRequest) -> tuple[str, dict[str, str]]:
    params = {k: v[0] for k, v in req.query.items() if v and not k.startswith("X-Amz-")}
    target = req.headers.get("x-amz-target", "")
    if target:
        return target.rsplit(".", 1)[-1], {**params, **_json_params(req.body)}
    form = req.form
    if form:
        params.update({k: v[0] for k, v in form.items() if v})
    if "Action" in params:
        return params.pop("Action"), params
    if "/operation/" in req.path:  # smithy rpc-v2: /service/<Service>/operation/<Operation>
        return req.path.rsplit("/", 1)[-1], params
    if req.service == "route53":
        return _route53_operation(req.method, req.path), {**params, **_xml_params(req.body)}
    if req.service == "s3":
        return _s3_operation(req), params
    if req.headers.get("content-type", "").startswith("application/json"):
        params.update(_json_params(req.body))
    return "", params


def _json_params(body: bytes) -> dict[str, str]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in data.items()}


def _xml_params(body: bytes) -> dict[str, str]:
    """Leaf elements of an XML body as dotted paths (namespaces dropped); repeated paths get an index."""
    if not body.strip():
        return {}
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return {}
    out: dict[str, str] = {}

    def walk(el: ET.Element, prefix: str) -> None:
        for child in el:
            name = child.tag.rsplit("}", 1)[-1]
            key = f"{prefix}.{name}" if prefix else name
            if len(child):
                walk(child, key)
            else:
                k, n = key, 1
                while k in out:
                    n += 1
                    k = f"{key}.{n}"
                out[k] = (child.text or "").strip()

    walk(root, "")
    return out


_R53_ID = r"[^/]+"
_ROUTE53_OPS: list[tuple[str, str, str]] = [
    ("POST", r"/healthcheck", "CreateHealthCheck"),
    ("GET", r"/healthcheck", "ListHealthChecks"),
    ("GET", rf"/healthcheck/{_R53_ID}/status", "GetHealthCheckStatus"),
    ("GET", rf"/healthcheck/{_R53_ID}/lastfailurereason", "GetHealthCheckLastFailureReason"),
    ("GET", rf"/healthcheck/{_R53_ID}", "GetHealthCheck"),
    ("POST", rf"/healthcheck/{_R53_ID}", "UpdateHealthCheck"),
    ("DELETE", rf"/healthcheck/{_R53_ID}", "DeleteHealthCheck"),
    ("GET", r"/healthcheckcount", "GetHealthCheckCount"),
    ("GET", r"/checkeripranges", "GetCheckerIpRanges"),
    ("POST", r"/hostedzone", "CreateHostedZone"),
    ("GET", r"/hostedzone", "ListHostedZones"),
    ("POST", rf"/hostedzone/{_R53_ID}/rrset/?", "ChangeResourceRecordSets"),
    ("GET", rf"/hostedzone/{_R53_ID}/rrset/?", "ListResourceRecordSets"),
    ("GET", rf"/hostedzone/{_R53_ID}", "GetHostedZone"),
    ("POST", rf"/hostedzone/{_R53_ID}", "UpdateHostedZoneComment"),
    ("DELETE", rf"/hostedzone/{_R53_ID}", "DeleteHostedZone"),
    ("GET", r"/hostedzonesbyname", "ListHostedZonesByName"),
    ("GET", r"/hostedzonecount", "GetHostedZoneCount"),
    ("GET", rf"/change/{_R53_ID}", "GetChange"),
    ("GET", r"/testdnsanswer", "TestDNSAnswer"),
    ("GET", rf"/tags/{_R53_ID}/{_R53_ID}", "ListTagsForResource"),
    ("POST", rf"/tags/{_R53_ID}/{_R53_ID}", "ChangeTagsForResource"),
]


def _route53_operation(method: str, path: str) -> str:
    rest = re.sub(r"^/\d{4}-\d{2}-\d{2}", "", path)
    for m, pattern, name in _ROUTE53_OPS:
        if m == method and re.fullmatch(pattern, rest):
            return name
    return f"{method} {rest}"


_S3_SUBRESOURCES = {
    "replication": "Replication", "versioning": "Versioning", "tagging": "Tagging", "policy": "Policy",
    "encryption": "Encryption", "lifecycle": "LifecycleConfiguration", "acl": "Acl", "location": "Location",
    "notification": "NotificationConfiguration", "object-lock": "ObjectLockConfiguration",
}  # fmt: skip


def _s3_operation(req: LabRequest) -> str:
    verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head", "POST": "Post"}.get(req.method, "")
    segments = [s for s in req.path.split("/") if s]
    if not segments:
        return "ListBuckets"
    sub = next((v for k, v in _S3_SUBRESOURCES.items() if k in req.query), None)
    if sub:
        return f"{verb}Bucket{sub}" if len(segments) == 1 else f"{verb}Object{sub}"
    if len(segments) == 1:
        return {"GET": "ListObjects", "PUT": "CreateBucket"}.get(req.method, f"{verb}Bucket")
    return f"{verb}Object"


def is_mutating(operation: str) -> bool:
    return bool(operation) and not operation.startswith(_READ_PREFIXES)


# --- injected errors, in each protocol's wire format ----------------------------------------------------


def aws_error(req: LabRequest, status: int, code: str, message: str) -> LabResponse:
    """An AWS error response in the request's protocol, so botocore parses and classifies it."""
    rid = str(uuid.uuid4())
    json_code = code if code.endswith("Exception") or status >= 500 else f"{code}Exception"
    content_type = req.headers.get("content-type", "")
    if req.headers.get("x-amz-target") or content_type.startswith("application/x-amz-json"):
        headers = {"Content-Type": content_type or "application/x-amz-json-1.0", "x-amzn-RequestId": rid}
        if "x-amzn-query-mode" in req.headers:  # query-compatible JSON (cloudwatch, sqs): classic code wins
            headers["x-amzn-query-error"] = f"{code};{'Receiver' if status >= 500 else 'Sender'}"
        return LabResponse(status, headers, json.dumps({"__type": json_code, "message": message}).encode())
    if req.service == "s3":
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{rid}</RequestId></Error>"
        return LabResponse.xml(status, body, request_id=rid)
    if req.service in _EC2_STYLE:
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                f"<RequestID>{rid}</RequestID></Response>")  # fmt: skip
        return LabResponse.xml(status, body, request_id=rid)
    if req.form or "Action" in req.query or req.service == "route53":
        kind = "Receiver" if status >= 500 else "Sender"
        body = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>"
                f"</Error><RequestId>{rid}</RequestId></ErrorResponse>")  # fmt: skip
        return LabResponse.xml(status, body, request_id=rid)
    # rest-json (backup, lambda, ...): the code travels in a header as well.
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": rid, "x-amzn-ErrorType": json_code}
    return LabResponse(status, headers, json.dumps({"__type": json_code, "message": message}).encode())


def throttled(req: LabRequest) -> LabResponse:
    if req.service == "s3":
        return aws_error(req, 503, "SlowDown", "lab: injected throttling (Please reduce your request rate.)")
    return aws_error(req, 400, "Throttling", "lab: injected throttling (Rate exceeded)")


def server_error(req: LabRequest) -> LabResponse:
    return aws_error(req, 500, "InternalFailure", "lab: injected server error")


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


def load_models(emulator_url: str, regions: tuple[str, str], home: Path) -> ModelSet:
    try:
        module = importlib.import_module("drctl.lab.models")
    except ModuleNotFoundError as e:
        if e.name != "drctl.lab.models":
            raise
        return _NoModels()
    models: ModelSet = module.build_models(emulator_url=emulator_url, regions=regions, home=home)
    return models


class _Rate:
    """Fires at exactly `rate` of calls over any window (error diffusion from a random phase), so a test
    of "30 % throttled over 200 calls" is not at the mercy of a coin."""

    def __init__(self, rng: random.Random) -> None:
        self.rate = 0.0
        self._rng = rng
        self._acc = 0.0

    def set(self, rate: float) -> None:
        self.rate = min(max(rate, 0.0), 1.0)
        self._acc = self._rng.random()

    def fire(self) -> bool:
        if self.rate <= 0.0:
            return False
        self._acc += self.rate
        if self._acc >= 1.0:
            self._acc -= 1.0
            return True
        return False


@dataclass
class Injected:
    down: set[str] = field(default_factory=set)  # port roles whose sockets are closed
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fail_ops: set[str] = field(default_factory=set)  # answered InternalFailure (500) without acting
    lose_answer_ops: set[str] = field(default_factory=set)  # acted on, then the connection drops unanswered


DROP_HEADER = "x-lab-drop-answer"  # internal: the handler closes the connection instead of answering


class Gateway:
    def __init__(self, config: dict[str, Any]) -> None:
        first, second = config["regions"]
        self.regions: tuple[str, str] = (str(first), str(second))
        self.ports: dict[str, int] = {k: int(v) for k, v in config["ports"].items()}
        self.emulator_url: str = config["emulator_url"]
        self.home = Path(config["home"])
        self.log_path = Path(config["request_log"])
        self.injected = Injected()
        self._rng = random.Random()
        self.throttle = _Rate(self._rng)
        self.errors = _Rate(self._rng)
        self._lock = threading.RLock()
        self._log_lock = threading.Lock()
        self._local = threading.local()
        self.servers: dict[str, _Server] = {}
        self.models = load_models(self.emulator_url, self.regions, self.home)
        if hasattr(self.models, "is_region_down"):  # the models see outages (a down region's checks fail)
            self.models.is_region_down = lambda region: region in self.injected.down
        self.chain = self._build_chain()

    # lifecycle
    def start(self) -> None:
        for role in (ADMIN, GLOBAL, *self.regions):
            self._open(role)
        self.models.start()

    def stop(self) -> None:
        self.models.stop()
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
        roles = {region} | ({GLOBAL} if route53 else set())
        unknown = roles - {GLOBAL, *self.regions}
        if unknown:
            raise ValueError(f"unknown region {sorted(unknown)[0]!r}; the lab has {', '.join(self.regions)}")
        with self._lock:
            for role in roles - self.injected.down:
                self._close(role)
            self.injected.down |= roles

    def restore(self, region: str | None = None) -> None:
        if region is not None and region not in {GLOBAL, *self.regions}:
            raise ValueError(f"unknown region {region!r}; the lab has {', '.join(self.regions)}")
        with self._lock:
            roles = set(self.injected.down) if region is None else {region} & self.injected.down
            if region is not None and region != GLOBAL and GLOBAL in self.injected.down:
                roles.add(GLOBAL)  # the Route53 control plane came down with this region
            for role in roles:
                self._open(role)
            self.injected.down -= roles

    def reset(self) -> None:
        reset_emulator(self.emulator_url)
        self.models.reset()
        self.restore()
        self.injected.latency_ms = self.injected.jitter_ms = 0.0
        self.throttle.set(0.0)
        self.errors.set(0.0)
        self.injected.fail_ops, self.injected.lose_answer_ops = set(), set()
        self.clear_requests()

    # the request chain: log -> latency -> faults -> models -> emulator
    def _build_chain(self) -> Forward:
        links: list[Middleware] = [self._latency, self._faults, *self.models.middlewares]
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

    def _latency(self, req: LabRequest, forward: Forward) -> LabResponse:
        inj = self.injected
        delay_ms = inj.latency_ms + (self._rng.uniform(0.0, inj.jitter_ms) if inj.jitter_ms > 0 else 0.0)
        if delay_ms > 0:
            time.sleep(delay_ms / 1000.0)
        return forward(req)

    def _faults(self, req: LabRequest, forward: Forward) -> LabResponse:
        with self._lock:
            throttle = self.throttle.fire()
            error = not throttle and self.errors.fire()
        if throttle:
            return throttled(req)
        if error or req.operation in self.injected.fail_ops:
            return server_error(req)
        if req.operation in self.injected.lose_answer_ops:
            # Accepted and acted on (the models and the emulator see it), but the answer never reaches the
            # client: the ambiguous outcome of a dropped connection or a read timeout.
            resp = forward(req)
            resp.headers[DROP_HEADER] = "1"
            return resp
        return forward(req)

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
            "outages": sorted(self.injected.down),
            "latency": {"ms": self.injected.latency_ms, "jitter_ms": self.injected.jitter_ms},
            "faults": {
                "throttle_rate": self.throttle.rate,
                "error_rate": self.errors.rate,
                "fail": sorted(self.injected.fail_ops),
                "lose_answer": sorted(self.injected.lose_answer_ops),
            },
            "models": not isinstance(self.models, _NoModels),
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
                self.injected.latency_ms = max(float(body.get("ms", 0)), 0.0)
                self.injected.jitter_ms = max(float(body.get("jitter_ms", 0)), 0.0)
                return LabResponse.json(200, self.status())
            if (method, name) == ("POST", "faults"):
                with self._lock:
                    self.throttle.set(float(body.get("throttle_rate", 0.0)))
                    self.errors.set(float(body.get("error_rate", 0.0)))
                    self.injected.fail_ops = _operations(body.get("fail", []))
                    self.injected.lose_answer_ops = _operations(body.get("lose_answer", []))
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


def _operations(value: Any) -> set[str]:
    if not isinstance(value, list) or not all(
        isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9]+", v) for v in value
    ):
        raise ValueError("operations must be a list of AWS operation names, e.g. FailoverGlobalCluster")
    return set(value)


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
        if role in gw.injected.down:  # the socket is closing: answer nothing, like a dead region
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
