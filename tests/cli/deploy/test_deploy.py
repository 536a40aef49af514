"""drctl deploy against a fake `terraform` on PATH: argv, failures, Ctrl-C, refusals, stack file, secrets."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from drctl.deploy import core, toolchain
from drctl.deploy.core import DeployRequest, deploy
from drctl.deploy.plan import PlanSummary
from drctl.deploy.tf import ApplyEvent, TerraformRunner
from drctl.errors import DrctlError, ExitCode
from drctl.stack import load_stack

FAKE = Path(__file__).with_name("fake_terraform.py")
SECRET = "SENTINEL-deploy-password-1b2c3d"


class RecordingUi:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.progress_seen: list[tuple[int, int, str]] = []

    def say(self, message: str) -> None:
        self.lines.append(message)

    def plan(self, summary: PlanSummary) -> None:
        self.lines.append(f"plan {summary.counts} refusals={summary.refusals}")

    def progress(self, done: int, total: int, event: ApplyEvent) -> None:
        self.progress_seen.append((done, total, event.kind))


@pytest.fixture
def fake_tf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`terraform` on PATH is the fake; returns its call log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "terraform"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    wrapper.chmod(0o755)
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    monkeypatch.setenv("FAKE_TF_LOG", str(log))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TF_PLUGIN_DIR", str(tmp_path / "no-mirror"))
    # no mirror of the machine's may leak in: every place discovery looks is under tmp_path
    monkeypatch.delenv("TF_CLI_CONFIG_FILE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-home"))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "xdg-dirs"))
    monkeypatch.setattr(toolchain, "ADDON_ROOT", tmp_path / "addons")
    monkeypatch.setattr(core.secrets, "token_urlsafe", lambda n: SECRET)
    return log


def calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def commands(log: Path) -> list[str]:
    return [c["argv"][0] for c in calls(log) if "argv" in c]


def request(tmp_path: Path, **kw: Any) -> DeployRequest:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (work / "main.tf").write_text("# placeholder\n")
    return DeployRequest(workdir=work, stack_path=tmp_path / "home" / "stack.toml", **kw)


# ------------------------------------------------------------------------------------------------ argv


def test_terraform_argv_is_pinned(tmp_path: Path) -> None:
    r = TerraformRunner(tmp_path, env={}, var_file=tmp_path / "v.json")
    v = f"-var-file={tmp_path / 'v.json'}"
    assert r.init_argv() == ["terraform", "init", "-input=false", "-no-color"]
    assert r.init_argv(plugin_dir=Path("/m"), upgrade=True) == [
        *("terraform", "init", "-input=false", "-no-color", "-upgrade", "-plugin-dir=/m")
    ]
    assert r.init_argv(backend_config={"bucket": "tf-state", "region": "us-east-1"}) == [
        *("terraform", "init", "-input=false", "-no-color"),
        *("-backend-config=bucket=tf-state", "-backend-config=region=us-east-1"),
    ]
    assert r.validate_argv() == ["terraform", "validate", "-json", "-no-color"]
    assert r.plan_argv("p.tfplan") == [
        *("terraform", "plan", "-input=false", "-no-color", "-detailed-exitcode", "-out=p.tfplan", v)
    ]
    assert r.show_argv("p.tfplan") == ["terraform", "show", "-json", "-no-color", "p.tfplan"]
    assert r.apply_argv("p.tfplan") == ["terraform", "apply", "-input=false", "-no-color", "-json", "p.tfplan"]
    assert r.output_argv() == ["terraform", "output", "-json", "-no-color"]
    assert r.destroy_argv() == ["terraform", "destroy", "-input=false", "-no-color", "-auto-approve", v]
    assert not any("-force" in a or "synchronous" in a for a in r.destroy_argv() + r.apply_argv("p"))


# ------------------------------------------------------------------------------------- happy paths


def test_deploy_applies_with_progress_and_writes_the_stack(fake_tf: Path, tmp_path: Path) -> None:
    ui = RecordingUi()
    aws = {"endpoints": {"us-east-1": "http://127.0.0.1:1"}, "static_credentials": {"access_key_id": "test"}}
    extra = {"name_servers": ["127.0.0.1:4714"]}  # what `deploy --lab` adds: the lab's DNS server
    probe = lambda data: {"probe": {"url": f"http://{data['route53']['record_name']}:4715/health"}}  # noqa: E731
    result = deploy(request(tmp_path, aws_section=aws, route53_extra=extra, extra_tables=probe), ui)
    assert result.changed
    assert commands(fake_tf) == ["version", "init", "validate", "plan", "show", "apply", "output"]
    assert [p for p in ui.progress_seen if p[2] == "apply_complete"] == [
        (1, 3, "apply_complete"),
        (2, 3, "apply_complete"),
        (3, 3, "apply_complete"),
    ]
    stack = load_stack(result.stack_path)
    assert stack.name == "payments-test" and stack.primary.name == "us-east-1"
    assert stack.aws.endpoints == {"us-east-1": "http://127.0.0.1:1"}
    assert stack.name_servers == ("127.0.0.1:4714",) and stack.record_name
    assert stack.probe.url == f"http://{stack.record_name}:4715/health"  # ... and the lab's [probe]


def test_no_changes_skips_apply(fake_tf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_TF_MODE", "no_changes")
    ui = RecordingUi()
    result = deploy(request(tmp_path), ui)
    assert not result.changed and "no changes" in ui.lines
    assert "apply" not in commands(fake_tf)
    assert result.stack_path.exists()


def test_outputs_only_refreshes_the_stack_file_without_planning(fake_tf: Path, tmp_path: Path) -> None:
    result = deploy(request(tmp_path, outputs_only=True), RecordingUi())
    assert commands(fake_tf) == ["version", "output"]
    assert load_stack(result.stack_path).global_cluster_id == "payments-test-global"


# ---------------------------------------------------------------------------------------- failures


def test_missing_terraform_is_one_line_with_what_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(DrctlError) as e:
        deploy(request(tmp_path), RecordingUi())
    assert e.value.code == ExitCode.TERRAFORM
    assert "not found" in e.value.message and "install Terraform >= 1.11" in (e.value.hint or "")


def test_old_terraform_is_refused(fake_tf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_TF_MODE", "old")
    with pytest.raises(DrctlError) as e:
        deploy(request(tmp_path), RecordingUi())
    assert e.value.code == ExitCode.TERRAFORM and "1.5.7 is too old" in e.value.message
    assert commands(fake_tf) == ["version"]


def test_plan_failure_names_terraforms_error(fake_tf: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_TF_MODE", "plan_fail")
    with pytest.raises(DrctlError) as e:
        deploy(request(tmp_path), RecordingUi())
    assert e.value.code == ExitCode.TERRAFORM and "Invalid provider configuration" in e.value.message
    assert "apply" not in commands(fake_tf)


def test_apply_failure_mid_way_names_the_resource_and_writes_no_stack(
    fake_tf: Path, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("FAKE_TF_MODE", "apply_fail")
    ui = RecordingUi()
    req = request(tmp_path)
    with pytest.raises(DrctlError) as e:
        deploy(req, ui)
    assert e.value.code == ExitCode.TERRAFORM
    assert "creating KMS Key" in e.value.message and "module.primary.aws_kms_key.this" in e.value.message
    assert (1, 3, "apply_complete") in ui.progress_seen
    assert not req.stack_path.exists()


def test_strict_turns_validate_warnings_into_a_refusal(fake_tf: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_TF_MODE", "warn")
    ui = RecordingUi()
    deploy(request(tmp_path), ui)
    assert any(line.startswith("warning: Deprecated argument") for line in ui.lines)
    with pytest.raises(DrctlError) as e:
        deploy(request(tmp_path, strict=True), RecordingUi())
    assert e.value.code == ExitCode.REFUSED and "Deprecated argument" in e.value.message


def _plan_with(*changes: dict[str, Any]) -> str:
    return json.dumps({"resource_changes": [{"mode": "managed", **c} for c in changes]})


def test_destroying_a_member_cluster_is_refused_unless_allowed(fake_tf: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(
        "FAKE_TF_PLAN",
        _plan_with(
            {
                "address": "module.secondary.aws_rds_cluster.this",
                "type": "aws_rds_cluster",
                "change": {"actions": ["delete", "create"], "before": {}, "after": {}},
            }
        ),
    )
    with pytest.raises(DrctlError) as e:
        deploy(request(tmp_path), RecordingUi())
    assert e.value.code == ExitCode.REFUSED and "aws_rds_cluster.this would be replaced" in e.value.message
    assert "apply" not in commands(fake_tf)
    deploy(request(tmp_path, allow_destructive=True), RecordingUi())
    assert "apply" in commands(fake_tf)


def test_primary_record_off_the_current_writer_is_refused(fake_tf: Path, tmp_path: Path, monkeypatch) -> None:
    record = {
        "address": 'aws_route53_record.app["us-east-1"]',
        "type": "aws_route53_record",
        "change": {
            "actions": ["update"],
            "before": {"set_identifier": "us-east-1", "failover_routing_policy": [{"type": "SECONDARY"}]},
            "after": {"set_identifier": "us-east-1", "failover_routing_policy": [{"type": "PRIMARY"}]},
        },
    }
    monkeypatch.setenv("FAKE_TF_PLAN", _plan_with(record))
    with pytest.raises(DrctlError) as e:
        deploy(request(tmp_path, variables={"writer_region": "us-west-2"}), RecordingUi())
    assert e.value.code == ExitCode.REFUSED and "us-west-2 writes now" in e.value.message


def test_ctrl_c_stops_terraform_cleanly(fake_tf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_TF_MODE", "interrupt")
    req = request(tmp_path)
    script = (
        "import sys; from pathlib import Path; from drctl.deploy.core import DeployRequest, deploy\n"
        "from drctl.errors import DrctlError\n"
        "class Ui:\n    say = plan = progress = lambda self, *a: None\n"
        f"req = DeployRequest(workdir=Path({str(req.workdir)!r}), stack_path=Path({str(req.stack_path)!r}))\n"
        "try:\n    deploy(req, Ui())\nexcept DrctlError as e:\n"
        "    print(e.message, file=sys.stderr); sys.exit(int(e.code))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and commands(fake_tf)[-1:] != ["apply"]:
        time.sleep(0.1)
    time.sleep(0.5)  # let the fake install its SIGINT handler
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED
    assert "interrupted: terraform stopped after 1 of 3 changes and saved its state" in err
    assert {"signal": int(signal.SIGINT)} in calls(fake_tf)  # terraform itself got the interrupt
    assert not req.stack_path.exists()


# ----------------------------------------------------------------------------------------- secrets


def test_no_secret_in_any_file_log_or_output(fake_tf: Path, tmp_path: Path, capsys) -> None:
    ui = RecordingUi()
    deploy(request(tmp_path), ui)
    # The password reached terraform, in its environment only, for plan and apply.
    by_cmd = {c["argv"][0]: c["password_env"] for c in calls(fake_tf) if "argv" in c}
    assert by_cmd["plan"] and by_cmd["apply"]
    assert all(SECRET not in " ".join(c.get("argv", [])) for c in calls(fake_tf))
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err + "\n".join(ui.lines)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    var_file = tmp_path / "work" / core.VAR_FILE
    assert var_file.stat().st_mode & 0o077 == 0


# ---------------------------------------------------------------------------------------------- CLI


def test_destroy_asks_first_and_passes_no_force_flag(fake_tf: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    from drctl.cli.app import run

    work = request(tmp_path).workdir
    monkeypatch.setattr("sys.stdin", _Pipe("n\n"))
    assert run(["destroy", "--terraform-dir", str(work)]) == ExitCode.INTERRUPTED
    assert "destroy" not in commands(fake_tf)
    out, err = capsys.readouterr()
    assert "Destroy the whole stack in AWS" in err and "[y/N]:" in err
    assert out == ""  # the question went to stderr, all of it (click's prompts leak a space to stdout)
    assert run(["destroy", "--terraform-dir", str(work), "--yes"]) == 0
    destroy_call = next(c["argv"] for c in calls(fake_tf) if c.get("argv", [""])[0] == "destroy")
    assert "-auto-approve" in destroy_call and "-force" not in destroy_call
    assert "destroyed the stack in AWS" in capsys.readouterr().out


def test_a_relative_workdir_gives_terraform_absolute_paths(fake_tf: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    req = request(tmp_path)
    req.workdir = Path("work")
    deploy(req, RecordingUi())
    plan = next(c["argv"] for c in calls(fake_tf) if c.get("argv", [""])[0] == "plan")
    var_file = next(a for a in plan if a.startswith("-var-file="))
    assert Path(var_file.removeprefix("-var-file=")).is_absolute()


# ---------------------------------------------------------------------- providers and the CLI config


def _mirror(root: Path) -> Path:
    (root / "registry.terraform.io" / "hashicorp" / "aws" / "5.100.0" / "linux_amd64").mkdir(parents=True)
    return root


def _init_call(log: Path) -> dict[str, Any]:
    return next(c for c in calls(log) if c.get("argv", [""])[0] == "init")


def test_a_found_mirror_goes_to_init_as_plugin_dir(fake_tf: Path, tmp_path: Path, monkeypatch) -> None:
    mirror = _mirror(tmp_path / "mirror")
    monkeypatch.setenv("TF_PLUGIN_DIR", str(mirror))
    monkeypatch.delenv("TF_CLI_CONFIG_FILE", raising=False)
    deploy(request(tmp_path), RecordingUi())
    assert f"-plugin-dir={mirror}" in _init_call(fake_tf)["argv"]
    # drctl writes no CLI configuration of its own and sets none
    assert all(c["cli_config"] is None for c in calls(fake_tf))
    assert not list((tmp_path / "work").rglob("*.rc")) and not list((tmp_path / "work").rglob("*.tfrc"))


def test_the_users_cli_config_is_never_replaced(fake_tf: Path, tmp_path: Path, monkeypatch) -> None:
    mine = tmp_path / "mine.tfrc"
    text = 'plugin_cache_dir = "/somewhere"\nprovider_installation {\n  direct {}\n}\n'
    mine.write_text(text)
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(mine))
    _mirror(tmp_path / "home" / ".terraform.d" / "plugins")  # an implied mirror that drctl would otherwise pass
    deploy(request(tmp_path), RecordingUi())
    assert {c["cli_config"] for c in calls(fake_tf)} == {str(mine)}
    assert mine.read_text() == text
    # the user's provider_installation block decides: -plugin-dir would override it
    assert not any(a.startswith("-plugin-dir") for a in _init_call(fake_tf)["argv"])


def test_the_users_cli_config_without_provider_installation_gets_the_mirror(
    fake_tf: Path, tmp_path: Path, monkeypatch
) -> None:
    mine = tmp_path / "mine.tfrc"
    mine.write_text("disable_checkpoint = true\n")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(mine))
    mirror = _mirror(tmp_path / "home" / ".terraform.d" / "plugins")
    deploy(request(tmp_path), RecordingUi())
    assert {c["cli_config"] for c in calls(fake_tf)} == {str(mine)}
    assert f"-plugin-dir={mirror}" in _init_call(fake_tf)["argv"]


# ------------------------------------------------------------------------------------------ plan only


def test_plan_only_plans_and_applies_nothing(fake_tf: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    from drctl.cli.app import run

    work = request(tmp_path).workdir
    monkeypatch.setenv("DRCTL_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("drctl.deploy.preflight.run_preflight", _no_preflight)
    assert run(["deploy", "--terraform-dir", str(work), "--plan-only"]) == 0
    assert commands(fake_tf) == ["version", "init", "validate", "plan", "show"]
    out = capsys.readouterr().out
    assert out.startswith(f"plan only ({work}): ") and "to create" in out and "nothing applied" in out
    assert not (tmp_path / "home" / "stack.toml").exists()


def test_plan_only_json(fake_tf: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    from drctl.cli.app import run

    work = request(tmp_path).workdir
    monkeypatch.setenv("DRCTL_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("drctl.deploy.preflight.run_preflight", _no_preflight)
    assert run(["deploy", "--terraform-dir", str(work), "--plan-only", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["plan_only"] is True and result["changed"] is True and sum(result["plan"].values()) == 3


def test_installed_deploy_runs_in_a_working_copy_under_drctl_home(
    fake_tf: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """Installed, the configuration is the package's copy; terraform runs in $DRCTL_HOME/terraform, never there."""
    from drctl.cli.app import run

    package = tmp_path / "site-packages" / "drctl"
    packaged = package / toolchain.PACKAGED_CONFIG
    (packaged / "modules").mkdir(parents=True)
    (packaged / "main.tf").write_text("# packaged\n")
    (packaged / ".terraform.lock.hcl").write_text("# lock\n")
    monkeypatch.setattr(toolchain, "_package_dir", lambda: package)
    monkeypatch.setenv("DRCTL_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("drctl.deploy.preflight.run_preflight", _no_preflight)
    before = sorted(p.relative_to(package) for p in package.rglob("*"))
    assert run(["deploy", "--plan-only"]) == 0
    work = tmp_path / "home" / "terraform"
    assert capsys.readouterr().out.startswith(f"plan only ({work}): ")
    assert (work / "main.tf").read_text() == "# packaged\n" and (work / ".terraform.lock.hcl").is_file()
    assert (work / ".drctl").is_dir()  # drctl's own files went to the working copy
    assert sorted(p.relative_to(package) for p in package.rglob("*")) == before


def _no_preflight(*_a: Any, **_k: Any) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(writer_region=None)


def test_backend_config_must_be_key_value(capsys) -> None:
    from drctl.cli.app import run

    assert run(["deploy", "--backend-config", "bucket"]) == ExitCode.USAGE
    assert "expected KEY=VALUE" in capsys.readouterr().err


# ------------------------------------------------------------------------ asking before the apply (issue 15)


class _Terminal(io.StringIO):
    """stdin as a terminal where the operator types `answer`."""

    def isatty(self) -> bool:
        return True


class _Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def _deploy_cli(
    fake_tf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stdin: io.StringIO, *args: str
) -> int:
    from drctl.cli.app import run

    work = request(tmp_path).workdir
    monkeypatch.setenv("DRCTL_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("drctl.deploy.preflight.run_preflight", _no_preflight)
    monkeypatch.setattr("sys.stdin", stdin)
    return run(["deploy", "--terraform-dir", str(work), *args])


def test_without_a_terminal_deploy_shows_the_plan_then_refuses_and_applies_nothing(
    fake_tf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _deploy_cli(fake_tf, tmp_path, monkeypatch, _Pipe("yes\n")) == ExitCode.REFUSED
    out, err = capsys.readouterr()
    assert "apply" not in commands(fake_tf) and not (tmp_path / "home" / "stack.toml").exists()
    assert "plan: 3 to create" in err  # the summary came first
    last = err.strip().splitlines()[-1]
    assert last.startswith("drctl: error: drctl deploy asks before it applies and there is no terminal")
    assert "pass --yes" in last and "nothing was applied" in last
    assert out == ""


def test_yes_applies_without_asking(
    fake_tf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _deploy_cli(fake_tf, tmp_path, monkeypatch, _Pipe(""), "--yes") == 0
    assert commands(fake_tf)[-2:] == ["apply", "output"]
    out, err = capsys.readouterr()
    assert "Apply?" not in err and out.startswith("deployed; stack file")
    assert (tmp_path / "home" / "stack.toml").is_file()


def test_on_a_terminal_only_yes_applies(
    fake_tf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _deploy_cli(fake_tf, tmp_path, monkeypatch, _Terminal("y\n")) == ExitCode.REFUSED
    _, err = capsys.readouterr()
    assert "plan: 3 to create" in err and "will apply this plan to AWS" in err and "Only 'yes' applies" in err
    assert "the plan was not approved — nothing was applied" in err
    assert "apply" not in commands(fake_tf)

    assert _deploy_cli(fake_tf, tmp_path, monkeypatch, _Terminal("yes\n")) == 0
    out, err = capsys.readouterr()
    assert err.index("plan: 3 to create") < err.index("Apply?") < err.index("[3/3]")  # summary, question, apply
    assert commands(fake_tf).count("apply") == 1 and out.startswith("deployed")


def test_end_of_input_at_the_question_applies_nothing(
    fake_tf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _deploy_cli(fake_tf, tmp_path, monkeypatch, _Terminal("")) == ExitCode.REFUSED
    assert "apply" not in commands(fake_tf)


def test_nothing_to_apply_needs_no_answer(
    fake_tf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As `terraform apply` with no changes: nothing to approve, so no terminal is needed (the stack file is
    rewritten from the outputs)."""
    monkeypatch.setenv("FAKE_TF_MODE", "no_changes")
    assert _deploy_cli(fake_tf, tmp_path, monkeypatch, _Pipe("")) == 0
    assert "apply" not in commands(fake_tf) and "no changes" in capsys.readouterr().out


def test_plan_only_needs_no_answer(
    fake_tf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _deploy_cli(fake_tf, tmp_path, monkeypatch, _Pipe(""), "--plan-only") == 0
    assert "apply" not in commands(fake_tf) and "nothing applied" in capsys.readouterr().out
