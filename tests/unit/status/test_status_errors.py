"""Bad input to `drctl status`: each case is one line on stderr and its documented exit code."""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from drctl.cli.app import run
from drctl.errors import ExitCode
from drctl.stack import write_stack_file

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "stack.example.toml"


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text())


def stack_at(tmp_path: Path, url: str, *, static: bool = True) -> Path:
    data = example()
    aws = data.setdefault("aws", {})
    aws.update(connect_timeout_s=1, read_timeout_s=2, max_attempts=1)
    data["route53"]["burst"] = 10  # these tests are about errors: no client-side wait for GetHealthCheckStatus
    aws["endpoints"] = {"us-east-1": url, "us-west-2": url, "global": url}
    if static:
        aws["static_credentials"] = {"access_key_id": "test", "secret_access_key": "test"}
    return write_stack_file(data, tmp_path / "stack.toml")


class _Refuse(BaseHTTPRequestHandler):
    """Answers every AWS call with an auth error (query/rest-xml body; x-amzn-ErrorType for JSON protocols)."""

    code = "AccessDenied"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{self.code}</Code><Message>not allowed</Message></Error>"
            "<RequestId>req-1</RequestId></ErrorResponse>"
        ).encode()
        self.send_response(403)
        self.send_header("Content-Type", "text/xml")
        self.send_header("x-amzn-ErrorType", f"{self.code}Exception")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    request_queue_size = 64  # status opens ~30 connections at once; the default 5 drops SYNs (1 s retry)
    daemon_threads = True


@pytest.fixture
def refusing(request: pytest.FixtureRequest) -> Iterator[str]:
    handler = type("Handler", (_Refuse,), {"code": getattr(request, "param", "AccessDenied")})
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("drctl: error: "), captured.err
    return lines[0]


def test_missing_stack_file(tmp_path, capsys) -> None:
    assert run(["status", "--stack", str(tmp_path / "nope.toml")]) == ExitCode.CONFIG
    assert "nope.toml not found" in one_line_error(capsys)


def test_missing_stack_file_from_drctl_home(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("DRCTL_STACK", raising=False)
    monkeypatch.setenv("DRCTL_HOME", str(tmp_path))
    assert run(["status"]) == ExitCode.CONFIG
    assert f"{tmp_path / 'stack.toml'} not found" in one_line_error(capsys)


def test_malformed_toml(tmp_path, capsys) -> None:
    bad = tmp_path / "stack.toml"
    bad.write_text('name = "x"\n[regions\n')
    assert run(["status", "--stack", str(bad)]) == ExitCode.CONFIG
    assert "not valid TOML" in one_line_error(capsys)


def test_unknown_region(tmp_path, capsys) -> None:
    text = EXAMPLE.read_text().replace("[regions.us-west-2]", "[regions.mars-west-2a]")
    (tmp_path / "stack.toml").write_text(text)
    assert run(["status", "--stack", str(tmp_path / "stack.toml")]) == ExitCode.CONFIG
    assert "'mars-west-2a' is not an AWS region name" in one_line_error(capsys)


def test_missing_key(tmp_path, capsys) -> None:
    text = EXAMPLE.read_text().replace('asg_name = "payments-prod-usw2"\n', "")
    (tmp_path / "stack.toml").write_text(text)
    assert run(["status", "--stack", str(tmp_path / "stack.toml")]) == ExitCode.CONFIG
    line = one_line_error(capsys)
    assert (
        "regions.us-west-2.asg_name: missing: the compute tier is half-described" in line and "stack.toml" in line
    )


def test_no_credentials(tmp_path, capsys, monkeypatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # Nothing listens there: the command must stop at signing, before any connection.
    stack = stack_at(tmp_path, "http://127.0.0.1:9", static=False)
    assert run(["status", "--stack", str(stack), "--timeout", "5"]) == ExitCode.AWS_AUTH
    assert "no AWS credentials found" in one_line_error(capsys)


def test_access_denied_names_the_action(tmp_path, capsys, refusing) -> None:
    stack = stack_at(tmp_path, refusing)
    assert run(["status", "--stack", str(stack), "--timeout", "5"]) == ExitCode.AWS_AUTH
    line = one_line_error(capsys)
    assert "access denied for rds:DescribeGlobalClusters in us-east-1" in line
    assert "grant rds:DescribeGlobalClusters" in line


@pytest.mark.parametrize("refusing", ["ExpiredToken"], indirect=True)
def test_expired_token(tmp_path, capsys, refusing) -> None:
    stack = stack_at(tmp_path, refusing)
    assert run(["status", "--stack", str(stack), "--timeout", "5"]) == ExitCode.AWS_AUTH
    assert "AWS credentials have expired" in one_line_error(capsys)


def test_watch_and_json_together_is_a_usage_error(tmp_path, capsys) -> None:
    stack = stack_at(tmp_path, "http://127.0.0.1:9")
    assert run(["status", "--stack", str(stack), "--json", "--watch"]) == ExitCode.USAGE
    assert "--watch and --json" in one_line_error(capsys)


def test_nothing_answers_is_unreachable(tmp_path, capsys) -> None:
    stack = stack_at(tmp_path, "http://127.0.0.1:9")  # discard port: connection refused
    assert run(["status", "--stack", str(stack), "--timeout", "3"]) == ExitCode.UNREACHABLE
    assert "no AWS endpoint answered within 3s" in one_line_error(capsys)
