"""The search against a metastable simulated app: bounded overshoot, hysteresis, drains (issue 12)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from harness.capacity.search import SearchParams, SearchResult, breaking_point_search
from harness.capacity.slo import SloLimits, success_rps
from harness.config import Level, Slo, StressScenario
from harness.measurements import LevelMode, SearchStatus, StepKind
from tests.unit.simulated import SimulatedApp, run_search, search_params

LIMITS = SloLimits(error_ratio=0.01, p95_ms=300, saturation_tolerance=0.05)
GROWTHS = (1.25, 1.5, 2.0, 3.0)


def _params(**overrides: object) -> SearchParams:
    return search_params(LIMITS, **overrides)


def _app(seed: int = 3, **overrides: object) -> SimulatedApp:
    """100 req/s rested; 62.5 req/s once it has queued (slowdown 1.6), until it idles 2 s."""
    values: dict[str, object] = {"slots": 4, "service_ms": 40.0, "rps_noise": 0.01, "latency_noise": 0.1}
    values.update({"slowdown": 1.6, **overrides})
    return SimulatedApp(seed=seed, **values)  # type: ignore[arg-type]


def _answer(result: SearchResult) -> float:
    point = result.breaking_point
    assert point.status == SearchStatus.FOUND, result.stop_reason
    assert point.sustainable_rps is not None
    return point.sustainable_rps


def test_a_metastable_app_is_reported_with_its_rested_capacity_and_the_finding() -> None:
    app = _app()
    result = run_search(app, breaking_point_search(_params(growth=3.0)))
    answer = _answer(result)
    assert app.degradations >= 1  # the overload did degrade it
    assert answer >= 0.9 * app.capacity_rps  # the rested capacity, not the degraded 62.5 req/s
    finding = result.breaking_point.metastability
    assert finding is not None and finding == result.metastability
    assert finding.degraded_broken_level is not None and finding.degraded_broken_level < answer
    assert finding.rested_rps == pytest.approx(answer)
    assert finding.sentence(LevelMode.ARRIVAL_RATE).startswith("after an overload the app serves ")
    assert f"instead of {answer:.1f} req/s" in finding.sentence(LevelMode.ARRIVAL_RATE)
    assert finding.evidence and finding.drain_s > 0


@pytest.mark.parametrize("metastable", [False, True])
def test_the_answer_does_not_depend_on_growth_or_start(metastable: bool) -> None:
    answers = []
    for growth in GROWTHS:
        for start in (10.0, 25.0, 60.0):
            app = _app(slowdown=1.6 if metastable else 1.0)
            answers.append(
                _answer(run_search(app, breaking_point_search(_params(growth=growth, start_level=start))))
            )
    assert max(answers) <= min(answers) * 1.10, answers
    assert min(answers) >= 0.88 * 100.0, answers


def test_a_plain_app_never_gets_a_metastability_finding() -> None:
    for seed in range(20):
        for growth in (1.5, 3.0):
            app = _app(seed=seed, slowdown=1.0)
            result = run_search(app, breaking_point_search(_params(growth=growth)))
            assert result.breaking_point.metastability is None, (seed, growth, result.notes)


def test_a_plain_app_that_merely_saturates_pays_no_rested_re_test() -> None:
    # Its breaks serve about its capacity: nothing hints at a degraded app, so no load goes to
    # re-testing an upper bound on a rested app (issue 12: the search's load-time budget).
    for seed in range(10):
        app = _app(seed=seed, slowdown=1.0)
        result = run_search(app, breaking_point_search(_params(growth=2.0)))
        assert not [n for n in result.notes if "on a rested app" in n], (seed, result.notes)
        assert 88.0 <= _answer(result) <= 106.0


def test_a_degraded_upper_bound_is_re_tested_on_a_rested_app() -> None:
    result = run_search(_app(), breaking_point_search(_params(growth=3.0)))
    assert [n for n in result.notes if "re-testing it on a rested app" in n], result.notes
    assert _answer(result) >= 0.9 * 100.0


def test_after_the_first_break_no_step_offers_more_than_the_overshoot_bound() -> None:
    result = run_search(_app(), breaking_point_search(_params(growth=3.0, max_overshoot=1.2)))
    steps = [r for r in result.steps if r.window.plan.kind in {StepKind.PROBE, StepKind.BISECT}]
    first_break = next(i for i, r in enumerate(steps) if not r.ok)
    for i, record in enumerate(steps[first_break + 1 :], start=first_break + 1):
        best = max(success_rps(r.window) for r in steps[:i] if r.ok)
        assert record.window.plan.level <= 1.2 * best * 1.001, (record.window.plan, best)


def test_later_breaks_are_followed_by_a_drain_with_no_load_before_the_next_step() -> None:
    result = run_search(_app(), breaking_point_search(_params(growth=3.0, drain_s=4.0)))
    kinds = [r.window.plan.kind for r in result.steps]
    drains = [i for i, kind in enumerate(kinds) if kind is StepKind.DRAIN]
    assert drains and kinds[-1] is not StepKind.DRAIN  # never a trailing drain
    for i in drains:
        plan = result.steps[i].window.plan
        assert (plan.level, plan.hold_s, plan.ramp_s) == (0.0, 4.0, 0.0)
        assert kinds[i + 1] is not StepKind.RECOVERY
    first = next(i for i, r in enumerate(result.steps) if not r.ok and kinds[i] is StepKind.PROBE)
    assert kinds[first + 1] is StepKind.RECOVERY  # the first break still gets the measured recovery
    assert result.breaking_point.idle_time_s == pytest.approx(4.0 * len(drains))


def test_a_cool_down_whose_latency_rose_clearly_is_the_latency_finding() -> None:
    # The recovery level (60 req/s) sits just under the degraded capacity: it recovers, slowly and slower.
    result = run_search(_app(), breaking_point_search(_params(start_level=60.0, growth=3.0)))
    finding = result.breaking_point.metastability
    assert finding is not None
    assert finding.latency_level == 60.0
    assert finding.p95_after_ms is not None and finding.p95_before_ms is not None
    assert finding.p95_after_ms > 2 * finding.p95_before_ms
    assert "at p95" in finding.sentence(LevelMode.ARRIVAL_RATE)
    assert _answer(result) >= 0.9 * 100.0


def test_overshoot_and_drain_come_from_the_stress_scenario_and_are_validated() -> None:
    scenario = StressScenario(
        kind="stress",
        name="stress",
        start=Level(rps=20),
        max=Level(rps=400),
        slo=Slo(p95_ms=500),
        max_overshoot=1.5,
        drain_s=8,
    )
    params = SearchParams.from_scenario(scenario)
    assert (params.max_overshoot, params.drain_s) == (1.5, 8.0)
    assert StressScenario(kind="stress", name="s", start=Level(rps=1), max=Level(rps=2)).max_overshoot == 1.3
    for bad in ({"max_overshoot": 1.0}, {"max_overshoot": 4}, {"drain_s": 0}):
        with pytest.raises(ValidationError):
            StressScenario(kind="stress", name="s", start=Level(rps=1), max=Level(rps=2), **bad)  # type: ignore[arg-type]
