"""Judge one measured step against service level limits.

A step is *broken* when any criterion fails over its window: the error ratio,
a latency percentile (in total or for one endpoint), the minimum throughput,
or **saturation** — the app no longer turns more offered load into more
throughput. Saturation needs an expectation of what the step should have
achieved: in arrival-rate mode that is the offered rate; in users mode the
caller (the breaking-point search) supplies it from a lower level that was
still good, scaled by the level (per-user throughput should stay constant
while the app keeps up).

`judge()` returns one `Verdict` per criterion, in a fixed priority order, so
"which broke first" is stable: errors, then latency (lowest percentile
first: a broken median means most users suffer), then saturation, then the
minimum throughput. Pure logic: no I/O, no clock, no Locust.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from harness.config import EndpointSlo, Slo
from harness.measurements import (
    TOTAL,
    EndpointLimits,
    EndpointWindow,
    LevelMode,
    SloLimits,
    StepRecord,
    StepWindow,
    Verdict,
)

__all__ = [
    "LATENCY_PERCENTILES",
    "SATURATION_MIN_SHORTFALL",
    "EndpointLimits",
    "SloLimits",
    "StepJudgement",
    "judge",
    "slo_limits",
    "step_record",
    "success_rps",
]

# A saturated window is short of the expected throughput by at least this many requests.
SATURATION_MIN_SHORTFALL = 2

# Latency criteria in priority order (SLO field name, Percentiles lookup name).
LATENCY_PERCENTILES: tuple[tuple[str, str], ...] = (
    ("p50_ms", "p50"),
    ("p90_ms", "p90"),
    ("p95_ms", "p95"),
    ("p99_ms", "p99"),
    ("max_ms", "max"),
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def slo_limits(slo: Slo, *, saturation_tolerance: float | None = 0.10) -> SloLimits:
    """A scenario's `Slo` from scenarios.yaml as the typed limits steps are judged against."""
    endpoints = tuple(_endpoint_limits(name, spec) for name, spec in slo.endpoints.items())
    return SloLimits(
        p50_ms=slo.p50_ms,
        p95_ms=slo.p95_ms,
        p99_ms=slo.p99_ms,
        error_ratio=slo.error_ratio,
        min_rps=slo.min_rps,
        saturation_tolerance=saturation_tolerance,
        endpoints=endpoints,
    )


def _endpoint_limits(key: str, spec: EndpointSlo) -> EndpointLimits:
    """'GET /search' or '/search' → EndpointLimits."""
    method, _, name = key.partition(" ")
    if not name:
        method, name = "", key
    return EndpointLimits(
        name=name,
        method=method or None,
        p50_ms=spec.p50_ms,
        p95_ms=spec.p95_ms,
        p99_ms=spec.p99_ms,
        error_ratio=spec.error_ratio,
    )


class StepJudgement(_Frozen):
    """Every criterion judged for one window, in priority order."""

    verdicts: tuple[Verdict, ...]
    expected_rps: float | None = None  # what the saturation check expected (None: not checked)

    @property
    def ok(self) -> bool:
        """True when every criterion held."""
        return all(v.passed for v in self.verdicts)

    @property
    def broken(self) -> tuple[Verdict, ...]:
        """The failed criteria, in priority order."""
        return tuple(v for v in self.verdicts if not v.passed)

    @property
    def first_broken(self) -> Verdict | None:
        """The criterion reported as the one that broke first (highest priority failure)."""
        return next(iter(self.broken), None)

    @property
    def saturated(self) -> bool:
        """True when the saturation criterion failed."""
        return any(v.criterion == "saturation" for v in self.broken)


def step_record(window: StepWindow, judgement: StepJudgement | None, note: str = "") -> StepRecord:
    """A measured step with its verdicts, as run records and reports keep it (None: not judged)."""
    if judgement is None:
        return StepRecord(window=window, ok=False, note=note)
    first = judgement.first_broken
    return StepRecord(
        window=window,
        verdicts=list(judgement.verdicts),
        ok=judgement.ok,
        broken_by=first.criterion if first is not None else None,
        note=note,
    )


def success_rps(window: StepWindow) -> float:
    """Successful completions per second over the window (failures do not count as throughput)."""
    return max(0.0, window.total.rps - window.total.failures_per_s)


def judge(window: StepWindow, limits: SloLimits, *, expected_rps: float | None = None) -> StepJudgement:
    """Judge `window` against `limits`.

    `expected_rps` is the throughput the step should have reached if the app
    kept up. Default: the offered rate in arrival-rate mode; in users mode
    saturation is only checked when the caller passes it.
    """
    if expected_rps is None and window.plan.mode is LevelMode.ARRIVAL_RATE:
        expected_rps = window.offered_rps if window.offered_rps is not None else window.plan.level
    verdicts = [
        *_error_verdicts(window, limits),
        *_latency_verdicts(window, limits),
        *_saturation_verdicts(window, limits, expected_rps),
        *_throughput_verdicts(window, limits),
    ]
    checked = expected_rps if limits.saturation_tolerance is not None else None
    return StepJudgement(verdicts=tuple(verdicts), expected_rps=checked)


def _endpoint_label(endpoint: EndpointWindow) -> str | None:
    return None if endpoint.name == TOTAL else f"{endpoint.method} {endpoint.name}".strip()


def _matched(window: StepWindow, limits: SloLimits) -> Iterator[tuple[EndpointLimits, EndpointWindow]]:
    for spec in limits.endpoints:
        for endpoint in window.endpoints:
            if endpoint.name != TOTAL and spec.matches(endpoint):
                yield spec, endpoint


def _upper(criterion: str, endpoint: str | None, limit: float, measured: float | None, unit: str) -> Verdict:
    """A limit the measured value must not exceed; no data (None) cannot break it."""
    passed = measured is None or measured <= limit
    return Verdict(
        criterion=criterion, endpoint=endpoint, threshold=limit, measured=measured, passed=passed, unit=unit
    )


def _error_verdicts(window: StepWindow, limits: SloLimits) -> Iterator[Verdict]:
    if limits.error_ratio is not None:
        yield _upper("error_ratio", None, limits.error_ratio, window.total.error_ratio, "ratio")
    for spec, endpoint in _matched(window, limits):
        if spec.error_ratio is not None:
            label = _endpoint_label(endpoint)
            yield _upper("error_ratio", label, spec.error_ratio, endpoint.error_ratio, "ratio")


def _latency_verdicts(window: StepWindow, limits: SloLimits) -> Iterator[Verdict]:
    for field, name in LATENCY_PERCENTILES:
        limit = getattr(limits, field)
        if limit is not None:
            yield _upper(field, None, limit, window.total.latency.get(name), "ms")
    for spec, endpoint in _matched(window, limits):
        for field, name in LATENCY_PERCENTILES:
            limit = getattr(spec, field)
            if limit is not None:
                yield _upper(field, _endpoint_label(endpoint), limit, endpoint.latency.get(name), "ms")


def _saturation_verdicts(
    window: StepWindow, limits: SloLimits, expected_rps: float | None
) -> Iterator[Verdict]:
    """Successful throughput must reach expected × (1 − tolerance); the threshold is in req/s."""
    if limits.saturation_tolerance is None or expected_rps is None or expected_rps <= 0:
        return
    threshold = expected_rps * (1.0 - limits.saturation_tolerance)
    if window.duration_s > 0:
        threshold = min(threshold, expected_rps - SATURATION_MIN_SHORTFALL / window.duration_s)
    measured = success_rps(window)
    yield Verdict(
        criterion="saturation",
        threshold=round(threshold, 3),
        measured=round(measured, 3),
        passed=measured >= threshold,
        unit="req/s",
    )


def _throughput_verdicts(window: StepWindow, limits: SloLimits) -> Iterator[Verdict]:
    if limits.min_rps is None:
        return
    measured = success_rps(window)
    yield Verdict(
        criterion="min_rps",
        threshold=limits.min_rps,
        measured=round(measured, 3),
        passed=measured >= limits.min_rps,
        unit="req/s",
    )
