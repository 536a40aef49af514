"""`drctl deploy` and `drctl destroy`: Terraform, wrapped (the logic lives in drctl/deploy/)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from drctl.cli.app import app
from drctl.cli.ask import ask, confirm
from drctl.cli.options import YesOpt
from drctl.errors import DrctlError, ExitCode, Refused

if TYPE_CHECKING:
    from drctl.deploy.core import DeployRequest
    from drctl.deploy.plan import PlanSummary
    from drctl.deploy.tf import ApplyEvent

StackOpt = Annotated[
    Path | None, typer.Option("--stack", help="Stack file to write. Default: $DRCTL_HOME/stack.toml")
]
LabOpt = Annotated[bool, typer.Option("--lab", help="Deploy to the offline twin (starts it if needed).")]
TfDirOpt = Annotated[
    Path | None, typer.Option("--terraform-dir", help="The Terraform configuration. Example: ./terraform")
]
VarFileOpt = Annotated[
    Path | None,
    typer.Option("--var-file", help="Terraform variables as JSON. Example: --var-file prod.tfvars.json"),
]


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _CliUi:
    """Progress on stderr: one line per message, a [done/total] line per finished resource."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    def say(self, message: str) -> None:
        if not self.quiet:
            _err(message)

    def plan(self, summary: PlanSummary) -> None:
        counts = summary.counts
        if not counts:
            self.say("plan: no changes")
            return
        parts = [f"{n} to {action}" for action, n in sorted(counts.items())]
        self.say("plan: " + ", ".join(parts))
        for change in summary.destructive:
            self.say(f"  ! {change.action:<8} {change.address}")
        for refusal in summary.refusals:
            self.say(f"  REFUSED: {refusal}")

    def progress(self, done: int, total: int, event: ApplyEvent) -> None:
        live = sys.stderr.isatty()
        if live:
            sys.stderr.write("\r\033[K")  # clear the "working on" line
        if event.kind == "apply_start" and live:
            sys.stderr.write(f"[{done}/{total}] {event.action} {event.resource} ...")
            sys.stderr.flush()
        elif event.kind == "apply_complete":
            self.say(f"[{done}/{total}] {event.resource} ({event.action}) done")
        elif event.kind == "apply_errored":
            self.say(f"[{done}/{total}] {event.resource} FAILED")


APPROVAL_WORD = "yes"  # as `terraform apply` asks: only this word applies


def approval(where: str, workdir: Path) -> Callable[[PlanSummary], bool]:
    """Asks on stderr, after the plan summary, whether to apply it; refuses (exit 7) with no terminal to ask on."""

    def approve(summary: PlanSummary) -> bool:
        if not sys.stdin.isatty():
            raise Refused(
                "drctl deploy asks before it applies and there is no terminal to ask on",
                hint="nothing was applied; pass --yes to apply without asking (--plan-only shows the plan)",
            )
        planned = ", ".join(f"{n} to {action}" for action, n in sorted(summary.counts.items())) or "outputs only"
        _err(f"drctl deploy will apply this plan to {where} ({workdir}): {planned}.")
        if summary.destructive:
            _err(f"  including {len(summary.destructive)} destroy/replace (listed above with !)")
        return ask(f"Only '{APPROVAL_WORD}' applies. Apply?").lower() == APPROVAL_WORD  # end of input: no

    return approve


def _terraform_dir(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    from drctl.deploy.toolchain import terraform_source

    source = terraform_source()
    if source is None:
        raise DrctlError(
            "drctl's Terraform configuration is not installed", code=ExitCode.CONFIG, hint="pass --terraform-dir"
        )
    return source


def _pairs(items: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--backend-config")
        pairs[key] = value
    return pairs


def _user_vars(var_file: Path | None) -> dict[str, Any]:
    if var_file is None:
        return {}
    try:
        data = json.loads(var_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise DrctlError(
            f"cannot read {var_file}: {e}", code=ExitCode.CONFIG, hint="give a .tfvars.json file"
        ) from None
    if not isinstance(data, dict):
        raise DrctlError(f"{var_file}: expected a JSON object", code=ExitCode.CONFIG)
    return data


def _request(
    *, lab: bool, stack: Path | None, terraform_dir: Path | None, var_file: Path | None, **flags: Any
) -> DeployRequest:
    from drctl.deploy.core import DeployRequest
    from drctl.stack import resolve_stack_path

    source = _terraform_dir(terraform_dir)
    if not (source / "main.tf").exists():
        raise DrctlError(
            f"no Terraform configuration in {source}", code=ExitCode.CONFIG, hint="pass --terraform-dir"
        )
    stack_path = resolve_stack_path(stack)
    user = _user_vars(var_file)
    if lab:
        from drctl.deploy.labdeploy import lab_request

        return lab_request(source=source, stack_path=stack_path, user_variables=user, progress=_err, **flags)
    import os

    from drctl.aws.clients import ClientFactory
    from drctl.deploy.toolchain import copy_configuration, is_packaged
    from drctl.stack import AwsSettings, drctl_home

    # An installed drctl never runs terraform inside the package (site-packages): a working copy under
    # $DRCTL_HOME holds .terraform, the lock file and the local state.
    workdir = copy_configuration(source, drctl_home() / "terraform") if is_packaged(source) else source
    settings = AwsSettings(profile=os.environ.get("AWS_PROFILE"))
    section: dict[str, Any] = {"profile": settings.profile} if settings.profile else {}
    return DeployRequest(
        workdir=workdir,
        stack_path=stack_path,
        variables=user,
        aws_section=section,
        client=ClientFactory(settings).client,
        expected_account=flags.pop("account_id", None),
        **flags,
    )


@app.command()
def deploy(
    lab: LabOpt = False,
    stack: StackOpt = None,
    terraform_dir: TfDirOpt = None,
    var_file: VarFileOpt = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Treat terraform validate warnings as failures.")
    ] = False,
    allow_destructive: Annotated[
        bool,
        typer.Option(
            "--allow-destructive",
            help="Apply even if the plan destroys/replaces/detaches a database cluster or moves Route53 PRIMARY "
            "off the current writer (refused otherwise, exit 7).",
        ),
    ] = False,
    outputs_only: Annotated[
        bool, typer.Option("--outputs-only", help="Only rewrite the stack file from Terraform's outputs.")
    ] = False,
    plan_only: Annotated[
        bool,
        typer.Option(
            "--plan-only", help="Preflight and plan, print the summary, apply nothing (refusals still exit 7)."
        ),
    ] = False,
    account_id: Annotated[
        str | None, typer.Option("--account-id", help="Refuse unless the credentials are in this account.")
    ] = None,
    backend_config: Annotated[
        list[str] | None,
        typer.Option(
            "--backend-config", help="terraform init backend setting, repeatable. Example: bucket=tf-state"
        ),
    ] = None,
    upgrade: Annotated[
        bool, typer.Option("--upgrade", help="terraform init -upgrade (off: keep the lock).")
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help="Apply the plan without asking (needed without a terminal: CI, scripts; as terraform apply "
            "-auto-approve).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print only a JSON result on stdout.")] = False,
) -> None:
    """Preflight, plan (refusing destructive changes), show the summary, ask, apply with progress, write the
    stack file.

    It asks on stderr before it applies (type 'yes'); --yes skips the question; with no terminal and no --yes
    it applies nothing and exits 7. --plan-only never asks.

    Example: drctl deploy --lab    (the offline twin)   |   drctl deploy --var-file prod.tfvars.json --yes
    """
    from drctl.deploy.core import deploy as run_deploy

    flags: dict[str, Any] = {
        "strict": strict,
        "allow_destructive": allow_destructive,
        "outputs_only": outputs_only,
        "plan_only": plan_only,
        "upgrade": upgrade,
        "backend_config": _pairs(backend_config or []),
    }
    if account_id and not lab:
        flags["account_id"] = account_id
    req = _request(lab=lab, stack=stack, terraform_dir=terraform_dir, var_file=var_file, **flags)
    if not yes and not plan_only and not outputs_only:
        req.approve = approval("the offline twin" if lab else "AWS", req.workdir)
    result = run_deploy(req, _CliUi())
    counts = result.summary.counts if result.summary else {}
    if as_json:
        out: dict[str, Any] = {"stack": str(result.stack_path), "changed": result.changed, "plan": counts}
        if result.plan_only:
            out = {"plan_only": True, "workdir": str(req.workdir), "changed": result.changed, "plan": counts}
        typer.echo(json.dumps(out))
    elif result.plan_only:
        planned = ", ".join(f"{n} to {action}" for action, n in sorted(counts.items())) or "no changes"
        typer.echo(f"plan only ({req.workdir}): {planned}; nothing applied")
    else:
        typer.echo(
            f"deployed; stack file {result.stack_path}"
            if result.changed
            else f"no changes; stack file {result.stack_path}"
        )


@app.command()
def destroy(
    lab: LabOpt = False,
    terraform_dir: TfDirOpt = None,
    var_file: VarFileOpt = None,
    yes: YesOpt = False,
) -> None:
    """Destroy everything the stack's Terraform manages (labs, test environments). Example: drctl destroy --lab"""
    from drctl.deploy.core import destroy as run_destroy

    req = _request(lab=lab, stack=None, terraform_dir=terraform_dir, var_file=var_file)
    where = "the offline twin" if lab else "AWS"
    if not yes and not confirm(f"Destroy the whole stack in {where} ({req.workdir})?"):
        raise typer.Abort()
    run_destroy(req, _CliUi())
    typer.echo(f"destroyed the stack in {where}")
