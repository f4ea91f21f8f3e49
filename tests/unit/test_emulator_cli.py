"""`harness emulator serve`: help and the refusals that happen before anything starts."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from harness.cli.app import cli
from harness.emulator.cli import parse_app_option, parse_setting_option


def test_serve_help_names_every_option() -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--help"])
    assert result.exit_code == 0
    options = ["--host", "--port", "--app", "--token", "--ready-file", "--boot-timeout", "--router-timeout"]
    for option in [*options, "--metrics-interval", "--setting", "HARNESS_EMULATOR_TOKEN"]:
        assert option in result.output


def test_only_loopback_addresses() -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 3 and "only listens on loopback" in result.output


def test_app_must_be_name_equals_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["emulator", "serve", "--app", "shop"])
    assert result.exit_code == 2 and "NAME=DIR" in result.output
    result = CliRunner().invoke(cli, ["emulator", "serve", "--app", f"shop={tmp_path / 'missing'}"])
    assert result.exit_code == 2 and "is not a directory" in result.output
    assert parse_app_option(f"shop={tmp_path}") == ("shop", tmp_path.resolve())


def test_settings_are_runtime_setting_fields() -> None:
    assert parse_setting_option("crash_cooloff_s=1.5") == ("crash_cooloff_s", 1.5)
    assert parse_setting_option("active_per_dyno=10") == ("active_per_dyno", 10)
    assert parse_setting_option("restart_crashed=false") == ("restart_crashed", False)
    result = CliRunner().invoke(cli, ["emulator", "serve", "--setting", "warp=9"])
    assert result.exit_code == 2 and "boot_timeout_s" in result.output
