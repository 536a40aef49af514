"""The lab's background threads: a `Worker` runs one loop on a daemon thread until stopped; `Periodic` calls one
function at once and then every interval (the lab's refreshers)."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable


class Worker:
    """`run()` on a daemon thread named `name`; `run` loops until `stopping` is set. start() and stop() are
    idempotent; stop() waits up to `join_s` (default 5 s) for the loop to end."""

    def __init__(self, name: str, run: Callable[[], None], join_s: float = 5.0) -> None:
        self.name, self.run, self.join_s = name, run, join_s
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self.stopping.clear()
            self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self.join_s)
            self._thread = None


class Periodic(Worker):
    """`step()` at once, then every `interval_s`; an exception is printed (the gateway's log) and the next step
    comes as usual."""

    def __init__(self, name: str, step: Callable[[], None], interval_s: float) -> None:
        super().__init__(name, self._loop)
        self.step, self.interval_s = step, interval_s

    def _loop(self) -> None:
        while True:
            try:
                self.step()
            except Exception:
                traceback.print_exc()
            if self.stopping.wait(self.interval_s):
                return
