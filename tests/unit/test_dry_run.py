"""The dry-run plan's estimates: the search's own steps on a model app, fixed plans by their config."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.capacity.dry_run import PlannedFormation, plan_run, planned_seconds, search_estimate_s
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
