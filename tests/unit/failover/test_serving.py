"""The "target serving" probe (drctl/failover/serving.py) against in-process loopback HTTP(S) servers.

The probe must send the record name as Host (and TLS SNI, certificate checked against it) to the address DNS
answered, wait through 503s for the expected status, say why when it gets none, and stop on Ctrl-C.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from drctl.failover import serving
from drctl.stack import ProbeSettings, Stack, parse_stack

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "stack.example.toml"
HOST = "app.payments.example.com"


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses  # answered in turn; the last one repeats
        self.seen: list[tuple[str, str | None]] = []  # (path, Host header)
        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class Handler(BaseHTTPRequestHandler):
    server: Server

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Host")))
        status = self.server.statuses.pop(0) if len(self.server.statuses) > 1 else self.server.statuses[0]
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server([200])
    threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield s
    s.shutdown()
    s.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed: connections are refused


def stack_with(url: str, **probe: object) -> Stack:
    data = tomllib.loads(EXAMPLE.read_text())
    data["probe"] = {"url": url, **probe}
    return parse_stack(data, Path("s.toml"))


def dns_answer(target: str, *addresses: str) -> dict:
    """verification.dns as _verify_dns returns it: one authoritative server answering the target's ALB."""
    records = [{"type": "A", "value": a, "ttl_s": 60} for a in addresses]
    return {"servers": [{"server": "127.0.0.1:5353", "verdict": "answered", "region": target, "records": records}]}


def fake_run(stack: Stack, *, remaining: float = 5.0) -> SimpleNamespace:
    milestones: list[tuple] = []
    return SimpleNamespace(
        stack=stack,
        target=stack.regions["us-west-2"],
        remaining=lambda: remaining,
        stop_event=threading.Event(),
        milestones=milestones,
        milestone=lambda name, source, *, at=None, **detail: milestones.append((name, source, at, detail)),
    )


def test_probe_sends_the_record_name_to_the_answered_address(server: Server) -> None:
    run = fake_run(stack_with(f"http://{HOST}:{server.port}/health"))
    result = serving.verify_serving(run, dns_answer("us-west-2", "127.0.0.1"))
    assert result["verdict"] == "verified", result
    assert result["status"] == 200 and result["addresses"] == ["127.0.0.1"]
    assert server.seen == [("/health", f"{HOST}:{server.port}")]  # Host = the public name, not the address
    [(name, source, at, detail)] = run.milestones
    assert name == "target serving" and at == result["served_at"]
    assert (
        source
        == f"HTTP 200 from 127.0.0.1 for GET http://{HOST}:{server.port}/health (probe through the public name)"
    )
    assert detail == {"status": 200, "address": "127.0.0.1"}


def test_probe_waits_through_503_until_the_expected_status(server: Server) -> None:
    server.statuses[:] = [503, 503, 204]
    run = fake_run(stack_with(f"http://{HOST}:{server.port}/health"))
    result = serving.verify_serving(run, dns_answer("us-west-2", "127.0.0.1"))
    assert result["verdict"] == "verified" and result["status"] == 204 and result["attempts"] == 3, result


def test_unexpected_status_until_the_bound_is_unverified_with_what_was_said(server: Server) -> None:
    server.statuses[:] = [503]
    # A bound of several attempts: on a loaded machine one attempt may outlast a shorter one.
    run = fake_run(stack_with(f"http://{HOST}:{server.port}/health", expect_status=200), remaining=3.0)
    result = serving.verify_serving(run, dns_answer("us-west-2", "127.0.0.1"))
    assert result["verdict"].startswith("unverified: no 200 within "), result
    assert result["verdict"].endswith("(127.0.0.1: HTTP 503)")
    assert run.milestones == []


def test_connection_refused_is_unverified_with_the_reason() -> None:
    run = fake_run(stack_with(f"http://{HOST}:{closed_port()}/health"), remaining=1.0)
    result = serving.verify_serving(run, dns_answer("us-west-2", "127.0.0.1"))
    assert result["verdict"].startswith("unverified: ") and "127.0.0.1: connection refused" in result["verdict"]
    assert run.milestones == []


def test_stop_event_ends_the_probe_at_once() -> None:
    run = fake_run(stack_with(f"http://{HOST}:{closed_port()}/health"), remaining=60.0)
    threading.Timer(0.2, run.stop_event.set).start()
    started = time.monotonic()
    result = serving.verify_serving(run, dns_answer("us-west-2", "127.0.0.1"))
    assert result["verdict"].startswith("unverified: stopped before an expected answer"), result
    assert time.monotonic() - started < 30  # not the 60 s bound


def test_not_probed_without_url_and_unverified_without_a_target_answer(server: Server) -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    plain = fake_run(parse_stack(data, Path("s.toml")))
    assert serving.verify_serving(plain, dns_answer("us-west-2", "127.0.0.1"))["verdict"] == serving.NOT_PROBED
    run = fake_run(stack_with(f"http://{HOST}:{server.port}/health"))
    result = serving.verify_serving(run, dns_answer("us-east-1", "127.0.0.1"))  # DNS still names the source
    assert result["verdict"].startswith("unverified: the authoritative servers did not answer us-west-2")
    assert server.seen == []  # nothing sent to the source's addresses


# --- https: SNI and the certificate checked against the record name -------------------------------------


def certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Server, Path, list[str | None]]]:
    cert, key = certificate(tmp_path, HOST)
    sni: list[str | None] = []
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.sni_callback = lambda sock, name, context: sni.append(name)
    s = Server([200])
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
    threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield s, cert, sni
    s.shutdown()
    s.server_close()


def test_https_sends_sni_and_checks_the_certificate_against_the_record_name(tls_server, tmp_path: Path) -> None:
    server, cert, sni = tls_server
    url = f"https://{HOST}:{server.port}/health"
    trusting = ssl.create_default_context(cafile=str(cert))
    attempt = serving.probe_once(url, "127.0.0.1", timeout_s=2, context=trusting)
    assert attempt.status == 200, attempt
    assert sni == [HOST] and server.seen == [("/health", f"{HOST}:{server.port}")]

    other, _ = certificate(tmp_path, "other.example.com")  # trusts a CA that did not sign the server's cert
    refused = serving.probe_once(
        url, "127.0.0.1", timeout_s=2, context=ssl.create_default_context(cafile=str(other))
    )
    assert refused.status is None and refused.error.startswith(f"TLS certificate not valid for {HOST}"), refused


def test_expected_statuses() -> None:
    settings = ProbeSettings(url=f"http://{HOST}/", expect_status=((200, 200), (300, 302)))
    assert [settings.expects(s) for s in (200, 204, 301, 503)] == [True, False, True, False]
    assert settings.expected_text() == "200, 300-302"
    assert ProbeSettings().expected_text() == "200-399"
