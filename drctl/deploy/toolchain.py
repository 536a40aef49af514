"""Finding Terraform and its provider mirror, and the environment every terraform process runs with.

Air-gapped machines carry the providers as a filesystem mirror (a folder holding `registry.terraform.io/...`).
drctl discovers it at run time and writes a CLI configuration that installs providers from it only, so `terraform
init` never reaches for the network. Nothing here hard-codes a machine's paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

REGISTRY = "registry.terraform.io"
AWS_PROVIDER = Path(REGISTRY) / "hashicorp" / "aws"


def _candidates(env: Mapping[str, str]) -> Iterable[Path]:
    if explicit := env.get("TF_PLUGIN_DIR"):
        yield Path(explicit)
    home = Path(env.get("HOME", str(Path.home())))
    yield home / ".terraform.d" / "plugins"
    yield home / ".local" / "share" / "terraform" / "plugins"
    for share in env.get("XDG_DATA_DIRS", "/usr/local/share:/usr/share").split(":"):
        if share:
            yield Path(share) / "terraform" / "plugins"
    # Images often unpack a mirror one or two levels below the filesystem root (<top>/<name>/registry...).
    for pattern in (f"*/{REGISTRY}", f"*/*/{REGISTRY}"):
        for hit in sorted(Path("/").glob(pattern)):
            yield hit.parent


def find_provider_mirror(env: Mapping[str, str] | None = None) -> Path | None:
    """The first folder that holds a hashicorp/aws provider in mirror layout, or None (use the registry)."""
    env = os.environ if env is None else env
    seen: set[Path] = set()
    for candidate in _candidates(env):
        if candidate in seen:
            continue
        seen.add(candidate)
        try:
            if (candidate / AWS_PROVIDER).is_dir():
                return candidate
        except OSError:
            continue
    return None


def cli_config_text(mirror: Path | None) -> str:
    """A Terraform CLI configuration: providers from `mirror` only, or the defaults when there is none."""
    if mirror is None:
        return "# drctl: no provider mirror found; providers come from the registry\n"
    path = str(mirror).replace("\\", "\\\\").replace('"', '\\"')
    return (
        "# Written by drctl: install providers from the local mirror only (air-gapped).\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{path}"\n'
        '    include = ["registry.terraform.io/*/*"]\n'
        "  }\n"
        "}\n"
    )


def write_cli_config(folder: Path, mirror: Path | None) -> Path:
    """Write the CLI configuration into `folder` (created) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "terraform.rc"
    path.write_text(cli_config_text(mirror), encoding="utf-8")
    return path


def terraform_env(cli_config: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a terraform process: our CLI config, no prompts, no checkpoint calls, no colours."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
    )
    return env
