"""The run lock: a local lock file (O_EXCL) plus a conditional write in the target region's lock table.

The target region is the one that stays up, so the lock never depends on the failed region. A run that was
killed keeps its lock (and its expiry bounds that); `--resume` of the same run takes it back; a different
operator gets ExitCode.LOCKED naming the holder and run, and may `--break-lock` after confirmation.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from drctl.aws import dynamodb, dynamodb_actions
from drctl.aws.calls import ApiCall
from drctl.aws.dynamodb import LockItem
from drctl.aws.errors import error_code, to_drctl_error
from drctl.errors import Locked
from drctl.failover.observe import Clients
from drctl.failover.plan import lock_calls
from drctl.stack import RegionStack, Stack, drctl_home

MIN_LOCK_S = 3600.0


def holder_name() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def _locked(holder: str, pid: int, run_id: str, where: str) -> Locked:
    return Locked(
        f"another failover holds the lock ({where}): {holder} pid {pid}, run {run_id}",
        hint=f"wait for it; if it is your crashed run, `drctl failover --resume {run_id}`; "
        "if its holder is gone, re-run with --break-lock",
    )


class RunLock:
    def __init__(self, stack: Stack, factory: Clients, region: RegionStack, run_id: str) -> None:
        self.stack, self.factory, self.region, self.run_id = stack, factory, region, run_id
        self.lock_id = f"drctl-failover/{stack.global_cluster_id}"
        self.local_path = drctl_home() / "locks" / f"{stack.name}.lock"
        self.item = LockItem(
            lock_id=self.lock_id,
            holder=holder_name(),
            pid=os.getpid(),
            run_id=run_id,
            expires_at=time.time() + max(MIN_LOCK_S, 2 * stack.objectives.rto_s),
            acquired_at=time.time(),
        )
        self._held_local = self._held_remote = False

    @property
    def table(self) -> str:
        return self.region.lock_table

    def _ddb(self) -> Any:
        return self.factory.client("dynamodb", self.region.name)

    def calls(self) -> tuple[ApiCall, ApiCall]:
        """The PutItem that takes this lock and the DeleteItem that releases it (the dry run lists them)."""
        return lock_calls(self.region, self.item)

    def holder(self) -> LockItem | None:
        """Who holds the remote lock now (None if free or no lock table)."""
        return dynamodb.read_lock(self._ddb(), self.table, self.lock_id) if self.table else None

    def acquire(self, *, break_lock: bool = False) -> None:
        if break_lock:
            self.break_existing()
        self._acquire_local()
        try:
            self._acquire_remote()
        except BaseException:
            self._release_local()
            raise

    def break_existing(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.local_path.unlink()
        if self.table:
            try:
                dynamodb_actions.break_lock(self.region.name, self.table, self.lock_id).send(self.factory)
            except Exception as e:
                raise to_drctl_error(e, action="DeleteItem (break lock)", region=self.region.name) from e

    def _acquire_local(self) -> None:
        self.local_path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"holder": self.item.holder, "pid": self.item.pid, "run_id": self.run_id})
        try:
            fd = os.open(self.local_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            other = _read_local(self.local_path)
            if other.get("run_id") != self.run_id:
                raise _locked(
                    str(other.get("holder", "?")),
                    int(other.get("pid", 0)),
                    str(other.get("run_id", "?")),
                    f"local {self.local_path}",
                ) from None
            self.local_path.write_text(data, encoding="utf-8")  # our own run, resumed: take it back
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
        self._held_local = True

    def _acquire_remote(self) -> None:
        if not self.table:
            return  # stack without a lock table: local lock only (said in the plan)
        take, _ = self.calls()
        try:
            take.send(self.factory)
        except Exception as e:
            if error_code(e) == "ConditionalCheckFailedException":
                other = self.holder()
                if other is None:  # released between our write and read: one more try, no loop
                    take.send(self.factory)
                    self._held_remote = True
                    return
                where = f"DynamoDB {self.table} in {self.region.name}"
                raise _locked(other.holder, other.pid, other.run_id, where) from None
            raise to_drctl_error(e, action="PutItem (run lock)", region=self.region.name) from e
        self._held_remote = True

    def release(self) -> None:
        """Best effort: a lock left behind expires, and the next run names it."""
        if self._held_remote:
            with contextlib.suppress(Exception):
                self.calls()[1].send(self.factory)
            self._held_remote = False
        self._release_local()

    def _release_local(self) -> None:
        if self._held_local:
            if _read_local(self.local_path).get("run_id") == self.run_id:
                with contextlib.suppress(FileNotFoundError):
                    self.local_path.unlink()
            self._held_local = False


def _read_local(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, json.JSONDecodeError):
        return {}
