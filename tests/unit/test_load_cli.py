"""`harness validate`, `harness load`, `harness worker`: each has help and is documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.app import cli

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("command", ["validate", "load", "worker"])
def test_command_has_help_and_a_readme_row(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    assert f"| `harness {command}" in README


def test_load_refuses_an_unknown_scenario_with_the_known_names() -> None:
    scenarios = Path(__file__).resolve().parents[2] / "scenarios.yaml"
    result = CliRunner().invoke(
        cli, ["load", "nope", "--scenarios", str(scenarios), "--host", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 2
    assert (
        "no scenario named 'nope' (known: shop-load, search-stress, shop-spike, shop-soak)" in result.output
    )
