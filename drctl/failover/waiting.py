"""Waiting for convergence: tenacity with a deadline, progress on stderr, stoppable by Ctrl-C."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_before_delay, wait_exponential

from drctl.aws.errors import error_code, worth_another_look
from drctl.errors import Failed

log = logging.getLogger("drctl.failover")
T = TypeVar("T")

PROGRESS_EVERY_S = 10.0


class NotYet(Exception):
    """The awaited state has not been reached; the message says what was seen."""


class Interrupted(Exception):
    """Ctrl-C while waiting: the step stops, the journal says it did not finish, --resume re-reads state."""


def wait_until(
    what: str,
    probe: Callable[[], T],
    *,
    deadline_s: float,
    stop_event: threading.Event | None = None,
    progress: Callable[[str], None] | None = None,
    max_interval_s: float = 2.0,
) -> T:
    """Call `probe` until it returns (it raises NotYet while waiting), within `deadline_s` seconds.

    AWS errors worth another look (throttling and 5xx left over after botocore's own retries, no answer, a
    transition in progress) are treated as "not yet"; anything else propagates at once.
    """

    last_seen, last_at = [""], [-PROGRESS_EVERY_S]

    def before_sleep(state: RetryCallState) -> None:
        if stop_event is not None and stop_event.is_set():
            raise Interrupted(what)
        exc = state.outcome.exception() if state.outcome else None
        elapsed = state.seconds_since_start or 0.0
        msg = f"waiting for {what}: {exc} ({elapsed:.1f}s)"
        log.info(msg)
        # On stderr only when what we see changes, or every PROGRESS_EVERY_S: polls are frequent.
        if progress is not None and (str(exc) != last_seen[0] or elapsed - last_at[0] >= PROGRESS_EVERY_S):
            progress(msg)
            last_seen[0], last_at[0] = str(exc), elapsed

    def guarded() -> T:
        try:
            return probe()
        except (ClientError, BotoCoreError) as e:
            if worth_another_look(e):
                raise NotYet(f"{error_code(e) or type(e).__name__} (transient)") from e
            raise

    retrying = Retrying(
        stop=stop_before_delay(max(deadline_s, 0.1)),
        wait=wait_exponential(multiplier=0.25, min=0.25, max=max_interval_s),
        retry=retry_if_exception_type(NotYet),
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(guarded)
    except NotYet as e:
        raise Failed(
            f"{what} did not happen within {deadline_s:.0f}s (last seen: {e})", hint="check `drctl status`"
        ) from None
