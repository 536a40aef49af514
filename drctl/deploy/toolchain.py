"""Where the Terraform configuration is, where its provider mirror is, and the environment terraform runs with.

Air-gapped machines carry the providers as a filesystem mirror (a folder holding `registry.terraform.io/...`).
drctl looks for one only where Terraform's documentation says mirrors live, plus the user's own CLI
configuration, and hands it to `terraform init -plugin-dir`. The user's CLI configuration (TF_CLI_CONFIG_FILE
or ~/.terraformrc) is never replaced: drctl writes none, so credentials, plugin caches and a
`provider_installation` block of the user's stay in force.
Sources: https://developer.hashicorp.com/terraform/cli/config/config-file (Locations; Provider Installation;
Implied Local Mirror Directories).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

REGISTRY = "registry.terraform.io"
AWS_PROVIDER = Path(REGISTRY) / "hashicorp" / "aws"
PACKAGED_CONFIG = "_terraform"  # terraform/ inside the installed package (pyproject.toml: hatch `sources`)

# The FHS add-on root: FHS 3.0 §3.13 reserves it for "add-on application software packages", each in a directory
# of its own right below it. Machine images unpack a provider mirror there as a package of its own; Terraform
# does not look there by itself, so drctl checks, as a last resort, the folders directly below this root (one
# level, never a walk of the filesystem). Built from parts so that no machine path is spelled out in the source;
# tests monkeypatch it.
ADDON_ROOT = Path("/", "opt")

# Terraform's own defaults for XDG_DATA_DIRS when it is unset (the XDG Base Directory specification's).
XDG_DATA_DIRS_DEFAULT = "/usr/local/share:/usr/share"


# ------------------------------------------------------------------------------- the configuration


def _package_dir() -> Path:
    import drctl

    return Path(drctl.__file__).resolve().parent


def terraform_source() -> Path | None:
    """The Terraform configuration drctl deploys: the repository's terraform/ when drctl runs from a checkout,
    else the copy shipped inside the installed package; None when neither exists."""
    package = _package_dir()
    for candidate in (package.parent / "terraform", package / PACKAGED_CONFIG):
        if (candidate / "main.tf").is_file():
            return candidate
    return None


def is_packaged(source: Path) -> bool:
    """True for the copy inside the installed package: terraform must never run there (site-packages)."""
    return source.resolve() == (_package_dir() / PACKAGED_CONFIG).resolve()


# Kept in a working copy when it is refreshed: what terraform itself made there (providers, modules, state).
WORKDIR_KEEP = frozenset({".terraform", ".terraform.lock.hcl", "terraform.tfstate", "terraform.tfstate.backup"})


def copy_configuration(source: Path, workdir: Path) -> Path:
    """Refresh `workdir` from `source`: the configuration's files replaced, terraform's own files (.terraform,
    state) kept. The source's dependency lock file, when it has one, replaces the working copy's."""
    workdir.mkdir(parents=True, exist_ok=True)
    for child in workdir.iterdir():
        if child.name in WORKDIR_KEEP:
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
    for child in source.iterdir():
        if child.name.startswith(".") or child.name.endswith(".tfstate") or child.name in WORKDIR_KEEP:
            continue
        if child.is_dir():
            shutil.copytree(child, workdir / child.name, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
        else:
            shutil.copy2(child, workdir / child.name)
    lock = source / ".terraform.lock.hcl"
    if lock.is_file():
        shutil.copy2(lock, workdir / lock.name)
    return workdir


# ------------------------------------------------------------------------------ the provider mirror


def cli_config_file(env: Mapping[str, str]) -> Path:
    """The CLI configuration Terraform reads: TF_CLI_CONFIG_FILE, else ~/.terraformrc (Unix)."""
    if explicit := env.get("TF_CLI_CONFIG_FILE"):
        return Path(explicit)
    return _home(env) / ".terraformrc"


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or str(Path.home()))


def _read_cli_config(env: Mapping[str, str]) -> str:
    try:
        return cli_config_file(env).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""  # Terraform itself warns about an unreadable file and goes on without it


def _without_comments(text: str) -> str:
    # HCL comments: `#` or `//` to the end of the line, `/* ... */` blocks (strings holding them are not expected
    # in a CLI configuration's provider_installation block).
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"(#|//)[^\n]*", "", text)


def has_provider_installation(text: str) -> bool:
    """Whether a CLI configuration has its own `provider_installation` block (Terraform then uses it alone)."""
    return re.search(r"^\s*provider_installation\s*\{", _without_comments(text), re.M) is not None


def configured_mirrors(text: str) -> list[Path]:
    """The `path` of each `filesystem_mirror` block in a CLI configuration's text, in order."""
    found = []
    for block in re.finditer(r"filesystem_mirror\s*\{([^}]*)\}", _without_comments(text)):
        if m := re.search(r'\bpath\s*=\s*"((?:[^"\\]|\\.)*)"', block[1]):
            found.append(Path(m[1].replace('\\"', '"').replace("\\\\", "\\")))
    return found


def implied_mirror_dirs(env: Mapping[str, str]) -> list[Path]:
    """Terraform's implied local mirror directories on Linux and other Unix-like systems: ~/.terraform.d/plugins
    and terraform/plugins in each XDG data directory ($XDG_DATA_HOME, default ~/.local/share; $XDG_DATA_DIRS,
    default /usr/local/share:/usr/share). (A terraform.d/plugins in terraform's working directory is one too:
    drctl's working copies never have one.)"""
    home = _home(env)
    data_home = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    data_dirs = [Path(d) for d in (env.get("XDG_DATA_DIRS") or XDG_DATA_DIRS_DEFAULT).split(":") if d]
    return [home / ".terraform.d" / "plugins", *(d / "terraform" / "plugins" for d in (data_home, *data_dirs))]


def _addon_packages(root: Path) -> Iterator[Path]:
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return
    yield from children


def _candidates(env: Mapping[str, str]) -> Iterable[Path]:
    if explicit := env.get("TF_PLUGIN_DIR"):
        yield Path(explicit)
    yield from configured_mirrors(_read_cli_config(env))
    yield from implied_mirror_dirs(env)
    yield from _addon_packages(ADDON_ROOT)


def holds_aws_provider(folder: Path) -> bool:
    """A folder in filesystem-mirror layout (packed or unpacked) with a hashicorp/aws provider."""
    try:
        return (folder / AWS_PROVIDER).is_dir()
    except OSError:
        return False


def find_provider_mirror(env: Mapping[str, str] | None = None) -> Path | None:
    """The first folder holding a hashicorp/aws provider in mirror layout, or None: TF_PLUGIN_DIR, the CLI
    configuration's filesystem_mirror paths, Terraform's implied mirror directories, then one level below the
    FHS add-on root."""
    env = os.environ if env is None else env
    seen: set[Path] = set()
    for candidate in _candidates(env):
        if candidate in seen:
            continue
        seen.add(candidate)
        if holds_aws_provider(candidate):
            return candidate
    return None


def init_plugin_dir(env: Mapping[str, str] | None = None) -> Path | None:
    """The `-plugin-dir` for `terraform init`, or None to let Terraform install as the user configured.

    TF_PLUGIN_DIR (drctl's own setting) always wins. Otherwise a `provider_installation` block in the user's CLI
    configuration is left in charge (`-plugin-dir` would override it); without one, the mirror drctl finds makes
    init offline and deterministic (no registry fallback)."""
    env = os.environ if env is None else env
    if (explicit := env.get("TF_PLUGIN_DIR")) and holds_aws_provider(Path(explicit)):
        return Path(explicit)
    if has_provider_installation(_read_cli_config(env)):
        return None
    return find_provider_mirror(env)


def terraform_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a terraform process: the caller's (TF_CLI_CONFIG_FILE included, untouched), no prompts,
    no checkpoint calls."""
    env = dict(os.environ if base is None else base)
    env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"})
    return env
