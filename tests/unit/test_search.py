"""The breaking-point search against simulated systems with a known capacity (tests/unit/simulated.py)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from harness.capacity.search import (
    ABORT_CRITERION,
    SearchParams,
    SearchResult,
    SearchStatus,
    breaking_point_search,
)
from harness.capacity.slo import SloLimits
from harness.config import AbortCondition, Level, Slo, StressScenario
from harness.measurements import LevelMode, StepKind, StepPlan, StepRecord, StepWindow
from tests.unit.simulated import SimulatedApp, run_search, search_params

# Capacity-bound limits: no latency limit, so the truth is the model's capacity.
CAPACITY_LIMITS = SloLimits(error_ratio=0.01, saturation_tolerance=0.05)


def _params(mode: LevelMode = LevelMode.ARRIVAL_RATE, **overrides: object) -> SearchParams:
    return search_params(CAPACITY_LIMITS, mode, **overrides)


def _search(app: SimulatedApp, params: SearchParams) -> SearchResult:
    result = run_search(app, breaking_point_search(params))
    planned = [record.window.plan for record in result.steps]
    assert [plan.index for plan in planned] == list(range(len(planned)))
    assert all(plan.level <= params.max_level for plan in planned)
    return result


def _random_app(seed: int, **noise: object) -> SimulatedApp:
    rng = random.Random(seed)
    return SimulatedApp(slots=rng.choice([2, 4, 8]), service_ms=rng.uniform(15, 60), seed=seed, **noise)  # type: ignore[arg-type]


def _relative_error(result: SearchResult, truth: float) -> float:
    found = result.breaking_point.sustainable_rps
    assert found is not None
    return found / truth - 1


@pytest.mark.parametrize("mode", [LevelMode.ARRIVAL_RATE, LevelMode.USERS])
def test_monotonic_system_capacity_found_within_tolerance_over_many_seeds(mode: LevelMode) -> None:
    for seed in range(40):
        app = _random_app(seed, rps_noise=0.01, latency_noise=0.1)
        scale = app.capacity_rps if mode is LevelMode.ARRIVAL_RATE else app.users_capacity()
        start = max(10.0, random.Random(seed).uniform(0.1, 0.4) * scale)
        result = _search(app, _params(mode, start_level=start))
        point = result.breaking_point
        assert point.status == SearchStatus.FOUND, (seed, result.stop_reason)
        assert result.confirmed
        assert abs(_relative_error(result, app.capacity_rps)) <= point.tolerance, seed
        assert point.bracket_low is not None and point.bracket_high is not None
        assert point.bracket_high <= point.bracket_low * (1 + point.tolerance) + 1, seed


def test_the_estimate_from_a_saturated_step_jumps_close_to_the_answer() -> None:
    app = SimulatedApp(slots=4, service_ms=40.0)  # 100 req/s
    result = _search(app, _params(start_level=25.0))
    kinds = [r.window.plan.kind for r in result.steps]
    assert kinds.count(StepKind.PROBE) == 4  # 25, 50, 100, 200
    assert kinds.count(StepKind.BISECT) <= 3  # blind bisection of [100, 200] to 5% needs 4
    assert result.capacity_estimate_rps == pytest.approx(100.0, rel=0.02)
    assert result.breaking_point.criterion is not None
    detail = result.breaking_point.criterion_detail
    assert detail is not None and not detail.passed and detail.measured is not None


def test_an_estimate_that_overload_drags_down_still_lands_within_tolerance() -> None:
    app = SimulatedApp(slots=4, service_ms=40.0, thrash_factor=0.85)  # 100 req/s, 85 while rejecting
    result = _search(app, _params(start_level=25.0))
    assert result.capacity_estimate_rps is not None and result.capacity_estimate_rps < 95.0
    assert result.breaking_point.status == SearchStatus.FOUND
    assert abs(_relative_error(result, 100.0)) <= 0.05


def test_noisy_system_one_bad_window_does_not_decide() -> None:
    misses = []
    for seed in range(40):
        bad = frozenset(random.Random(seed).sample(range(12), 1))
        app = _random_app(seed, rps_noise=0.01, latency_noise=0.2, bad_windows=bad)
        result = _search(app, _params(start_level=0.2 * app.capacity_rps))
        assert result.breaking_point.status == SearchStatus.FOUND, seed
        error = _relative_error(result, app.capacity_rps)
        assert abs(error) <= 2 * result.breaking_point.tolerance, (seed, error)
        if abs(error) > result.breaking_point.tolerance:
            misses.append(seed)
    assert len(misses) <= 2, misses


def test_a_bad_window_at_the_start_is_re_tested_instead_of_reported_as_broken() -> None:
    app = SimulatedApp(slots=4, service_ms=40.0, bad_windows=frozenset({0}))
    result = _search(app, _params(start_level=20.0))
    assert result.breaking_point.status == SearchStatus.FOUND
    assert result.steps[0].broken_by == "error_ratio"
    assert any("re-testing once" in note for note in result.notes)
    assert abs(_relative_error(result, 100.0)) <= 0.05


def test_non_monotonic_cold_start_first_step_slow_then_fine() -> None:
    limits = SloLimits(p95_ms=1000, error_ratio=0.01, saturation_tolerance=0.05)
    warm = _search(SimulatedApp(slots=4, service_ms=40.0), _params(start_level=20.0, limits=limits))
    cold_app = SimulatedApp(slots=4, service_ms=40.0, cold_windows=1, cold_factor=30.0)
    cold = _search(cold_app, _params(start_level=20.0, limits=limits))
    assert cold.steps[0].broken_by == "p95_ms"
    assert cold.breaking_point.status == SearchStatus.FOUND
    assert cold.breaking_point.sustainable_rps == pytest.approx(warm.breaking_point.sustainable_rps, rel=0.05)


def test_a_lucky_window_above_capacity_is_caught_by_the_longer_confirmation() -> None:
    app = SimulatedApp(slots=4, service_ms=40.0, lucky_windows=frozenset({3}))  # the probe at 200 req/s
    result = _search(app, _params(start_level=25.0))
    assert result.steps[3].ok and result.steps[3].window.plan.level == 200.0
    assert result.breaking_point.status == SearchStatus.FOUND
    assert result.confirmed
    assert any("failed a 6 s hold" in note for note in result.notes)
    assert abs(_relative_error(result, 100.0)) <= 0.05


@pytest.mark.parametrize("tolerance", [0.02, 0.05, 0.10])
def test_the_bracket_is_narrowed_to_the_tolerance(tolerance: float) -> None:
    app = SimulatedApp(slots=8, service_ms=35.0)
    result = _search(app, _params(start_level=30.0, tolerance=tolerance))
    point = result.breaking_point
    assert point.status == SearchStatus.FOUND
    assert point.bracket_low is not None and point.bracket_high is not None
    assert point.bracket_high / point.bracket_low - 1 <= tolerance + 1e-9
    assert abs(_relative_error(result, app.capacity_rps)) <= tolerance


def test_broken_at_the_first_step_is_reported_without_looping() -> None:
    app = SimulatedApp(slots=1, service_ms=50.0)  # 20 req/s
    result = _search(app, _params(start_level=60.0, recovery_level=10.0))
    point = result.breaking_point
    assert point.status == SearchStatus.BROKEN_AT_START
    assert (point.level, point.sustainable_rps, point.bracket_high) == (None, None, 60.0)
    assert point.criterion is not None
    search_steps = [r for r in result.steps if r.window.plan.kind is not StepKind.RECOVERY]
    assert [r.window.plan.level for r in search_steps] == [60.0, 60.0]  # the start, re-tested once
    assert result.recovery is not None and result.recovery.recovered


def test_never_breaking_below_the_max_level_reports_not_reached() -> None:
    app = SimulatedApp(slots=4, service_ms=40.0)  # 100 req/s
    result = _search(app, _params(start_level=20.0, max_level=70.0))
    point = result.breaking_point
    assert point.status == SearchStatus.NOT_REACHED
    assert point.level == 70.0 and point.bracket_high is None
    assert result.confirmed
    assert max(r.window.plan.level for r in result.steps) == 70.0
    assert point.sustainable_rps == pytest.approx(70.0, rel=0.02)


def test_recovery_time_is_measured_after_the_first_break() -> None:
    app = SimulatedApp(slots=4, service_ms=40.0, backlog_limit=2000)
    limits = SloLimits(p95_ms=400, error_ratio=0.01, saturation_tolerance=0.05)
    search = breaking_point_search(
        _params(
            start_level=40.0, limits=limits, recovery_level=80.0, recovery_window_s=1.0, recovery_limit_s=40.0
        )
    )
    plan = next(search)
    backlog_at_drop = None
    try:
        while True:
            if plan.kind is StepKind.RECOVERY and backlog_at_drop is None:
                backlog_at_drop = app.backlog
            plan = search.send(app.measure(plan))
    except StopIteration as stop:
        result: SearchResult = stop.value
    assert backlog_at_drop is not None and backlog_at_drop > 100
    truth_s = backlog_at_drop / (app.capacity_rps - 80.0)  # the fluid backlog drains at C − level
    recovery = result.recovery
    assert recovery is not None and recovery.recovered and recovery.level == 80.0
    assert recovery.time_to_recover_s is not None
    assert truth_s - 2.0 <= recovery.time_to_recover_s <= truth_s + 1.0
    assert result.breaking_point.status == SearchStatus.FOUND


def test_without_recovery_measurement_breaks_still_get_a_cool_down() -> None:
    app = SimulatedApp(slots=4, service_ms=40.0)
    result = _search(app, _params(start_level=25.0, measure_recovery=False))
    assert result.recovery is None
    after_breaks = [r.note for r in result.steps if r.window.plan.kind is StepKind.RECOVERY]
    assert after_breaks and set(after_breaks) == {"cool-down"}
    assert abs(_relative_error(result, 100.0)) <= 0.05


def test_no_recovery_within_the_limit_stops_the_search() -> None:
    app = SimulatedApp(slots=4, service_ms=40.0, backlog_limit=2000)
    limits = SloLimits(p95_ms=400, error_ratio=0.01, saturation_tolerance=0.05)
    params = _params(start_level=40.0, limits=limits, recovery_level=80.0, recovery_limit_s=3.0)
    result = _search(app, params)
    assert result.breaking_point.status == SearchStatus.ABORTED
    assert result.recovery is not None and not result.recovery.recovered
    assert result.stop_reason is not None and "did not recover" in result.stop_reason
    assert result.steps[-1].window.plan.kind is StepKind.RECOVERY


ABORT = AbortCondition(error_ratio=0.2, for_s=2)


def _abort_records(result: SearchResult) -> list[StepRecord]:
    return [r for r in result.steps if r.window.aborted]


def test_an_abort_caps_the_search_which_still_finds_the_capacity() -> None:
    app = SimulatedApp(slots=4, service_ms=40.0, abort_error_ratio=0.2)  # 100 req/s; 200 trips the abort
    result = _search(app, _params(start_level=25.0, abort=ABORT))
    point = result.breaking_point
    assert point.status == SearchStatus.FOUND, result.stop_reason
    assert result.confirmed
    assert abs(_relative_error(result, 100.0)) <= point.tolerance
    [tripped] = _abort_records(result)
    assert (tripped.window.plan.level, tripped.ok, tripped.broken_by) == (200.0, False, ABORT_CRITERION)
    verdict = tripped.verdicts[0]
    assert verdict.criterion == ABORT_CRITERION and verdict.threshold == 0.2
    assert verdict.measured is not None and verdict.measured >= 0.2
    after = result.steps[result.steps.index(tripped) + 1 :]
    assert after[0].window.plan.kind is StepKind.RECOVERY  # the load drops at once
    assert max(r.window.plan.level for r in after) < 200.0  # never offered again
    assert point.bracket_high is not None and point.bracket_high < 200.0  # narrowed below the cap
    assert any("stopped pushing" in note for note in result.notes)


def test_an_abort_at_the_first_step_ends_the_search_without_a_level() -> None:
    app = SimulatedApp(slots=4, service_ms=40.0, abort_error_ratio=0.2)
    result = _search(app, _params(start_level=300.0, abort=ABORT))
    point = result.breaking_point
    assert point.status == SearchStatus.ABORTED
    assert len(result.steps) == 1 and result.steps[0].window.aborted
    assert point.level is None and point.sustainable_rps is None
    assert (point.bracket_high, point.criterion) == (300.0, ABORT_CRITERION)
    assert result.stop_reason is not None and "before any level held" in result.stop_reason


def _confirm_index(app: SimulatedApp, params: SearchParams) -> int:
    """Where a deterministic app's search confirms (a dry run on a copy of the app)."""
    dry = _search(replace(app), params)
    return next(r.window.plan.index for r in dry.steps if r.window.plan.kind is StepKind.CONFIRM)


@pytest.mark.parametrize("second", ["recovery", "confirm"])
def test_a_second_abort_at_or_below_the_last_good_level_ends_the_search_with_its_bracket(
    second: str,
) -> None:
    params = _params(start_level=25.0, abort=ABORT)
    app = SimulatedApp(slots=4, service_ms=40.0, abort_error_ratio=0.2)
    index = 4 if second == "recovery" else _confirm_index(app, params)  # 4: right after the cap at 200
    result = _search(replace(app, abort_windows=frozenset({index})), params)
    point = result.breaking_point
    assert point.status == SearchStatus.ABORTED
    first, last = _abort_records(result)
    assert first.window.plan.level == 200.0
    assert last.window.plan.index == index == result.steps[-1].window.plan.index  # ended there
    assert point.level is not None and point.sustainable_rps is not None
    assert point.bracket_low == point.level
    if second == "recovery":  # the bracket the search had: [100, 200]
        assert (point.level, point.bracket_high, point.criterion) == (100.0, 200.0, ABORT_CRITERION)
        assert point.sustainable_rps == pytest.approx(100.0, rel=0.02)
    else:  # the confirmed level broke: it is the upper bound now
        assert point.bracket_high == last.window.plan.level and point.criterion == ABORT_CRITERION
        assert point.level < point.bracket_high
    assert result.stop_reason is not None and "abort condition tripped" in result.stop_reason


def test_an_abort_above_the_last_good_level_again_only_lowers_the_cap() -> None:
    params = _params(start_level=25.0, abort=ABORT)
    app = SimulatedApp(slots=4, service_ms=40.0, abort_error_ratio=0.2)
    dry = _search(replace(app), params)
    bisect = next(r for r in dry.steps if r.window.plan.kind is StepKind.BISECT and r.window.plan.level > 100)
    result = _search(replace(app, abort_windows=frozenset({bisect.window.plan.index})), params)
    assert result.breaking_point.status == SearchStatus.FOUND, result.stop_reason
    cap = bisect.window.plan.level
    later = result.steps[bisect.window.plan.index + 1 :]
    assert [r.window.plan.level for r in _abort_records(result)] == [200.0, cap]
    assert all(r.window.plan.level < cap for r in later)


def test_an_interrupt_ends_the_search_at_once_with_what_it_has() -> None:
    app = SimulatedApp(slots=4, service_ms=40.0)
    windows: list[StepWindow] = []

    def measure(plan: StepPlan) -> StepWindow:
        windows.append(app.measure(plan))
        return windows[-1]

    search = breaking_point_search(_params(start_level=25.0), interrupted=lambda: len(windows) >= 3)
    plan = next(search)
    with pytest.raises(StopIteration) as stop:
        for _ in range(10):
            plan = search.send(measure(plan))
    result: SearchResult = stop.value.value
    assert len(windows) == 3
    assert result.breaking_point.status == SearchStatus.ABORTED
    assert result.stop_reason == "interrupted"
    assert result.steps[-1].note == "interrupted: not judged"
    assert result.breaking_point.level == 50.0  # the bracket so far: two good probes


def test_a_saturated_load_generator_invalidates_its_windows_and_ends_the_climb() -> None:
    app = SimulatedApp(slots=8, service_ms=20.0, generator_limit_rps=150.0)  # 400 req/s, generator 150
    result = _search(app, _params(start_level=50.0))
    point = result.breaking_point
    assert point.status == SearchStatus.NOT_REACHED
    assert point.level == 100.0
    ignored = [r for r in result.steps if r.note.startswith("ignored: load generator saturated")]
    assert [r.window.plan.level for r in ignored] == [200.0, 200.0]
    assert all(not r.verdicts for r in ignored)
    assert result.stop_reason is not None and "workers" in result.stop_reason


def test_a_lagging_generator_window_is_re_run_once_and_then_judged_and_flagged() -> None:
    app = SimulatedApp(slots=8, service_ms=20.0, lagging_windows=frozenset({1, 2, 5}))  # 400 req/s
    result = _search(app, _params(start_level=50.0))
    assert result.breaking_point.status == SearchStatus.FOUND
    first, again = result.steps[1], result.steps[2]  # probe 2 lagged, and lagged again when re-run
    assert (
        first.note.startswith("ignored: generator lagging (scheduling lag p99 40 ms)") and not first.verdicts
    )
    assert again.verdicts and "generator lagging" in again.note
    assert first.window.plan.level == again.window.plan.level
    assert any("twice: judged, figures flagged" in n for n in result.notes)
    assert 400 * 0.85 <= (result.breaking_point.sustainable_rps or 0) <= 400 * 1.05


def test_a_lagging_window_the_apps_own_errors_broke_is_judged_at_once() -> None:
    # Probe 3 (270 req/s, 2.7x capacity) lags and fails 60 % of its requests: less load than planned
    # already broke the app, so re-running it would only overload the app again.
    app = SimulatedApp(slots=4, service_ms=40.0, lagging_windows=frozenset({2}))  # 100 req/s
    result = _search(app, _params(start_level=30.0, growth=3.0))
    overload = result.steps[2]
    assert overload.window.plan.level == 270.0 and overload.verdicts and not overload.ok
    assert overload.broken_by == "error_ratio" and "generator lagging" in overload.note
    assert [r.window.plan.level for r in result.steps].count(270.0) == 1
    assert result.steps[3].window.plan.kind is StepKind.RECOVERY
    assert 100 * 0.85 <= (result.breaking_point.sustainable_rps or 0) <= 100 * 1.05


def test_the_step_budget_bounds_the_search() -> None:
    app = SimulatedApp(slots=4, service_ms=40.0)
    result = _search(app, _params(start_level=1.0, max_steps=5))
    assert len(result.steps) == 5
    assert result.breaking_point.status == SearchStatus.ABORTED


def test_a_window_for_another_step_is_refused() -> None:
    app = SimulatedApp()
    search = breaking_point_search(_params())
    first = next(search)
    wrong = app.measure(first.model_copy(update={"index": 7}))
    with pytest.raises(ValueError, match="step 0"):
        search.send(wrong)


def test_load_time_counts_ramps_and_windows_and_drains_count_as_idle_time() -> None:
    app = SimulatedApp(slots=4, service_ms=40.0)
    result = _search(app, _params(start_level=25.0))
    loaded = [r for r in result.steps if r.window.plan.kind is not StepKind.DRAIN]
    drains = [r for r in result.steps if r.window.plan.kind is StepKind.DRAIN]
    expected = sum(r.window.plan.ramp_s + r.window.duration_s for r in loaded)
    assert result.breaking_point.load_time_s == pytest.approx(expected)
    assert drains and all(r.window.plan.level == 0 for r in drains)
    assert result.breaking_point.idle_time_s == pytest.approx(sum(r.window.duration_s for r in drains))


def test_params_from_a_stress_scenario() -> None:
    scenario = StressScenario(
        kind="stress",
        name="stress",
        start=Level(rps=20),
        max=Level(rps=400),
        slo=Slo(p95_ms=500, error_ratio=0.01, min_rps=50),
        saturation_tolerance=0.08,
    )
    params = SearchParams.from_scenario(scenario, expected=Level(rps=30))
    assert params.mode is LevelMode.ARRIVAL_RATE
    assert (params.start_level, params.max_level, params.recovery_level) == (20.0, 400.0, 30.0)
    assert params.limits.p95_ms == 500 and params.limits.saturation_tolerance == 0.08
    assert params.limits.min_rps is None  # a load-scenario criterion; every low probe would fail it
    users = scenario.model_copy(update={"start": Level(users=5), "max": Level(users=50)})
    assert SearchParams.from_scenario(users, expected=Level(rps=30)).recovery_level is None
