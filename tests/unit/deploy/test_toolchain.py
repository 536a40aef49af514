"""Where drctl finds the Terraform configuration and the provider mirror: Terraform's documented places, the
user's CLI configuration, the FHS add-on root one level deep, and nowhere else."""

from __future__ import annotations

from pathlib import Path

import pytest

from drctl.deploy import toolchain
from drctl.deploy.toolchain import (
    cli_config_file,
    configured_mirrors,
    copy_configuration,
    find_provider_mirror,
    has_provider_installation,
    implied_mirror_dirs,
    init_plugin_dir,
    is_packaged,
    terraform_source,
)


def mirror(root: Path) -> Path:
    (root / "registry.terraform.io" / "hashicorp" / "aws" / "5.100.0" / "linux_amd64").mkdir(parents=True)
    return root


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment whose every discovery place is under tmp_path, and nothing found yet."""
    monkeypatch.setattr(toolchain, "ADDON_ROOT", tmp_path / "addons")
    return {
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-home"),
        "XDG_DATA_DIRS": f"{tmp_path / 'xdg-a'}:{tmp_path / 'xdg-b'}",
    }


def test_nothing_found_is_none(env: dict[str, str]) -> None:
    assert find_provider_mirror(env) is None
    assert init_plugin_dir(env) is None


def test_tf_plugin_dir_comes_first(env: dict[str, str], tmp_path: Path) -> None:
    mirror(Path(env["HOME"]) / ".terraform.d" / "plugins")
    explicit = mirror(tmp_path / "explicit")
    env["TF_PLUGIN_DIR"] = str(explicit)
    assert find_provider_mirror(env) == explicit == init_plugin_dir(env)


def test_the_cli_configs_filesystem_mirror_before_the_implied_ones(env: dict[str, str], tmp_path: Path) -> None:
    mirror(Path(env["HOME"]) / ".terraform.d" / "plugins")
    mine = mirror(tmp_path / "my mirror")
    rc = tmp_path / "my.tfrc"
    rc.write_text(
        '# filesystem_mirror { path = "/commented/out" }\n'
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mine}"\n    include = ["registry.terraform.io/*/*"]\n  }}\n'
        '  direct {\n    exclude = ["registry.terraform.io/hashicorp/aws"]\n  }\n'
        "}\n"
    )
    env["TF_CLI_CONFIG_FILE"] = str(rc)
    assert configured_mirrors(rc.read_text()) == [mine]
    assert find_provider_mirror(env) == mine
    # the user's provider_installation block is in charge: no -plugin-dir (it would override the block)
    assert init_plugin_dir(env) is None


def test_the_cli_config_defaults_to_terraformrc_in_home(env: dict[str, str], tmp_path: Path) -> None:
    assert cli_config_file(env) == Path(env["HOME"]) / ".terraformrc"
    mine = mirror(tmp_path / "m")
    Path(env["HOME"]).mkdir()
    (Path(env["HOME"]) / ".terraformrc").write_text(
        f'provider_installation {{\n filesystem_mirror {{ path = "{mine}" }}\n}}\n'
    )
    assert find_provider_mirror(env) == mine


@pytest.mark.parametrize("where", ["terraform.d", "xdg-home", "xdg-a", "xdg-b"])
def test_each_implied_mirror_directory(env: dict[str, str], tmp_path: Path, where: str) -> None:
    places = {
        "terraform.d": Path(env["HOME"]) / ".terraform.d" / "plugins",
        "xdg-home": tmp_path / "xdg-home" / "terraform" / "plugins",
        "xdg-a": tmp_path / "xdg-a" / "terraform" / "plugins",
        "xdg-b": tmp_path / "xdg-b" / "terraform" / "plugins",
    }
    found = mirror(places[where])
    assert find_provider_mirror(env) == found
    assert init_plugin_dir(env) == found  # no provider_installation of the user's: init goes offline with it


def test_implied_directories_without_xdg_variables_are_terraforms_defaults(tmp_path: Path) -> None:
    home = tmp_path / "h"
    dirs = implied_mirror_dirs({"HOME": str(home)})
    assert dirs[:2] == [home / ".terraform.d" / "plugins", home / ".local" / "share" / "terraform" / "plugins"]
    defaults = toolchain.XDG_DATA_DIRS_DEFAULT.split(":")
    assert dirs[2:] == [Path(d) / "terraform" / "plugins" for d in defaults]


def test_the_addon_root_one_level_deep_last(env: dict[str, str], tmp_path: Path) -> None:
    addons = tmp_path / "addons"
    (addons / "aaa-not-a-mirror").mkdir(parents=True)
    mirror(addons / "deeper" / "nested")  # two levels down: not looked at
    assert find_provider_mirror(env) is None
    found = mirror(addons / "tf-plugins")
    assert find_provider_mirror(env) == found
    implied = mirror(Path(env["XDG_DATA_HOME"]) / "terraform" / "plugins")
    assert find_provider_mirror(env) == implied  # a documented place wins


def test_discovery_never_walks_the_filesystem_root(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    def no_glob(self: Path, pattern: str) -> object:
        raise AssertionError(f"globbed {self}/{pattern}")

    monkeypatch.setattr(Path, "glob", no_glob)
    monkeypatch.setattr(Path, "rglob", no_glob)
    assert find_provider_mirror(env) is None


def test_provider_installation_detection_ignores_comments() -> None:
    assert has_provider_installation("provider_installation {\n  direct {}\n}\n")
    assert not has_provider_installation('# provider_installation {\nplugin_cache_dir = "x"\n')
    assert not has_provider_installation("/* provider_installation { } */\n")


# ------------------------------------------------------------------------------- the configuration


def test_from_a_checkout_the_configuration_is_the_repositorys_terraform() -> None:
    source = terraform_source()
    assert source == Path(__file__).resolve().parents[3] / "terraform"
    assert not is_packaged(source)


def test_installed_the_configuration_is_the_packaged_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site-packages" / "drctl"
    (package / "_terraform").mkdir(parents=True)
    (package / "_terraform" / "main.tf").write_text("# packaged\n")
    monkeypatch.setattr(toolchain, "_package_dir", lambda: package)
    assert terraform_source() == package / "_terraform"
    assert is_packaged(package / "_terraform")
    (package / "_terraform" / "main.tf").unlink()
    assert terraform_source() is None


def test_a_working_copy_keeps_terraforms_files_and_takes_the_sources_lock(tmp_path: Path) -> None:
    source, work = tmp_path / "src", tmp_path / "work"
    (source / "modules" / "m").mkdir(parents=True)
    (source / "main.tf").write_text("# v2\n")
    (source / "modules" / "m" / "main.tf").write_text("# module\n")
    (source / ".terraform.lock.hcl").write_text("# lock v2\n")
    (work / ".terraform").mkdir(parents=True)
    (work / "terraform.tfstate").write_text("{}")
    (work / ".terraform.lock.hcl").write_text("# lock v1\n")
    (work / "stale.tf").write_text("# removed upstream\n")
    copy_configuration(source, work)
    assert (work / "main.tf").read_text() == "# v2\n" and (work / "modules" / "m" / "main.tf").is_file()
    assert (work / ".terraform.lock.hcl").read_text() == "# lock v2\n"
    assert (work / "terraform.tfstate").read_text() == "{}" and (work / ".terraform").is_dir()
    assert not (work / "stale.tf").exists()


def test_the_dependency_lock_file_is_committed_with_the_configuration() -> None:
    source = terraform_source()
    assert source is not None
    lock = (source / ".terraform.lock.hcl").read_text()
    assert 'provider "registry.terraform.io/hashicorp/aws"' in lock
    assert 'constraints = ">= 5.100.0, < 6.0.0"' in lock and "h1:" in lock
