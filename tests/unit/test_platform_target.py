"""`platform: emulator` with a Heroku API in the environment says it is not used (issue 11, item 4)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from harness.cli.app import cli
from harness.config import load_config
from harness.platform.target import ignored_environment

REPO = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, platform: str) -> Path:
    text = (REPO / "scenarios.yaml").read_text()
    path = tmp_path / "scenarios.yaml"
    text = text.replace("path: locustfiles/", f"path: {REPO}/locustfiles/")
    path.write_text(text.replace("platform: auto", f"platform: {platform}"))
    assert f"platform: {platform}" in path.read_text()
    return path


def test_an_exported_heroku_api_is_named_as_unused_on_the_emulator(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, "emulator"))
    environ = {"HEROKU_API_URL": "https://api.example.test", "HEROKU_API_KEY": "wrong-key-123"}
    said = ignored_environment(config, environ)
    assert said is not None and "HEROKU_API_URL and HEROKU_API_KEY" in said and "are not used" in said
    assert "wrong-key-123" not in said and str(config.source) in said
    assert ignored_environment(config, {}) is None
    assert ignored_environment(load_config(_config(tmp_path, "auto")), environ) is None


def test_the_dry_run_says_it_before_anything_starts(tmp_path: Path) -> None:
    scenarios = _config(tmp_path, "emulator")
    env = {
        "HARNESS_STATE_DIR": str(tmp_path / "state"),
        "NETRC": str(tmp_path / "none"),
        "HEROKU_API_KEY": "wrong-key-123",
    }
    result = CliRunner().invoke(cli, ["run", "--dry-run", "--scenarios", str(scenarios)], env=env)
    assert result.exit_code == 0, result.output
    assert "HEROKU_API_KEY from the environment is not used" in result.output
    assert "wrong-key-123" not in result.output
