"""Later repeats search the bracket around repeat 1's answer: same answers, less load (simulated apps)."""

from __future__ import annotations

import random

from harness.capacity.repeat_search import bracket_params
from harness.capacity.search import SearchResult, SearchStatus, breaking_point_search
from harness.capacity.slo import SloLimits
from harness.measurements import StepKind
from tests.unit.simulated import SimulatedApp, run_search, search_params

LIMITS = SloLimits(error_ratio=0.01, saturation_tolerance=0.05)  # the capacity is the truth


def _load_s(result: SearchResult) -> float:
    return sum(r.window.plan.hold_s + r.window.plan.ramp_s for r in result.steps)


def _found(result: SearchResult) -> float:
    assert result.breaking_point.status == SearchStatus.FOUND, result.stop_reason
    assert result.breaking_point.sustainable_rps is not None
    return result.breaking_point.sustainable_rps


def test_bracket_repeats_agree_with_full_searches_and_cost_less() -> None:
    savings = []
    for seed in range(20):
        rng = random.Random(seed)
        slots, service_ms = rng.choice([2, 4, 8]), rng.uniform(15, 60)
        app, again = (
            SimulatedApp(slots=slots, service_ms=service_ms, seed=seed * 10 + run, rps_noise=0.01)
            for run in range(2)
        )
        twin = SimulatedApp(slots=slots, service_ms=service_ms, seed=seed * 10 + 1, rps_noise=0.01)
        full_params = search_params(LIMITS, start_level=20.0)
        first = run_search(app, breaking_point_search(full_params))
        level = first.breaking_point.level
        assert level is not None
        bracket = bracket_params(full_params, level)
        assert bracket is not None and bracket.start_level == 0.85 * level and not bracket.measure_recovery
        again_full = run_search(again, breaking_point_search(full_params))
        again_bracket = run_search(twin, breaking_point_search(bracket))
        tolerance = full_params.tolerance
        assert abs(_found(again_bracket) / app.capacity_rps - 1) <= tolerance, seed
        assert abs(_found(again_bracket) / _found(again_full) - 1) <= 2 * tolerance, seed
        assert abs(again_bracket.steps[0].window.plan.level - bracket.start_level) < 0.01
        assert not any(
            r.window.plan.kind is StepKind.RECOVERY and r.window.plan.label == "recovery"
            for r in again_bracket.steps
        )
        savings.append(_load_s(again_bracket) / _load_s(again_full))
    assert sorted(savings)[len(savings) // 2] <= 0.9, savings  # the median repeat costs less


def test_no_bracket_when_it_would_not_be_cheaper() -> None:
    params = search_params(LIMITS, start_level=100.0, growth=1.1)
    assert bracket_params(params, 110.0) is None  # 80 % of it is below the start, growth already small
    capped = bracket_params(search_params(LIMITS, start_level=10.0, max_level=50.0), 400.0)
    assert capped is not None and capped.start_level == 50.0
