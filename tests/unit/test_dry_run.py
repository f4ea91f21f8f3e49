"""The dry-run plan's estimates: the search's own steps on a model app, fixed plans by their config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.capacity.dry_run import PlannedFormation, plan_run, planned_seconds, search_estimate_s
from harness.cli.app import cli
from harness.config import Level, StressScenario, load_config

SHIPPED = Path(__file__).resolve().parents[2] / "scenarios.yaml"


def stress(**fields: object) -> StressScenario:
    base: dict[str, object] = {
        "name": "push",
        "kind": "stress",
        "start": {"rps": 10},
        "max": {"rps": 20},
        "growth": 3,
        "ramp_s": 1,
        "step_hold_s": 4,
        "confirm_hold_s": 8,
        "slo": {"p95_ms": 300, "error_ratio": 0.01},
    }
    return StressScenario.model_validate({**base, **fields})


def test_a_search_that_never_breaks_below_max_counts_probes_and_the_confirmation() -> None:
    # probe 10 (good), probe 20 = max (good), confirm at max: (1 + 4) + (1 + 4) + (1 + 8)
    assert search_estimate_s(stress(), Level(rps=5)) == pytest.approx(19.0)


def test_a_search_that_breaks_also_recovers_and_narrows() -> None:
    wide = stress(max={"rps": 800}, tolerance=0.05)
    short = search_estimate_s(stress(), Level(rps=5))
    found = search_estimate_s(wide, Level(rps=20))
    assert found > short + 3 * (1 + 4)  # at least a broken probe, a recovery window and a bisection


def test_a_higher_expected_peak_means_more_probes() -> None:
    wide = stress(max={"rps": 5000}, tolerance=0.1)
    assert search_estimate_s(wide, Level(rps=1000)) > search_estimate_s(wide, Level(rps=20))


def test_users_mode_and_an_expected_peak_in_the_other_unit() -> None:
    users = stress(start={"users": 5}, max={"users": 400})
    assert search_estimate_s(users, Level(rps=50)) > 0  # the peak is in req/s: guessed from the start


def test_the_plan_prices_each_formation_for_load_plus_scaling_time() -> None:
    config = load_config(SHIPPED)
    formations = [PlannedFormation("web=1:Standard-1X", 1.0), PlannedFormation("web=2:Standard-1X", 2.0)]
    plan = plan_run(
        config.scenarios, expected=config.expected_peak, app="a", platform="Heroku", formations=formations
    )
    fixed = [planned_seconds(s) for s in config.scenarios if s.kind != "stress"]
    assert plan.load_s > sum(f or 0.0 for f in fixed)
    assert plan.estimated_cost_usd == pytest.approx(3.0 * (plan.load_s + 120.0) / 3600)
    unpriced = plan_run(
        config.scenarios,
        expected=config.expected_peak,
        app="a",
        platform="Heroku",
        formations=[PlannedFormation("web=1:Mystery", None)],
    )
    assert unpriced.estimated_cost_usd is None and unpriced.as_json()["cost_per_hour_usd"] == [None]


def test_the_test_itself_costs_the_dyno_hours_of_all_formations() -> None:
    config = load_config(SHIPPED)
    formations = [PlannedFormation(f"web={n}:Standard-2X", n * 50 / 720, dynos=n) for n in (1, 2, 4, 6)]
    plan = plan_run(
        config.scenarios,
        expected=config.expected_peak,
        app="a",
        platform="Heroku",
        formations=formations,
        repeats=2,
    )
    hours = 13 * (plan.load_s + 120.0) / 3600  # 1 + 2 + 4 + 6 dynos, each for its load and scale time
    assert plan.dyno_hours == pytest.approx(hours)
    assert plan.estimated_cost_usd == pytest.approx(hours * 50 / 720)
    assert plan.as_json()["dyno_hours"] == pytest.approx(hours)
    assert plan.load_s == pytest.approx(2 * sum(s.estimate_s for s in plan.scenarios))


def test_dry_run_prints_the_test_cost_of_every_formation(tmp_path: Path) -> None:
    os.environ["HARNESS_STATE_DIR"] = str(tmp_path / "state")
    result = CliRunner().invoke(cli, ["run", "--dry-run", "--scenarios", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "test cost:" in x)
    # The shipped file tests 1 and 2 Standard-1X dynos: 3 dynos for the load and scale time.
    plan = load_config(SHIPPED)
    assert [f.quantity for f in plan.target.formations] == [1, 2]
    assert "dyno-hours, estimated dyno cost ≈ $" in line and "all 2 formations" in line
    hours = float(line.split("test cost:")[1].split("dyno-hours")[0])
    assert hours > 3 * 120 / 3600
    assert "one report with the capacity plan" in result.output
