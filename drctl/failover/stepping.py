"""What every journaled run shares (failover, rejoin): a step journaled before and after it runs with the AWS
calls it made, the test kill hook, and Ctrl-C that stops between steps.

A step that ended ok in an earlier attempt (`prior`) is skipped on resume and its result reused; an unfinished
one runs again, and re-reads AWS to decide what is still needed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drctl.aws.errors import to_drctl_error
from drctl.errors import DrctlError, ExitCode
from drctl.failover.recorder import CallRecorder
from drctl.failover.waiting import Interrupted
from drctl.journal.events import StepEnded, StepStarted
from drctl.journal.log import Journal, RunLog

# Test-only: `DRCTL_TEST_KILL_AT=<step>:<before|after>` (or `promote:sent`) makes drctl SIGKILL itself there,
# so tests can prove that --resume recovers from a crash at every step boundary.
TEST_KILL_ENV = "DRCTL_TEST_KILL_AT"


class RunEnded(DrctlError):
    """A journaled run (failover, rejoin) that ended without completing: the error, plus the run's report, so
    the CLI can print the evidence before the one-line error."""

    def __init__(self, message: str, *, code: ExitCode, hint: str | None, report: Any) -> None:
        super().__init__(message, code=code, hint=hint)
        self.report = report


def test_kill_hook(point: str) -> None:
    if os.environ.get(TEST_KILL_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def run_step(
    name: str,
    fn: Callable[[], dict[str, Any]],
    *,
    journal: Journal,
    recorder: CallRecorder,
    results: dict[str, dict[str, Any]],
    stop: threading.Event,
    region: str,
    progress: Callable[[str], None],
    prior: RunLog | None = None,
    skip_done: bool = True,
) -> None:
    """Run one step: StepStarted, the step, StepEnded (outcome, elapsed, result, calls); its result lands in
    `results[name]`. AWS errors no step expected become one-line DrctlErrors naming the step."""
    if skip_done and prior is not None and name in prior.done:
        results[name] = prior.done[name].result or {}
        progress(f"{name}: done in an earlier attempt, skipped")
        return
    if stop.is_set():
        raise Interrupted(name)
    recorder.begin(name)
    journal.append(StepStarted(step=name))
    test_kill_hook(f"{name}:before")
    started = time.monotonic()
    outcome, error, result = "ok", None, {}
    try:
        result = fn()
    except Interrupted:
        outcome = "interrupted"
        raise
    except DrctlError as e:
        outcome, error = ("refused" if e.code == ExitCode.REFUSED else "failed"), str(e)
        raise
    except (ClientError, BotoCoreError) as e:  # an AWS error no step expected: one line, FAILED or auth
        outcome, error = "failed", f"{type(e).__name__}: {e}"
        op = getattr(e, "operation_name", name)
        raise to_drctl_error(e, action=f"{op} ({name} step)", region=region) from e
    except BaseException as e:
        outcome, error = "error", f"{type(e).__name__}: {e}"
        raise
    finally:
        calls = recorder.calls(name)
        journal.append(
            StepEnded(
                step=name,
                outcome=outcome,
                elapsed_s=round(time.monotonic() - started, 3),
                result=result,
                calls=calls,
                request_ids=[c["request_id"] for c in calls if c.get("request_id")],
                retries=sum(int(c.get("retries", 0)) for c in calls),
                error=error or "",
            )
        )
    results[name] = result
    test_kill_hook(f"{name}:after")


@contextlib.contextmanager
def ctrl_c(
    stop: threading.Event, progress: Callable[[str], None], run_id: str, command: str = "failover"
) -> Iterator[None]:
    """First Ctrl-C: finish the current step, then stop. Second Ctrl-C: stop now."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        stop.set()
        progress(f"Ctrl-C: stopping after the current step; resume with `drctl {command} --resume {run_id}`")
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
