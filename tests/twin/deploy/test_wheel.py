"""The wheel carries terraform/: built, installed into a fresh venv, the installed `drctl deploy --lab --plan-only`
finds the packaged configuration and plans the stack against the twin — and writes nothing into site-packages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from drctl.lab.runtime import lab_dir

pytestmark = [
    pytest.mark.terraform,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed"),
    pytest.mark.skipif(shutil.which("uv") is None, reason="uv builds and installs the wheel"),
]
ROOT = Path(__file__).resolve().parents[3]
TIMEOUT_S = 900


def _run(
    argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    assert proc.returncode == 0, f"{argv}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return proc


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_the_installed_wheel_plans_the_packaged_configuration(lab, tmp_path: Path) -> None:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    _run(["uv", "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(ROOT)], env=env)
    (wheel,) = (tmp_path / "dist").glob("drctl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "drctl/_terraform/main.tf" in names and "drctl/_terraform/.terraform.lock.hcl" in names
    assert "drctl/_terraform/modules/region/main.tf" in names
    assert not [n for n in names if "/.terraform/" in n or ".tfstate" in n]

    venv = tmp_path / "venv"
    _run(["uv", "venv", "--python", sys.executable, str(venv)], env=env)
    python = venv / "bin" / "python"
    _run(["uv", "pip", "install", "--python", str(python), str(wheel)], env=env)
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    assert site != Path(sysconfig.get_paths()["purelib"])
    where = _run(
        [str(python), "-c", "from drctl.deploy.toolchain import terraform_source as s; print(s())"], cwd=tmp_path
    )
    assert Path(where.stdout.strip()) == site / "drctl" / "_terraform"  # the packaged copy, not this checkout

    shutil.rmtree(lab_dir(lab.home) / "terraform", ignore_errors=True)  # plan against the reset twin
    before = _snapshot(site)
    run_env = {**lab.env, "PYTHONDONTWRITEBYTECODE": "1"}  # so that only drctl could write into site-packages
    proc = subprocess.run(
        [str(venv / "bin" / "drctl"), "deploy", "--lab", "--plan-only", "--json"],
        cwd=tmp_path,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["plan_only"] is True and result["changed"] is True
    assert result["plan"].get("create", 0) >= 50, result  # the whole two-region stack, planned
    assert Path(result["workdir"]).resolve() == (lab_dir(lab.home) / "terraform").resolve()
    assert "terraform init" in proc.stderr and "plan only: nothing applied" in proc.stderr
    work = lab_dir(lab.home) / "terraform"
    assert (work / ".terraform").is_dir() and (work / "main.tf").is_file()
    state = work / "terraform.tfstate"
    assert not state.exists() or '"resources": []' in state.read_text()  # nothing applied
    assert not (lab.home / "stack.toml").exists()
    assert _snapshot(site) == before  # nothing written into site-packages
