"""terraform/: formatted, initialised offline from the provider mirror, valid without warnings, its plan-level
`terraform test` green with no password in any plan, and checkov clean (failed checks fixed or waived inline)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from drctl.deploy.toolchain import copy_configuration, init_plugin_dir, terraform_env, terraform_source

TF_DIR = terraform_source() or Path("terraform")  # drctl's own answer to "where is the configuration"
SENTINEL = "SENTINEL-db-password-7f3a9c"  # the password terraform/tests/*.tftest.hcl pass in
CHECKOV = "checkov==3.3.30"

pytestmark = [
    pytest.mark.terraform,
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed"),
]


def _tf(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["terraform", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A working copy of terraform/ (drctl's own copy: the committed lock file comes along) initialised offline
    the way drctl does it: `-plugin-dir` from the mirror discovery, the caller's CLI configuration untouched."""
    work = copy_configuration(TF_DIR, tmp_path_factory.mktemp("tf") / "terraform")
    mirror = init_plugin_dir()
    if mirror is None:
        pytest.skip("no provider mirror on this machine (offline init impossible)")
    env = terraform_env()
    init = _tf(["init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={mirror}"], work, env)
    assert init.returncode == 0, init.stdout + init.stderr
    # The committed lock file matches the mirror's package (init would fail otherwise). Allowed warnings: a
    # mirror yields only this platform's checksum, and a TF_CLI_CONFIG_FILE naming a missing file is the caller's.
    warnings = re.findall(r"Warning: (.+)", init.stdout + init.stderr)
    allowed = {"Incomplete lock file information for providers", "Unable to open CLI configuration file"}
    assert set(warnings) <= allowed, warnings
    yield work, env


def test_fmt_is_clean() -> None:
    proc = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", "-no-color"],
        cwd=TF_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout


def test_validate_has_no_errors_and_no_warnings(workdir: tuple[Path, dict[str, str]]) -> None:
    work, env = workdir
    proc = _tf(["validate", "-json", "-no-color"], work, env)
    result = json.loads(proc.stdout)
    assert result["valid"], result["diagnostics"]
    assert result["error_count"] == 0 and result["warning_count"] == 0, result["diagnostics"]


def test_both_regions_are_one_module(workdir: tuple[Path, dict[str, str]]) -> None:
    work, _ = workdir
    modules = json.loads((work / ".terraform" / "modules" / "modules.json").read_text())["Modules"]
    sources = {m["Key"]: m["Source"] for m in modules if m["Key"]}
    assert sources["primary"] == sources["secondary"] == "./modules/region"


def test_plan_level_tests_pass_and_no_password_reaches_a_plan(workdir: tuple[Path, dict[str, str]]) -> None:
    work, env = workdir
    proc = _tf(["test", "-verbose", "-no-color"], work, env, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert re.search(r"Success! \d+ passed, 0 failed", out), out[-2000:]
    # The password goes to write-only arguments only: the plans show the attribute, never the value.
    assert "master_password_wo" in out and "(write-only attribute)" in out
    assert SENTINEL not in out
    assert not re.search(r"\bmaster_password\s+=", out)


def test_every_variable_is_typed_and_described() -> None:
    for path in TF_DIR.rglob("variables.tf"):
        blocks = re.split(r'^variable "', path.read_text(), flags=re.M)[1:]
        assert blocks, path
        for block in blocks:
            name = block.split('"', 1)[0]
            assert re.search(r"^\s+type\s+=", block, re.M), f"{path}: variable {name} has no type"
            assert re.search(r"^\s+description\s+=", block, re.M), f"{path}: variable {name} has no description"


def test_modules_hold_no_lab_settings() -> None:
    """Emulator workarounds live in the generated lab override, never in the modules."""
    for path in TF_DIR.rglob("*.tf"):
        text = path.read_text()
        for needle in ("127.0.0.1", "localhost", "skip_credentials_validation", "endpoints {"):
            assert needle not in text, f"{path} contains {needle!r}"


@pytest.mark.skipif(shutil.which("uvx") is None, reason="uvx is needed to run checkov in its own environment")
def test_checkov_has_no_unwaived_failures() -> None:
    proc = subprocess.run(
        [
            *("uvx", "--from", CHECKOV, "checkov", "-d", str(TF_DIR), "--framework", "terraform"),
            *("--quiet", "--compact", "--skip-download", "-o", "json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r["results"]["failed_checks"]]
    assert not failed, [(c["check_id"], c["resource"], c["file_path"]) for c in failed]
    summary = reports[0]["summary"]
    assert summary["parsing_errors"] == 0 and summary["passed"] > 0, summary
