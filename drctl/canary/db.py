"""The canary's PostgreSQL side: endpoints, credentials, connections, the table's fixed shape.

Every connection passes the password to psycopg in-process (never PGPASSWORD, argv, a file or a log line), with
short timeouts: a broken writer must cost the canary seconds, not minutes. Errors a user can act on become one
typed line (drctl/errors.py): unreachable (6), rejected credentials (5), read-only or a foreign table (7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drctl.errors import AuthError, ConfigError, DrctlError, Refused, Unreachable

if TYPE_CHECKING:
    import psycopg

TABLE = "drctl_canary"
# The one shape drctl writes: (column, information_schema data_type), in order.
SHAPE: tuple[tuple[str, str], ...] = (
    ("run_id", "text"),
    ("seq", "bigint"),
    ("sent_at", "timestamp with time zone"),
    ("committed_at", "timestamp with time zone"),
)
CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (run_id text NOT NULL, seq bigint NOT NULL, "
    "sent_at timestamptz NOT NULL, committed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, seq))"
)
INSERT = f"INSERT INTO {TABLE} (run_id, seq, sent_at) VALUES (%s, %s, %s)"
SELECT_SEQS = f"SELECT seq FROM {TABLE} WHERE run_id = %s"

CONNECT_TIMEOUT_S = 2
STATEMENT_TIMEOUT_MS = 3000
# Unacknowledged data on the socket for this long breaks the connection (a partitioned server, not a dead one).
TCP_USER_TIMEOUT_MS = 3000


@dataclass(frozen=True)
class Endpoint:
    """A PostgreSQL host:port. A host name is resolved at each connection (an Aurora endpoint follows its
    writer by DNS): through `name_servers` ("host:port") when given, else by the system resolver (libpq's)."""

    host: str
    port: int
    name_servers: tuple[str, ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str, name_servers: tuple[str, ...] = ()) -> Endpoint:
        host, sep, port = text.strip().rpartition(":")
        if not sep:
            host, port = text.strip(), "5432"
        host = host.strip("[]")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ConfigError(f"endpoint {text!r} is not host:port", hint="e.g. --endpoint 127.0.0.1:5432")
        return cls(host, int(port), tuple(name_servers))

    def address(self) -> str | None:
        """The address to connect to, resolved through the name servers; None: libpq resolves `host` itself.
        A name the name servers do not know is a one-line error (exit 6)."""
        if not self.name_servers or _is_ip(self.host):
            return None
        from drctl.aws.dns import resolve_name

        found = resolve_name(self.host, self.name_servers)
        if not found:
            raise Unreachable(
                f"PostgreSQL {self}: {self.host} not found by the name servers {', '.join(self.name_servers)}",
                hint="check the endpoint's name and [canary] name_servers / [route53] name_servers",
            )
        return found[0]


@dataclass(frozen=True)
class Credentials:
    """A database user and its password; the password is never printed (repr hides it)."""

    user: str
    password: str = field(repr=False)
    source: str = ""  # where they came from, for messages: "secret arn:...", "environment", "stack file"


def connect(ep: Endpoint, database: str, creds: Credentials) -> psycopg.Connection[Any]:
    """An autocommit connection, or a one-line typed error."""
    import psycopg

    address = ep.address()
    try:
        return psycopg.connect(
            host=ep.host,
            hostaddr=address,  # None: dropped, libpq resolves host
            port=ep.port,
            dbname=database,
            user=creds.user,
            password=creds.password,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="drctl-canary",
            options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            tcp_user_timeout=TCP_USER_TIMEOUT_MS,
            keepalives=1,
            keepalives_idle=2,
            keepalives_interval=1,
            keepalives_count=2,
        )
    except psycopg.Error as e:
        raise connect_error(ep, database, creds, e) from None


def connect_error(ep: Endpoint, database: str, creds: Credentials, e: Exception) -> DrctlError:
    sqlstate = getattr(e, "sqlstate", None) or ""
    text = _first_line(e)
    if sqlstate.startswith("28") or "password authentication failed" in text:
        return AuthError(
            f"PostgreSQL {ep} rejected user {creds.user!r}",
            hint=f"check the canary's credentials ({creds.source or 'given'})",
        )
    if sqlstate == "42501":
        return AuthError(f"PostgreSQL {ep}: user {creds.user!r} may not do that: {text}", hint="grant it")
    if sqlstate == "3D000":
        return ConfigError(f"PostgreSQL {ep} has no database {database!r}", hint="check --database")
    return Unreachable(f"PostgreSQL {ep} does not answer: {text}", hint="check --endpoint and the network")


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _first_line(e: Exception) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return lines[0][:300] if lines else type(e).__name__


def read_only(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT current_setting('transaction_read_only') = 'on' OR pg_is_in_recovery()").fetchone()
    return bool(row and row[0])


def table_shape(conn: psycopg.Connection[Any]) -> tuple[tuple[str, str], ...] | None:
    """The canary table's columns as (name, data_type), or None when there is no such table."""
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (TABLE,),
    ).fetchall()
    return tuple((str(r[0]), str(r[1])) for r in rows) or None


def ensure_table(conn: psycopg.Connection[Any], ep: Endpoint) -> None:
    """Create the table if absent; refuse (exit 7, nothing dropped) when one of another shape is there."""
    shape = table_shape(conn)
    if shape is None:
        conn.execute(CREATE)
        shape = table_shape(conn)
    if shape != SHAPE:
        cols = ", ".join(f"{n} {t}" for n, t in shape or ())
        raise Refused(
            f"table {TABLE} on {ep} has another shape ({cols})",
            hint=f"nothing was changed; drop or rename it, or point the canary at another database "
            f"(expected {', '.join(n + ' ' + t for n, t in SHAPE)})",
        )


def open_writer(ep: Endpoint, database: str, creds: Credentials) -> psycopg.Connection[Any]:
    """A connection to a writable server with the canary table in place, or a one-line typed error."""
    import psycopg

    conn = connect(ep, database, creds)
    try:
        if read_only(conn):
            raise Refused(
                f"PostgreSQL {ep} is read-only (a standby, or default_transaction_read_only=on)",
                hint="point the canary at the writer endpoint; nothing was written",
            )
        ensure_table(conn, ep)
    except psycopg.Error as e:  # the server went away, or refused the statement (privileges)
        conn.close()
        raise connect_error(ep, database, creds, e) from None
    except BaseException:
        conn.close()
        raise
    return conn
