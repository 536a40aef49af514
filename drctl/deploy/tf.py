"""The one adapter around Terraform (python-terraform 0.10.1 on Terraform >= 1.11).

python-terraform builds every argv (`generate_cmd_string`, which works on current Terraform); drctl runs the
process itself, because the library's runner has no environment parameter (it copies os.environ), no timeout, no
streaming and leaks `-synchronous=false` into argv when asked not to wait. Its `destroy()` adds `-force` (gone
since Terraform 0.15) and `output(name)` is broken, so neither is used. Secrets never travel as variables: the
library writes those to temp `.tfvars.json` files with default permissions; the database password goes in the
process environment (TF_VAR_master_password) only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, IsNotFlagged, Terraform

from drctl.errors import DrctlError, ExitCode

MIN_VERSION = (1, 11, 0)  # write-only arguments (the database password) need 1.11
INSTALL_HINT = "install Terraform >= 1.11 (https://developer.hashicorp.com/terraform/install) and put it on PATH"
DEFAULT_TIMEOUT_S = 600.0
APPLY_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class ApplyEvent:
    """One line of `terraform apply -json`, reduced to what progress needs."""

    kind: str  # apply_start, apply_complete, apply_errored, change_summary, diagnostic, ...
    resource: str = ""
    action: str = ""
    message: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


class TerraformRunner:
    """Runs terraform in one working directory with a fixed environment."""

    def __init__(
        self,
        workdir: Path,
        *,
        env: Mapping[str, str],
        binary: str = "terraform",
        var_file: Path | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.env = dict(env)
        self.binary = binary
        self.var_file = var_file
        self.last_stderr = ""  # stderr of the last streamed command
        self._tf = Terraform(working_dir=str(self.workdir), terraform_bin_path=binary)

    # ---------------------------------------------------------------------------------------- argv
    def argv(self, cmd: str, *args: str, **options: Any) -> list[str]:
        """The argv python-terraform builds for `cmd` (options as in python-terraform: no_color=IsFlagged ...)."""
        built: list[str] = self._tf.generate_cmd_string(cmd, *args, **options)
        return built

    def _var_options(self) -> dict[str, Any]:
        return {"var_file": str(self.var_file)} if self.var_file else {}

    def init_argv(
        self,
        *,
        plugin_dir: Path | None = None,
        upgrade: bool = False,
        backend_config: Mapping[str, str] | None = None,
    ) -> list[str]:
        return self.argv(
            "init",
            input=False,
            no_color=IsFlagged,
            upgrade=IsFlagged if upgrade else IsNotFlagged,
            plugin_dir=str(plugin_dir) if plugin_dir else None,
            backend_config=dict(backend_config) if backend_config else None,
        )

    def validate_argv(self) -> list[str]:
        return self.argv("validate", json=IsFlagged, no_color=IsFlagged)

    def plan_argv(self, plan_file: str, *, destroy: bool = False) -> list[str]:
        return self.argv(
            "plan",
            input=False,
            no_color=IsFlagged,
            detailed_exitcode=IsFlagged,
            destroy=IsFlagged if destroy else IsNotFlagged,
            out=plan_file,
            **self._var_options(),
        )

    def show_argv(self, plan_file: str) -> list[str]:
        return self.argv("show", plan_file, json=IsFlagged, no_color=IsFlagged)

    def apply_argv(self, plan_file: str) -> list[str]:
        # A saved plan is applied without a prompt: no -auto-approve, no variables (they are in the plan).
        return self.argv("apply", plan_file, input=False, no_color=IsFlagged, json=IsFlagged)

    def output_argv(self) -> list[str]:
        return self.argv("output", json=IsFlagged, no_color=IsFlagged)

    def destroy_argv(self) -> list[str]:
        return self.argv("destroy", input=False, no_color=IsFlagged, auto_approve=IsFlagged, **self._var_options())

    # ------------------------------------------------------------------------------------- running
    def run(self, argv: list[str], *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Result:
        """Run argv to completion; a missing binary or a timeout is a one-line DrctlError."""
        try:
            proc = subprocess.run(
                argv,
                cwd=self.workdir,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise _missing_binary(self.binary) from None
        except subprocess.TimeoutExpired:
            raise DrctlError(
                f"terraform {argv[1]} did not finish within {timeout_s:.0f} s",
                code=ExitCode.TERRAFORM,
                hint=f"look at {self.workdir}; a lock may be held (terraform force-unlock)",
            ) from None
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def stream(
        self, argv: list[str], on_line: Callable[[str], None], *, timeout_s: float = APPLY_TIMEOUT_S
    ) -> int:
        """Run argv, calling on_line for each stdout line as it comes. Ctrl-C is passed on to terraform (which then
        stops gracefully: running operations finish, state is written) and re-raised once it has exited."""
        try:
            proc = subprocess.Popen(
                argv,
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # Ctrl-C reaches drctl only; drctl forwards one SIGINT
            )
        except FileNotFoundError:
            raise _missing_binary(self.binary) from None
        stderr_lines: list[str] = []
        err_reader = threading.Thread(target=lambda: stderr_lines.extend(proc.stderr or []), daemon=True)
        err_reader.start()
        timer = threading.Timer(timeout_s, proc.kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                on_line(line.rstrip("\n"))
            proc.wait()
        except KeyboardInterrupt:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
        finally:
            timer.cancel()
            err_reader.join(timeout=5)
        self.last_stderr = "".join(stderr_lines)
        return proc.returncode

    # ---------------------------------------------------------------------------------- operations
    def version(self) -> tuple[int, int, int]:
        """Terraform's version; too old (or no binary) is a one-line DrctlError saying what to install."""
        res = self.run(self.argv("version", json=IsFlagged), timeout_s=30)
        text = res.stdout
        try:
            found = json.loads(text).get("terraform_version", "")
        except json.JSONDecodeError:
            found = text
        m = re.search(r"(\d+)\.(\d+)\.(\d+)", found or "")
        if res.returncode != 0 or not m:
            raise DrctlError(
                f"cannot tell the version of {self.binary}: {(res.stderr or text).strip()[:200]}",
                code=ExitCode.TERRAFORM,
                hint=INSTALL_HINT,
            )
        got = (int(m[1]), int(m[2]), int(m[3]))
        if got < MIN_VERSION:
            floor = ".".join(map(str, MIN_VERSION))
            raise DrctlError(
                f"terraform {'.'.join(map(str, got))} is too old (drctl needs >= {floor})",
                code=ExitCode.TERRAFORM,
                hint=INSTALL_HINT,
            )
        return got

    def init(
        self,
        *,
        plugin_dir: Path | None = None,
        upgrade: bool = False,
        backend_config: Mapping[str, str] | None = None,
    ) -> None:
        res = self.run(self.init_argv(plugin_dir=plugin_dir, upgrade=upgrade, backend_config=backend_config))
        if res.returncode != 0:
            raise _failed("init", res)

    def validate(self) -> list[dict[str, Any]]:
        """Diagnostics of `terraform validate -json` (errors raise; warnings are returned)."""
        res = self.run(self.validate_argv())
        try:
            data = json.loads(res.stdout)
        except json.JSONDecodeError:
            raise _failed("validate", res) from None
        diags: list[dict[str, Any]] = data.get("diagnostics", [])
        errors = [d for d in diags if d.get("severity") == "error"]
        if errors or res.returncode != 0:
            raise DrctlError(
                f"terraform validate: {diag_line(errors[0]) if errors else res.stderr.strip()[:300]}",
                code=ExitCode.TERRAFORM,
                hint=f"fix the configuration in {self.workdir}",
            )
        return [d for d in diags if d.get("severity") == "warning"]

    def plan(self, plan_file: str, *, destroy: bool = False) -> bool:
        """Write a plan file; True when it has changes (-detailed-exitcode: 0 none, 2 changes, 1 error)."""
        res = self.run(self.plan_argv(plan_file, destroy=destroy), timeout_s=APPLY_TIMEOUT_S)
        if res.returncode not in (0, 2):
            raise _failed("plan", res)
        return res.returncode == 2

    def show_plan(self, plan_file: str) -> dict[str, Any]:
        res = self.run(self.show_argv(plan_file))
        if res.returncode != 0:
            raise _failed("show", res)
        shown: dict[str, Any] = json.loads(res.stdout)
        return shown

    def apply(self, plan_file: str, on_event: Callable[[ApplyEvent], None]) -> None:
        """Apply a saved plan, reporting each -json event; failure raises with Terraform's first error."""
        errors: list[str] = []

        def on_line(line: str) -> None:
            event = parse_event(line)
            if event is None:
                return
            if event.kind == "diagnostic" and event.raw.get("diagnostic", {}).get("severity") == "error":
                errors.append(event.message)
            on_event(event)

        rc = self.stream(self.apply_argv(plan_file), on_line)
        if rc != 0:
            detail = errors[0] if errors else (self.last_stderr.strip().splitlines() or ["unknown error"])[-1]
            raise DrctlError(
                f"terraform apply failed: {detail}",
                code=ExitCode.TERRAFORM,
                hint="the resources created so far are in the state; fix the cause and run drctl deploy again",
            )

    def outputs(self) -> dict[str, Any]:
        """All outputs, name -> value."""
        res = self.run(self.output_argv())
        if res.returncode != 0:
            raise _failed("output", res)
        raw: dict[str, Any] = json.loads(res.stdout or "{}")
        return {name: spec.get("value") for name, spec in raw.items()}

    def destroy(self, on_line: Callable[[str], None]) -> None:
        rc = self.stream(self.destroy_argv(), on_line)
        if rc != 0:
            raise DrctlError(
                f"terraform destroy failed: {self.last_stderr.strip()[-300:]}",
                code=ExitCode.TERRAFORM,
                hint="run drctl destroy again; what was destroyed is recorded in the state",
            )


def parse_event(line: str) -> ApplyEvent | None:
    """One `terraform apply -json` line -> ApplyEvent (None for lines that are not JSON objects)."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(raw, dict):
        return None
    hook = raw.get("hook") or {}
    resource = (hook.get("resource") or {}).get("addr", "")
    message = raw.get("@message", "")
    if raw.get("type") == "diagnostic":
        message = diag_line(raw.get("diagnostic", {}))
    return ApplyEvent(
        kind=str(raw.get("type", "")),
        resource=resource,
        action=str(hook.get("action", "")),
        message=message,
        raw=raw,
    )


def diag_line(diag: Mapping[str, Any]) -> str:
    summary = str(diag.get("summary", "")).strip()
    detail = " ".join(str(diag.get("detail", "")).split())
    where = diag.get("address") or (diag.get("range") or {}).get("filename", "")
    text = f"{summary}: {detail}" if detail else summary
    return f"{text} ({where})" if where else text


def _failed(what: str, res: Result) -> DrctlError:
    lines = [ln for ln in (res.stderr or res.stdout).splitlines() if ln.strip()]
    first = next((ln.strip("│ ").strip() for ln in lines if "Error" in ln), lines[0] if lines else "no output")
    return DrctlError(
        f"terraform {what} failed: {first[:300]}",
        code=ExitCode.TERRAFORM,
        hint="re-run with --debug, or run terraform in the working directory to see everything",
    )


def _missing_binary(binary: str) -> DrctlError:
    return DrctlError(f"{binary!r} not found on PATH", code=ExitCode.TERRAFORM, hint=INSTALL_HINT)


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files created inside are readable by their owner only."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)
