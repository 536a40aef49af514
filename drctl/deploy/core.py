"""`drctl deploy`: preflight, plan, plan summary with refusals, apply with progress, the stack file.

Terraform runs in `workdir`: the repository's terraform/ (or `--terraform-dir`) for a real deployment from a
checkout, a working copy under $DRCTL_HOME when drctl is installed (the packaged configuration is never written
to), or a copy with a generated lab override for the offline twin (drctl/deploy/labdeploy.py). The database
password is generated here, held in memory, and given to Terraform only through its process environment
(TF_VAR_master_password): never in a file, log or output.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from drctl.deploy.plan import PlanSummary, summarize_plan
from drctl.deploy.tf import ApplyEvent, TerraformRunner, diag_line, private_umask
from drctl.deploy.toolchain import init_plugin_dir, terraform_env
from drctl.errors import DrctlError, ExitCode, Refused
from drctl.stack import write_stack_file

# drctl's files live in <workdir>/.drctl/ (git-ignored): the variables, the saved plan.
DRCTL_DIR = ".drctl"
PLAN_FILE = f"{DRCTL_DIR}/drctl.tfplan"  # relative to the workdir, where terraform runs
VAR_FILE = f"{DRCTL_DIR}/drctl.tfvars.json"
DEFAULTS = {"primary_region": "us-east-1", "secondary_region": "us-west-2", "engine_version": "16.8"}


@dataclass
class DeployRequest:
    workdir: Path  # where terraform runs
    stack_path: Path  # the stack file to write
    variables: dict[str, Any] = field(default_factory=dict)  # non-secret Terraform variables
    aws_section: dict[str, Any] = field(default_factory=dict)  # the stack file's [aws] table
    route53_extra: dict[str, Any] = field(default_factory=dict)  # added to [route53] (the lab's name_servers)
    # Tables added to the stack file, made from its mapping (the lab's [probe], which names the record name)
    extra_tables: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    client: Callable[[str, str], Any] | None = None  # boto3 client maker for preflight (None: skip preflight)
    expected_account: str | None = None
    strict: bool = False
    allow_destructive: bool = False
    outputs_only: bool = False
    plan_only: bool = False  # init, validate, preflight, plan and its summary; nothing applied, no stack file
    binary: str = "terraform"
    backend_config: dict[str, str] = field(default_factory=dict)  # terraform init -backend-config=K=V
    upgrade: bool = False  # terraform init -upgrade
    # Asked after the plan summary, before anything is applied, when the plan changes something: False (or an
    # error it raises) applies nothing. None applies without asking (`--yes`, the lab demo).
    approve: Callable[[PlanSummary], bool] | None = None


@dataclass
class DeployResult:
    stack_path: Path
    changed: bool
    summary: PlanSummary | None
    warnings: list[str]
    plan_only: bool = False  # nothing was applied and the stack file was not written


class Ui(Protocol):
    """What deploy tells people; the CLI renders it (stderr), tests record it."""

    def say(self, message: str) -> None: ...

    def plan(self, summary: PlanSummary) -> None: ...

    def progress(self, done: int, total: int, event: ApplyEvent) -> None: ...


def make_runner(req: DeployRequest, *, password: str | None = None) -> TerraformRunner:
    workdir = req.workdir.resolve()  # terraform runs there: every path it is given must be absolute
    env = terraform_env()  # the user's TF_CLI_CONFIG_FILE stays in force: drctl writes no CLI configuration
    env.pop("TF_LOG", None)  # a debug log would record the password sent to RDS
    if password:
        env["TF_VAR_master_password"] = password
    return TerraformRunner(workdir, env=env, binary=req.binary, var_file=workdir / VAR_FILE)


def _write_var_file(req: DeployRequest, variables: Mapping[str, Any]) -> None:
    with private_umask():
        path = req.workdir / VAR_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(dict(variables), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def write_stack_from_outputs(outputs: Mapping[str, Any], req: DeployRequest) -> Path:
    """The stack file from the `drctl_stack` output plus the [aws] table, written atomically."""
    stack = outputs.get("drctl_stack")
    if not isinstance(stack, dict):
        raise DrctlError(
            "terraform has no drctl_stack output",
            code=ExitCode.TERRAFORM,
            hint="deploy first (drctl deploy), or check that the configuration is drctl's terraform/",
        )
    data = dict(stack)
    if req.aws_section:
        data["aws"] = dict(req.aws_section)
    if req.route53_extra and isinstance(data.get("route53"), dict):
        data["route53"] = {**data["route53"], **req.route53_extra}
    if req.extra_tables is not None:
        data.update(req.extra_tables(data))
    return write_stack_file(data, req.stack_path)


def deploy(req: DeployRequest, ui: Ui) -> DeployResult:
    """Plan and apply the stack (or only refresh the stack file), refusing destructive changes unless allowed."""
    variables = {**DEFAULTS, **req.variables}
    regions = (str(variables["primary_region"]), str(variables["secondary_region"]))
    password = secrets.token_urlsafe(24)  # only sent when the cluster is created or the version changes
    runner = make_runner(req, password=password)
    runner.version()
    if req.outputs_only:
        ui.say("reading terraform outputs")
        path = write_stack_from_outputs(runner.outputs(), req)
        ui.say(f"stack file written: {path}")
        return DeployResult(path, False, None, [])

    _write_var_file(req, variables)
    ui.say("terraform init")
    runner.init(plugin_dir=init_plugin_dir(), backend_config=req.backend_config, upgrade=req.upgrade)
    warnings = [_diag_text(d) for d in runner.validate()]
    for w in warnings:
        ui.say(f"warning: {w}")
    if warnings and req.strict:
        raise DrctlError(
            f"terraform validate reported {len(warnings)} warning(s), refused with --strict: {warnings[0]}",
            code=ExitCode.REFUSED,
            hint="fix the deprecated or questionable arguments, or deploy without --strict",
        )

    if req.client is not None:
        from drctl.deploy.preflight import run_preflight

        global_id = f"{variables.get('name', 'payments')}-{variables.get('environment', 'prod')}"
        global_id += f"{variables.get('environment_suffix', '')}-global"
        pre = run_preflight(
            req.client,
            regions=regions,
            engine_version=str(variables["engine_version"]),
            expected_account=req.expected_account,
            global_cluster_id=global_id,
            say=ui.say,
        )
        if pre.writer_region and "writer_region" not in req.variables:
            variables["writer_region"] = pre.writer_region
            _write_var_file(req, variables)
    writer = str(variables.get("writer_region") or regions[0])

    ui.say("terraform plan")
    changed = runner.plan(PLAN_FILE)
    summary = summarize_plan(runner.show_plan(PLAN_FILE), writer_region=writer)
    ui.plan(summary)
    if summary.refusals and not req.allow_destructive:
        raise DrctlError(
            f"the plan would {summary.refusals[0]}"
            + (f" (and {len(summary.refusals) - 1} more)" if len(summary.refusals) > 1 else ""),
            code=ExitCode.REFUSED,
            hint="nothing was changed; review the plan, then re-run with --allow-destructive if this is intended",
        )
    if req.plan_only:
        ui.say("plan only: nothing applied")
        return DeployResult(req.stack_path, changed, summary, warnings, plan_only=True)

    if changed and req.approve is not None and not req.approve(summary):
        raise Refused("the plan was not approved", hint="nothing was applied")
    if changed:  # resources, or only outputs (applied too, so that the outputs are current)
        total = summary.total
        done = 0

        def on_event(event: ApplyEvent) -> None:
            nonlocal done
            if event.kind == "apply_complete":
                done += 1
            if event.kind in ("apply_start", "apply_complete", "apply_errored"):
                ui.progress(done, total, event)

        try:
            runner.apply(PLAN_FILE, on_event)
        except KeyboardInterrupt:
            raise DrctlError(
                f"interrupted: terraform stopped after {done} of {total} changes and saved its state",
                code=ExitCode.INTERRUPTED,
                hint="run drctl deploy again to finish; it plans from the saved state",
            ) from None
    if summary.total == 0:
        ui.say("no changes")

    path = write_stack_from_outputs(runner.outputs(), req)
    ui.say(f"stack file written: {path}")
    return DeployResult(path, summary.total > 0, summary, warnings)


def destroy(req: DeployRequest, ui: Ui) -> None:
    """Destroy everything the configuration manages (labs and test environments)."""
    variables = {**DEFAULTS, **req.variables}
    runner = make_runner(req, password=secrets.token_urlsafe(24))  # required by the configuration, never sent
    runner.version()
    _write_var_file(req, variables)
    runner.init(plugin_dir=init_plugin_dir(), backend_config=req.backend_config, upgrade=req.upgrade)
    if req.client is not None:
        detach_readers_before_destroy(req.client, variables, ui)
    try:
        runner.destroy(lambda line: ui.say(line) if "Destroy" in line or "Error" in line else None)
    except KeyboardInterrupt:
        raise DrctlError(
            "interrupted: terraform stopped and saved its state",
            code=ExitCode.INTERRUPTED,
            hint="run drctl destroy again to finish",
        ) from None


DETACH_WAIT_S = 300.0  # RemoveFromGlobalCluster takes effect within minutes on AWS


class _Clients:
    """A `client(service, region)` callable as the clients object an ApiCall sends with."""

    def __init__(self, client: Callable[[str, str], Any]) -> None:
        self._client = client

    def client(self, service: str, region: str) -> Any:
        return self._client(service, region)


def detach_readers_before_destroy(client: Callable[[str, str], Any], variables: Mapping[str, Any], ui: Ui) -> None:
    """Remove the global cluster's readers first. Terraform destroys the secondary member first (it depends on the
    primary), which AWS refuses while that member is the writer (after a failover) and readers remain."""
    from botocore.exceptions import BotoCoreError, ClientError

    from drctl.aws.rds import arn_region, describe_global_cluster
    from drctl.aws.rds_actions import detach_and_promote

    global_id = f"{variables.get('name', 'payments')}-{variables.get('environment', 'prod')}"
    global_id += f"{variables.get('environment_suffix', '')}-global"
    region = str(variables["primary_region"])
    try:
        cluster = describe_global_cluster(client("rds", region), global_id)
    except (BotoCoreError, ClientError, IndexError):
        return  # nothing to detach (already gone, or unreadable: terraform will say)
    readers = [m for m in cluster.members if not m.is_writer]
    for member in readers:
        ui.say(f"destroy: detaching reader {member.cluster_id} from {global_id}")
        # the same RemoveFromGlobalCluster call: the reader becomes a standalone cluster, destroyed next
        detach_and_promote(arn_region(member.cluster_arn), global_id, member.cluster_arn).send(_Clients(client))
    # AWS detaches asynchronously: Terraform's RemoveFromGlobalCluster of the writer is refused while a reader
    # is still listed, so wait (bounded) until none is.
    deadline = time.monotonic() + DETACH_WAIT_S
    while readers and time.monotonic() < deadline:
        try:
            left = [
                m for m in describe_global_cluster(client("rds", region), global_id).members if not m.is_writer
            ]
        except (BotoCoreError, ClientError, IndexError):
            return
        if not left:
            return
        time.sleep(1.0)


def _diag_text(diag: Mapping[str, Any]) -> str:
    return diag_line(diag)
