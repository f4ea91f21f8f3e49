"""`harness load`: refusals that happen before any load is sent (help and README rows: test_docs.py)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from harness.cli.app import cli


def test_load_refuses_an_unknown_scenario_with_the_known_names() -> None:
    scenarios = Path(__file__).resolve().parents[2] / "scenarios.yaml"
    result = CliRunner().invoke(
        cli, ["load", "nope", "--scenarios", str(scenarios), "--host", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 2
    assert (
        "no scenario named 'nope' (known: shop-load, search-stress, shop-spike, shop-soak)" in result.output
    )
