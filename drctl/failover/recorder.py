"""Records every AWS call a step makes (operation, region, request id, botocore retry count) for the journal.

Hooks botocore's `after-call` / `after-call-error` events on the clients the run uses, so no read or action
function has to pass request ids around. The current step is per thread (parallel steps run in threads).
"""

from __future__ import annotations

import threading
import time
from functools import partial
from typing import Any

from drctl.aws.clients import ClientFactory


class CallRecorder:
    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._calls: dict[str, list[dict[str, Any]]] = {}

    def begin(self, step: str) -> None:
        self._local.step = step
        with self._lock:
            self._calls[step] = []

    def calls(self, step: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._calls.get(step, []))

    def _add(self, call: dict[str, Any]) -> None:
        step = getattr(self._local, "step", None)
        if step is None:
            return
        with self._lock:
            self._calls.setdefault(step, []).append(call)

    def on_after_call(self, region: str, http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
        meta = parsed.get("ResponseMetadata", {}) if isinstance(parsed, dict) else {}
        call = {
            "at": round(time.time(), 3),
            "service": model.service_model.service_name,
            "operation": model.name,
            "region": region,
            "status": getattr(http_response, "status_code", None),
            "request_id": meta.get("RequestId", ""),
            "retries": int(meta.get("RetryAttempts", 0)),
        }
        err = parsed.get("Error", {}).get("Code") if isinstance(parsed, dict) else None
        if err:
            call["error"] = err
        self._add(call)

    def on_after_call_error(self, region: str, exception: BaseException, event_name: str = "", **_: Any) -> None:
        # botocore passes no operation model here: the event name is "after-call-error.<service>.<operation>".
        parts = event_name.split(".")
        self._add(
            {
                "at": round(time.time(), 3),
                "service": parts[1] if len(parts) > 2 else "",
                "operation": parts[2] if len(parts) > 2 else "",
                "region": region,
                "status": None,
                "request_id": "",
                "retries": 0,
                "error": type(exception).__name__,
            }
        )


class RecordingFactory:
    """A ClientFactory look-alike whose clients report their calls to a CallRecorder."""

    def __init__(self, factory: ClientFactory, recorder: CallRecorder) -> None:
        self.factory = factory
        self.settings = factory.settings
        self.recorder = recorder
        self._hooked: set[int] = set()
        self._lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        client = self.factory.client(service, region)
        with self._lock:
            if id(client) not in self._hooked:
                events = client.meta.events
                events.register("after-call", partial(self.recorder.on_after_call, region))
                events.register("after-call-error", partial(self.recorder.on_after_call_error, region))
                self._hooked.add(id(client))
        return client
