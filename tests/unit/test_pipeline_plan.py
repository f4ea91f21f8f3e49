"""The pipeline's pure parts: which platform, which scenarios in which order, the plan of a dry run."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

from harness.cli.app import cli
from harness.config import load_config
from harness.pipeline import Phase
from harness.platform.guard import price_table
from harness.platform.models import Formation, ProcessFormation
from harness.platform.safe_scale import target_formation
from harness.platform.target import uses_emulator
from harness.run_plan import RunOptions, plan_run, selected_scenarios

SHIPPED = Path(__file__).resolve().parents[2] / "scenarios.yaml"


def test_auto_platform_is_the_emulator_without_a_token(tmp_path: Path) -> None:
    config = load_config(SHIPPED)
    no_token = {"NETRC": str(tmp_path / "none")}
    assert uses_emulator(config, no_token)
    assert not uses_emulator(config, {**no_token, "HEROKU_API_KEY": "x"})
    assert not uses_emulator(config, {**no_token, "HEROKU_API_URL": "http://127.0.0.1:1"})


def test_stress_scenarios_run_last_and_names_select() -> None:
    config = load_config(SHIPPED)
    kinds = [s.kind for s in selected_scenarios(config, ())]
    assert kinds[-1] == "stress" and kinds.count("stress") == 1
    assert [s.name for s in selected_scenarios(config, ("search-stress", "shop-load"))] == [
        "shop-load",
        "search-stress",
    ]


def test_target_formation_changes_only_the_tested_type() -> None:
    current = Formation.of(
        [
            ProcessFormation(type="web", quantity=1, size="Standard-1X"),
            ProcessFormation(type="worker", quantity=2, size="Standard-2X"),
        ]
    )
    config = load_config(SHIPPED)
    tested = target_formation(current, config.target.formations[1], "web")
    assert tested.describe() == "web=2:Standard-1X worker=2:Standard-2X"


def test_dry_run_plan_has_every_scenario_a_duration_and_a_cost() -> None:
    config = load_config(SHIPPED)
    plan = plan_run(config, RunOptions(), emulator=True, prices=price_table())
    assert [s.name for s in plan.scenarios][-1] == "search-stress"
    assert all(s.estimate_s > 0 for s in plan.scenarios)
    assert plan.estimated_cost_usd is not None and plan.estimated_cost_usd > 0
    assert plan.formations == ["web=1:Standard-1X", "web=2:Standard-1X"]


def test_dry_run_command_touches_nothing(tmp_path: Path) -> None:
    os.environ["HARNESS_STATE_DIR"] = str(tmp_path / "state")
    result = CliRunner().invoke(cli, ["run", "--dry-run", "--scenarios", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    assert "Dry run: nothing is scaled or loaded." in result.output
    assert "search-stress" in result.output and "estimated dyno cost" in result.output
    assert not (tmp_path / "state").exists()


def test_phases_are_in_pipeline_order() -> None:
    assert [p.value for p in Phase][:3] == ["preflight", "snapshot", "scale"]
    assert Phase.RESTORE in Phase
