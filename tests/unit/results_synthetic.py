"""Synthetic but realistic runs for the results/report tests and `bench/report_render.py`.

A simple queueing-flavoured model of an app with a known capacity: latency
grows with utilisation and explodes past capacity, throughput stops following
the offered load at capacity, and 503s appear past it. Deterministic (seeded),
so tests can assert exact values read back from disk.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from harness.measurements import (
    TOTAL,
    BreakingPoint,
    EndpointWindow,
    ErrorCount,
    LevelMode,
    Percentiles,
    Recovery,
    ScenarioResult,
    StepKind,
    StepPlan,
    StepRecord,
    StepWindow,
    TimeseriesPoint,
    Verdict,
)
from harness.results import (
    DynoGroup,
    LevelInfo,
    LoadGeneratorInfo,
    PlatformInfo,
    ReleaseInfo,
    RunMeta,
    ScaleUp,
)

__all__ = ["CPU_WARNING", "P95_SLO_MS", "AppModel", "synthetic_load", "synthetic_meta", "synthetic_stress"]

P95_SLO_MS = 300.0
ERROR_SLO = 0.01
# Locust's own warning text (locust/runners.py), as the load layer records it.
CPU_WARNING = (
    "CPU usage above 90%! This may constrain your throughput and may even give inconsistent response "
    "time measurements! See https://docs.locust.io/en/stable/running-distributed.html for how to "
    "distribute the load over multiple CPU cores or machines"
)
START_TS = 1_795_000_000.0  # 2026-11-18, a fixed clock for deterministic tests


@dataclass(frozen=True)
class AppModel:
    """An app of `capacity_rps`; endpoints are (method, name, share of traffic, latency factor)."""

    capacity_rps: float = 160.0
    base_ms: float = 40.0
    endpoints: tuple[tuple[str, str, float, float], ...] = (
        ("GET", "/", 0.5, 1.0),
        ("GET", "/search", 0.3, 2.0),
        ("POST", "/items", 0.2, 1.3),
    )
    seed: int = 7
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def __post_init__(self) -> None:
        self.rng.seed(self.seed)

    @classmethod
    def with_endpoints(cls, count: int, **kwargs: float) -> AppModel:
        """`count` endpoints with shares falling off and latency factors spread 0.6–3.0."""
        weights = [1.0 / (i + 1) for i in range(count)]
        total = sum(weights)
        endpoints = tuple(
            (
                "GET" if i % 4 else "POST",
                f"/api/v1/resource-{i:02d}",
                w / total,
                0.6 + 2.4 * i / max(1, count - 1),
            )
            for i, w in enumerate(weights)
        )
        return cls(endpoints=endpoints, **kwargs)  # type: ignore[arg-type]

    def achieved_rps(self, offered: float) -> float:
        return min(offered, self.capacity_rps)

    def error_ratio(self, offered: float) -> float:
        return 0.0 if offered <= self.capacity_rps else 0.5 * (offered - self.capacity_rps) / offered

    def p50_ms(self, offered: float, factor: float) -> float:
        rho = offered / self.capacity_rps
        overload = max(0.0, rho - 1.0)
        return self.base_ms * factor * (1 + 3 * min(rho, 1.0) ** 4) * (1 + 6 * overload)

    def percentiles(self, offered: float, factor: float, jitter: float = 1.0) -> Percentiles:
        p50 = self.p50_ms(offered, factor) * jitter
        return Percentiles(
            p50_ms=round(p50),
            p90_ms=round(p50 * 1.9),
            p95_ms=round(p50 * 2.2),
            p99_ms=round(p50 * 3.5),
            max_ms=round(p50 * 6),
            avg_ms=round(p50 * 1.2, 1),
        )


def _endpoint(
    model: AppModel, method: str, name: str, share: float, factor: float, offered: float, seconds: float
) -> EndpointWindow:
    rps = model.achieved_rps(offered) * share
    requests = round(rps * seconds)
    failures = round(requests * model.error_ratio(offered))
    return EndpointWindow(
        method=method,
        name=name,
        requests=requests,
        failures=failures,
        rps=round(requests / seconds, 2),
        failures_per_s=round(failures / seconds, 2),
        error_ratio=round(failures / requests, 4) if requests else 0.0,
        latency=model.percentiles(offered, factor),
    )


def _total(model: AppModel, endpoints: list[EndpointWindow], seconds: float) -> EndpointWindow:
    requests = sum(e.requests for e in endpoints)
    failures = sum(e.failures for e in endpoints)
    share = {name: s for _, name, s, _ in model.endpoints}

    def mix(attr: str) -> float:
        return round(sum(share[e.name] * (getattr(e.latency, attr) or 0.0) for e in endpoints))

    return EndpointWindow(
        method="",
        name=TOTAL,
        requests=requests,
        failures=failures,
        rps=round(requests / seconds, 2),
        failures_per_s=round(failures / seconds, 2),
        error_ratio=round(failures / requests, 4) if requests else 0.0,
        latency=Percentiles(
            p50_ms=mix("p50_ms"),
            p90_ms=mix("p90_ms"),
            p95_ms=mix("p95_ms"),
            p99_ms=mix("p99_ms"),
            max_ms=max(e.latency.max_ms or 0.0 for e in endpoints),
            avg_ms=mix("avg_ms"),
        ),
    )


def _errors(model: AppModel, endpoints: list[EndpointWindow]) -> list[ErrorCount]:
    errors = []
    for e in endpoints:
        if e.failures:
            timeouts = e.failures // 4
            errors.append(
                ErrorCount(
                    method=e.method,
                    name=e.name,
                    kind="HTTP 503",
                    status=503,
                    count=e.failures - timeouts,
                    example="503 Server Error: Service Unavailable (H12 Request timeout)",
                )
            )
            if timeouts:
                errors.append(
                    ErrorCount(
                        method=e.method,
                        name=e.name,
                        kind="ConnectionResetError",
                        count=timeouts,
                        example="ConnectionResetError(104, 'Connection reset by peer')",
                    )
                )
    return errors


def _window(model: AppModel, plan: StepPlan, start_ts: float, offered: float) -> StepWindow:
    seconds = plan.hold_s
    endpoints = [_endpoint(model, m, n, s, f, offered, seconds) for m, n, s, f in model.endpoints]
    return StepWindow(
        plan=plan,
        start_ts=start_ts,
        end_ts=start_ts + seconds,
        users=round(offered * 0.4),
        offered_rps=offered if plan.mode == LevelMode.ARRIVAL_RATE else None,
        total=_total(model, endpoints, seconds),
        endpoints=endpoints,
        errors=_errors(model, endpoints),
        generator_cpu_percent=round(20 + 50 * offered / (2 * model.capacity_rps), 1),
        generator_saturated=False,
    )


def _judge(window: StepWindow) -> tuple[list[Verdict], bool, str | None]:
    p95 = window.total.latency.p95_ms
    verdicts = [
        Verdict(
            criterion="p95_ms", threshold=P95_SLO_MS, measured=p95, passed=(p95 or 0) <= P95_SLO_MS, unit="ms"
        ),
        Verdict(
            criterion="error_ratio",
            threshold=ERROR_SLO,
            measured=window.total.error_ratio,
            passed=window.total.error_ratio <= ERROR_SLO,
            unit="ratio",
        ),
    ]
    broken = next((v.criterion for v in verdicts if not v.passed), None)
    return verdicts, broken is None, broken


def _seconds(model: AppModel, scenario: str, window: StepWindow, offered: float) -> list[TimeseriesPoint]:
    """One point per second per endpoint plus the total, with a little deterministic noise."""
    points: list[TimeseriesPoint] = []
    plan = window.plan
    for second in range(int(window.duration_s)):
        ts = window.start_ts + second
        jitter = 0.9 + 0.2 * model.rng.random()
        rows = [(m, n, s, f) for m, n, s, f in model.endpoints]
        for method, name, share, factor in rows:
            lat = model.percentiles(offered, factor, jitter)
            rps = model.achieved_rps(offered) * share * jitter
            points.append(
                TimeseriesPoint(
                    ts=ts, scenario=scenario, step=plan.index, kind=plan.kind, method=method, name=name,
                    users=window.users, offered_rps=window.offered_rps, rps=round(rps, 2),
                    failures_per_s=round(rps * model.error_ratio(offered), 2),
                    p50_ms=lat.p50_ms, p95_ms=lat.p95_ms, p99_ms=lat.p99_ms,
                )
            )  # fmt: skip
        lat = window.total.latency
        rps = model.achieved_rps(offered) * jitter
        points.append(
            TimeseriesPoint(
                ts=ts, scenario=scenario, step=plan.index, kind=plan.kind, method="", name=TOTAL,
                users=window.users, offered_rps=window.offered_rps, rps=round(rps, 2),
                failures_per_s=round(rps * model.error_ratio(offered), 2),
                p50_ms=round((lat.p50_ms or 0) * jitter), p95_ms=round((lat.p95_ms or 0) * jitter),
                p99_ms=round((lat.p99_ms or 0) * jitter),
            )
        )  # fmt: skip
    return points


def _merge_windows(windows: list[StepWindow], plan: StepPlan) -> StepWindow:
    """The judged window of a load scenario: the hold's windows merged (requests summed)."""
    first, last = windows[0], windows[-1]
    seconds = last.end_ts - first.start_ts
    by_name: dict[str, list[EndpointWindow]] = {}
    for w in windows:
        for e in w.endpoints:
            by_name.setdefault(e.name, []).append(e)
    merged = [
        items[0].model_copy(
            update={
                "requests": sum(i.requests for i in items),
                "failures": sum(i.failures for i in items),
                "rps": round(sum(i.requests for i in items) / seconds, 2),
                "failures_per_s": round(sum(i.failures for i in items) / seconds, 2),
            }
        )
        for items in by_name.values()
    ]
    total = windows[0].total.model_copy(
        update={
            "requests": sum(w.total.requests for w in windows),
            "failures": sum(w.total.failures for w in windows),
            "rps": round(sum(w.total.requests for w in windows) / seconds, 2),
        }
    )
    return first.model_copy(update={"plan": plan, "end_ts": last.end_ts, "total": total, "endpoints": merged})


def synthetic_load(
    model: AppModel, *, offered_rps: float = 60.0, hold_s: float = 30.0, window_s: float = 5.0,
    start_ts: float = START_TS, name: str = "expected-load",
) -> ScenarioResult:  # fmt: skip
    """A load scenario at `offered_rps` (arrival-rate mode): hold windows, judged on the whole hold."""
    windows, points = [], []
    count = max(1, int(hold_s // window_s))
    for i in range(count):
        plan = StepPlan(index=i, kind=StepKind.HOLD, level=offered_rps, mode=LevelMode.ARRIVAL_RATE,
                        hold_s=window_s, label=f"hold {i + 1}")  # fmt: skip
        window = _window(model, plan, start_ts + 10 + i * window_s, offered_rps)
        windows.append(window)
        points += _seconds(model, name, window, offered_rps)
    judged_plan = StepPlan(index=0, kind=StepKind.HOLD, level=offered_rps, mode=LevelMode.ARRIVAL_RATE,
                           hold_s=count * window_s, label="hold")  # fmt: skip
    judged = _merge_windows(windows, judged_plan)
    verdicts, ok, _ = _judge(judged)
    steps = [
        StepRecord(window=w, verdicts=_judge(w)[0], ok=_judge(w)[1], broken_by=_judge(w)[2]) for w in windows
    ]
    return ScenarioResult(
        name=name, kind="load", mode=LevelMode.ARRIVAL_RATE, status="passed" if ok else "failed",
        started_ts=start_ts, ended_ts=judged.end_ts, steps=steps, judged=judged, verdicts=verdicts,
        timeseries=points, errors=[e for w in windows for e in w.errors],
    )  # fmt: skip


def synthetic_stress(
    model: AppModel, *, step_hold_s: float = 4.0, start_ts: float = START_TS + 100,
    name: str = "find-breaking-point", cpu_warning: bool = False, start_rps: float = 45.0,
    bisections: int = 3, recovery_rps: float = 60.0,
) -> ScenarioResult:  # fmt: skip
    """A breaking-point search in arrival-rate mode: probe ×2, bisect, confirm, recover."""
    steps: list[StepRecord] = []
    points: list[TimeseriesPoint] = []
    ts = start_ts

    def run(kind: StepKind, level: float, label: str) -> StepRecord:
        nonlocal ts, points
        index = len(steps)
        hold = step_hold_s * (2 if kind == StepKind.CONFIRM else 1)
        plan = StepPlan(index=index, kind=kind, level=level, mode=LevelMode.ARRIVAL_RATE, ramp_s=1.0,
                        hold_s=hold, label=label)  # fmt: skip
        window = _window(model, plan, ts + 1.0, level)
        if cpu_warning and index == 2:
            window = window.model_copy(update={"generator_cpu_percent": 96.0, "generator_saturated": True})
        verdicts, ok, broken = _judge(window)
        steps.append(StepRecord(window=window, verdicts=verdicts, ok=ok, broken_by=broken))
        points += _seconds(model, name, window, level)
        ts = window.end_ts
        return steps[-1]

    level, low, high = start_rps, 0.0, 0.0
    while run(StepKind.PROBE, level, f"probe {len(steps) + 1}").ok:
        low, level = level, level * 2
    high = level
    for i in range(bisections):
        middle = (low + high) / 2
        if run(StepKind.BISECT, middle, f"bisect {i + 1}").ok:
            low = middle
        else:
            high = middle
    run(StepKind.CONFIRM, low, "confirm")
    run(StepKind.RECOVERY, recovery_rps, "recovery")
    good = [s for s in steps if s.ok and s.window.plan.kind in {StepKind.PROBE, StepKind.BISECT}]
    bad = [s for s in steps if not s.ok and s.window.plan.kind in {StepKind.PROBE, StepKind.BISECT}]
    last_good = max(good, key=lambda s: s.window.plan.level)
    first_bad = min(bad, key=lambda s: s.window.plan.level)
    point = BreakingPoint(
        status="found", mode=LevelMode.ARRIVAL_RATE, level=last_good.window.plan.level,
        sustainable_rps=last_good.window.total.rps, bracket_low=last_good.window.plan.level,
        bracket_high=first_bad.window.plan.level, criterion=first_bad.broken_by,
        criterion_detail=next(v for v in first_bad.verdicts if not v.passed),
        load_time_s=ts - start_ts, tolerance=0.05,
    )  # fmt: skip
    warnings = [CPU_WARNING] if cpu_warning else []
    return ScenarioResult(
        name=name, kind="stress", mode=LevelMode.ARRIVAL_RATE, status="passed", started_ts=start_ts,
        ended_ts=ts, steps=steps, breaking_point=point,
        recovery=Recovery(level=recovery_rps, recovered=True, time_to_recover_s=3.0, limit_s=30.0),
        timeseries=points, errors=[e for s in steps for e in s.window.errors], cpu_warnings=warnings,
    )  # fmt: skip


def synthetic_meta(*, release: int = 52, cpu_warnings: list[str] | None = None) -> RunMeta:
    """What a pipeline would know about the emulator's demo app at the start of a run."""
    return RunMeta(
        platform=PlatformInfo(kind="emulator", api_host="127.0.0.1:5000", app_url="http://127.0.0.1:5001/"),
        release=ReleaseInfo(
            version=release, description="Deploy 3f2c1ab", commit="3f2c1ab9d0e4", user="dev@example.com"
        ),
        slug_size_bytes=48_000_000,
        formation_original=[
            DynoGroup(type="web", quantity=1, size="Standard-1X", dyno_cost_per_hour_usd=0.035)
        ],
        formation_tested=[
            DynoGroup(type="web", quantity=4, size="Standard-2X", dyno_cost_per_hour_usd=0.069)
        ],
        scale_up=ScaleUp(
            latency_s=14.2, dyno_boot_s={"web.1": 0.0, "web.2": 11.8, "web.3": 12.9, "web.4": 14.2}
        ),
        expected_peak=LevelInfo(mode=LevelMode.ARRIVAL_RATE, value=60.0),
        required_headroom=1.5,
        load_generator=LoadGeneratorInfo(
            workers=0, host="ci-runner", cpu_count=2, cpu_warnings=cpu_warnings or []
        ),
    )
