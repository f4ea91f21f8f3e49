"""SLO verdicts for one step window: every criterion, per endpoint, saturation, priority order."""

from __future__ import annotations

import pytest

from harness.capacity.slo import EndpointLimits, SloLimits, judge, slo_limits, success_rps
from harness.config import EndpointSlo, Slo
from harness.measurements import (
    TOTAL,
    EndpointWindow,
    LevelMode,
    Percentiles,
    StepKind,
    StepPlan,
    StepWindow,
)


def _endpoint(
    name: str, *, method: str = "GET", rps: float = 100.0, failures: int = 0, p95: float | None = 80.0
) -> EndpointWindow:
    requests = round(rps * 4)
    return EndpointWindow(
        method=method,
        name=name,
        requests=requests,
        failures=failures,
        rps=rps,
        failures_per_s=failures / 4,
        error_ratio=failures / requests if requests else 0.0,
        latency=Percentiles(p50_ms=40.0, p95_ms=p95, p99_ms=None if p95 is None else p95 * 1.5, max_ms=900.0),
    )


def _window(
    *,
    level: float = 100.0,
    mode: LevelMode = LevelMode.ARRIVAL_RATE,
    total: EndpointWindow | None = None,
    endpoints: list[EndpointWindow] | None = None,
) -> StepWindow:
    plan = StepPlan(index=0, kind=StepKind.PROBE, level=level, mode=mode, hold_s=4.0)
    total = total or _endpoint(TOTAL, method="")
    return StepWindow(
        plan=plan,
        start_ts=0.0,
        end_ts=4.0,
        users=0,
        offered_rps=level if mode is LevelMode.ARRIVAL_RATE else None,
        total=total,
        endpoints=endpoints or [total],
    )


def test_all_criteria_hold_and_each_verdict_shows_measured_against_threshold() -> None:
    limits = SloLimits(p95_ms=100, p99_ms=200, error_ratio=0.01, min_rps=50, saturation_tolerance=0.05)
    judgement = judge(_window(), limits)
    assert judgement.ok
    assert judgement.first_broken is None
    shown = {v.criterion: (v.measured, v.threshold) for v in judgement.verdicts}
    assert shown == {
        "error_ratio": (0.0, 0.01),
        "p95_ms": (80.0, 100),
        "p99_ms": (120.0, 200),
        "saturation": (100.0, 95.0),
        "min_rps": (100.0, 50),
    }


def test_a_latency_percentile_above_its_limit_breaks_the_step() -> None:
    judgement = judge(_window(total=_endpoint(TOTAL, method="", p95=412.0)), SloLimits(p95_ms=300))
    assert not judgement.ok
    broken = judgement.first_broken
    assert broken is not None
    assert (broken.criterion, broken.measured, broken.threshold) == ("p95_ms", 412.0, 300)
    assert broken.describe() == "p95_ms 412 ms > 300 ms"


def test_the_error_ratio_is_judged_over_the_window() -> None:
    judgement = judge(_window(total=_endpoint(TOTAL, method="", failures=20)), SloLimits(error_ratio=0.01))
    assert [v.criterion for v in judgement.broken] == ["error_ratio"]
    assert judgement.broken[0].measured == pytest.approx(0.05)


def test_saturation_in_arrival_rate_mode_compares_successful_throughput_with_offered() -> None:
    limits = SloLimits(saturation_tolerance=0.05)
    kept_up = judge(_window(level=100, total=_endpoint(TOTAL, method="", rps=96.0)), limits)
    fell_behind = judge(_window(level=120, total=_endpoint(TOTAL, method="", rps=100.0)), limits)
    assert kept_up.ok
    assert fell_behind.saturated
    verdict = fell_behind.first_broken
    assert verdict is not None
    assert (verdict.measured, verdict.threshold) == (100.0, 114.0)
    assert verdict.describe() == "saturation 100 req/s < 114 req/s"


def test_failed_requests_do_not_count_as_throughput() -> None:
    window = _window(level=100, total=_endpoint(TOTAL, method="", rps=100.0, failures=40))
    assert success_rps(window) == pytest.approx(90.0)
    assert judge(window, SloLimits(saturation_tolerance=0.05)).saturated


def test_users_mode_checks_saturation_only_against_the_expectation_the_caller_gives() -> None:
    window = _window(level=50, mode=LevelMode.USERS, total=_endpoint(TOTAL, method="", rps=60.0))
    limits = SloLimits(saturation_tolerance=0.10)
    assert judge(window, limits).verdicts == ()
    assert judge(window, limits, expected_rps=62.0).ok
    stopped_growing = judge(window, limits, expected_rps=80.0)
    assert stopped_growing.saturated
    assert stopped_growing.expected_rps == 80.0


def test_a_shortfall_of_a_request_or_two_is_counting_not_saturation() -> None:
    window = _window(level=5, total=_endpoint(TOTAL, method="", rps=4.5))  # 18 of 20 requests
    assert judge(window, SloLimits(saturation_tolerance=0.05)).ok


def test_per_endpoint_limits_apply_to_their_endpoint_only() -> None:
    search = _endpoint("/search", p95=700.0)
    home = _endpoint("/", p95=900.0)
    total = _endpoint(TOTAL, method="", p95=800.0)
    limits = SloLimits(endpoints=(EndpointLimits(name="/search", p95_ms=500),))
    judgement = judge(_window(total=total, endpoints=[search, home, total]), limits)
    assert [(v.criterion, v.endpoint, v.measured) for v in judgement.broken] == [
        ("p95_ms", "GET /search", 700.0)
    ]


def test_an_endpoint_limit_with_a_method_ignores_other_methods() -> None:
    post = _endpoint("/checkout", method="POST", p95=900.0)
    limits = SloLimits(endpoints=(EndpointLimits(name="/checkout", method="GET", p95_ms=500),))
    assert [v.criterion for v in judge(_window(endpoints=[post]), limits).verdicts] == ["saturation"]


def test_which_broke_first_follows_a_stable_priority_errors_latency_saturation_throughput() -> None:
    total = _endpoint(TOTAL, method="", rps=50.0, failures=30, p95=900.0)
    limits = SloLimits(p95_ms=300, error_ratio=0.01, min_rps=80, saturation_tolerance=0.05)
    judgement = judge(_window(level=100, total=total), limits)
    assert [v.criterion for v in judgement.broken] == ["error_ratio", "p95_ms", "saturation", "min_rps"]
    first = judgement.first_broken
    assert first is not None and first.criterion == "error_ratio"


def test_no_requests_means_no_latency_data_but_a_saturated_step() -> None:
    empty = EndpointWindow(
        method="",
        name=TOTAL,
        requests=0,
        failures=0,
        rps=0.0,
        failures_per_s=0.0,
        error_ratio=0.0,
        latency=Percentiles(),
    )
    judgement = judge(_window(level=100, total=empty), SloLimits(p95_ms=300))
    assert [v.criterion for v in judgement.broken] == ["saturation"]
    latency = judgement.verdicts[0]
    assert latency.passed and latency.measured is None


def test_limits_convert_from_the_scenario_slo_including_method_prefixed_endpoints() -> None:
    slo = Slo(
        p95_ms=300,
        error_ratio=0.02,
        min_rps=10,
        endpoints={"GET /search": EndpointSlo(p99_ms=800), "/checkout": EndpointSlo(error_ratio=0.0)},
    )
    limits = slo_limits(slo, saturation_tolerance=0.07)
    assert (limits.p95_ms, limits.error_ratio, limits.min_rps, limits.saturation_tolerance) == (
        300,
        0.02,
        10,
        0.07,
    )
    assert limits.endpoints == (
        EndpointLimits(name="/search", method="GET", p99_ms=800),
        EndpointLimits(name="/checkout", error_ratio=0.0),
    )
