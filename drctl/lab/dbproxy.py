"""A loopback TCP proxy of the lab's, for its databases: a region's front port, and the WAL stream.

Each accepted connection is joined to the server `target()` names at that moment (a port on 127.0.0.1, or None:
the connection is closed at once). Bytes from the server to the client can be held back `delay_ms` (the WAL
stream's delay: real replication lag); bytes held back when the proxy is cut never arrive (real loss).
`close()` stops listening and cuts every connection, so clients are refused at once (a region in outage);
`open()` listens again on the same port.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import threading
import time
from collections.abc import Callable

CHUNK = 65536


class Proxy:
    def __init__(self, name: str, port: int, target: Callable[[], int | None], *, host: str = "127.0.0.1") -> None:
        self.name = name
        self.host = host  # a loopback address
        self.port = port
        self.target = target
        self.delay_ms = 0.0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self.accepted = 0

    @property
    def listening(self) -> bool:
        return self._listener is not None

    def open(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(64)
            self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), name=f"proxy-{self.name}", daemon=True).start()

    def close(self) -> None:
        """Refuse new connections and cut the open ones (what they had in flight is lost)."""
        with self._lock:
            sock, self._listener = self._listener, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.cut()

    def cut(self) -> None:
        """Cut the open connections, keep listening."""
        with self._lock:
            conns, self._conns = set(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            port = self.target()
            if port is None or self._listener is not listener:
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", port), timeout=2)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._listener is not listener:  # closed meanwhile
                    client.close()
                    server.close()
                    continue
                self._conns |= {client, server}
                self.accepted += 1
            self._pump(client, server, delayed=False)
            self._pump(server, client, delayed=True)

    def _pump(self, src: socket.socket, dst: socket.socket, *, delayed: bool) -> None:
        if not delayed:
            threading.Thread(target=self._copy, args=(src, dst), daemon=True).start()
            return
        held = _Held()
        threading.Thread(target=self._read_delayed, args=(src, dst, held), daemon=True).start()
        threading.Thread(target=self._send_delayed, args=(src, dst, held), daemon=True).start()

    def _copy(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(CHUNK):
                dst.sendall(data)
        except OSError:
            pass
        self._drop(src, dst)

    def _read_delayed(self, src: socket.socket, dst: socket.socket, held: _Held) -> None:
        try:
            while data := src.recv(CHUNK):
                held.put(time.monotonic() + self.delay_ms / 1000.0, data)
        except OSError:
            pass
        held.put(0.0, b"")  # end of stream: the sender closes after what is queued before it

    def _send_delayed(self, src: socket.socket, dst: socket.socket, held: _Held) -> None:
        try:
            while data := held.take():
                dst.sendall(data)
        except OSError:
            pass
        self._drop(src, dst)

    def _drop(self, *socks: socket.socket) -> None:
        with self._lock:
            self._conns -= set(socks)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


class _Held:
    """Bytes held back until they are due; b"" marks the end of the stream."""

    def __init__(self) -> None:
        self._queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self._ready = threading.Condition()

    def put(self, due: float, data: bytes) -> None:
        with self._ready:
            self._queue.append((due, data))
            self._ready.notify()

    def take(self) -> bytes:
        """The next chunk once it is due (b"": the stream ended)."""
        with self._ready:
            while True:
                while not self._queue:
                    self._ready.wait()
                due, data = self._queue[0]
                wait = due - time.monotonic()
                if data and wait > 0:
                    self._ready.wait(min(wait, 0.05))
                    continue
                self._queue.popleft()
                return data
