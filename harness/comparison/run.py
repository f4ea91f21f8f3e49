"""Resolve the two sides, extract one value per repeat and metric, check comparability, decide.

Each run directory is one independent repeat. The primary metrics per repeat:
the breaking point (sustainable req/s) of the stress scenario, and at the
fixed level of the expected-load scenario p50/p95/p99, the achieved
throughput and the error ratio. Per-request latencies are never pooled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.capacity.compare import DEFAULT_MARGIN, Direction, MetricComparison, Outcome, compare_metric
from harness.comparison.model import (
    ComparabilityWarning,
    Comparison,
    GateOutcome,
    Side,
    SideSummary,
)
from harness.errors import ConfigError
from harness.measurements import ScenarioKind, SearchStatus, format_number
from harness.results.model import RunRecord, ScenarioEntry
from harness.results.rundir import RunDir
from harness.results.store import RunStore

__all__ = ["DEFAULT_GATES", "METRICS", "MetricSpec", "compare_sides", "resolve_side"]


@dataclass(frozen=True)
class MetricSpec:
    """A primary metric: how to read one repeat's value, its unit and which way is better."""

    name: str
    label: str
    unit: str
    direction: Direction
    read: Callable[[RunRecord], float | None]


def _stress(record: RunRecord) -> ScenarioEntry | None:
    return next((s for s in record.scenarios if s.kind == ScenarioKind.STRESS), None)


def _breaking_point(record: RunRecord) -> float | None:
    stress = _stress(record)
    point = stress.breaking_point if stress is not None else record.breaking_point
    if point is None or point.status != SearchStatus.FOUND:
        return None
    return point.sustainable_rps if point.sustainable_rps is not None else point.level


def _judged(name: str) -> Callable[[RunRecord], float | None]:
    def read(record: RunRecord) -> float | None:
        scenario = record.expected_load_scenario()
        if scenario is None or scenario.judged is None:
            return None
        total = scenario.judged.total
        if name == "rps":
            return total.rps
        if name == "error_ratio":
            return total.error_ratio
        return total.latency.get(name)

    return read


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("breaking_point", "breaking point", "req/s", Direction.HIGHER, _breaking_point),
    MetricSpec("p50", "p50 at the expected load", "ms", Direction.LOWER, _judged("p50")),
    MetricSpec("p95", "p95 at the expected load", "ms", Direction.LOWER, _judged("p95")),
    MetricSpec("p99", "p99 at the expected load", "ms", Direction.LOWER, _judged("p99")),
    MetricSpec("throughput", "throughput at the expected load", "req/s", Direction.HIGHER, _judged("rps")),
    MetricSpec(
        "error_ratio", "error ratio at the expected load", "ratio", Direction.LOWER, _judged("error_ratio")
    ),
)
DEFAULT_GATES = ("breaking_point", "p95")


# ----- the sides ------------------------------------------------------------------------------


def resolve_side(spec: str, store: RunStore, *, app: str | None = None) -> Side:
    """A side from a run directory, a run id, a series id, or a release ('v51' / '51', with `app`).

    A release means its newest series (all repeats of the newest `--repeat` or `harness ab` run
    of that release); a run that belongs to a series brings its whole series.
    """
    path = Path(spec)
    if (path / "run.json").is_file() or (store.reports_dir / spec / "run.json").is_file():
        run = store.open(spec)
        _refuse_many_formations(run)
        return Side(label=_label(run.record), runs=_series_of(run, store))
    runs = _all_runs(store, app)
    series = [r for r in runs if r.record.series_id == spec]
    if series:
        return Side(label=_label(series[0].record), runs=tuple(_by_repeat(series)))
    version = spec[1:] if spec[:1] in {"v", "V"} else spec
    if version.isdigit():
        of_release = [r for r in runs if r.record.release.version == int(version)]
        if of_release:
            newest = max(of_release, key=lambda r: (r.record.started_at, r.record.run_id))
            return Side(label=f"v{version}", runs=_series_of(newest, store, of_release))
    where = f" of app {app}" if app else ""
    raise ConfigError(
        f"no run matches '{spec}'{where} under {store.reports_dir}: give a run directory, a run id, "
        "a series id or a release such as v51 (with --app); `harness history` lists the runs."
    )


def _refuse_many_formations(run: RunDir) -> None:
    """A run over several formations has no one breaking point: a side is one of its formations."""
    formations = run.record.formations
    if formations:
        dirs = ", ".join(str(run.path / f.dir) for f in formations[:3])
        raise ConfigError(
            f"{run.path} is one run over {len(formations)} formations, with no single breaking point to "
            f"compare. Give one formation's directory as the side instead (e.g. {dirs})."
        )


def _all_runs(store: RunStore, app: str | None) -> list[RunDir]:
    runs = []
    for path in store.run_dirs():
        try:
            run = RunDir.open(path)
        except Exception:
            continue
        # A run over several formations is no sample of one formation (its formations are, inside it).
        if (app is None or run.record.app == app) and not run.record.formations:
            runs.append(run)
    return runs


def _series_of(run: RunDir, store: RunStore, pool: Iterable[RunDir] | None = None) -> tuple[RunDir, ...]:
    series_id = run.record.series_id
    if series_id is None:
        return (run,)
    candidates = pool if pool is not None else _all_runs(store, run.record.app)
    return tuple(_by_repeat([r for r in candidates if r.record.series_id == series_id]))


def _by_repeat(runs: Sequence[RunDir]) -> list[RunDir]:
    return sorted(runs, key=lambda r: (r.record.repeat or 0, r.record.started_at))


def _label(record: RunRecord) -> str:
    if record.label:
        return record.label
    version = record.release.version
    return f"v{version}" if version is not None else record.run_id


# ----- comparability --------------------------------------------------------------------------


def _facts(record: RunRecord) -> dict[str, str]:
    """What must match for a comparison to be fair, as text per aspect."""
    scenarios = sorted(record.scenarios, key=lambda s: s.name)
    return {
        "formation": ", ".join(f"{g.type} {g.describe()}" for g in record.formation_tested) or "unknown",
        "scenario definitions": repr([(s.name, s.kind.value, s.config) for s in scenarios]),
        "locustfile": ", ".join(f"{s.name}:{(s.locustfile_sha256 or '?')[:12]}" for s in scenarios),
        "load generator": (
            f"{record.load_generator.workers} workers on {record.load_generator.host or '?'} "
            f"({record.load_generator.cpu_count or '?'} CPUs)"
        ),
        "region/stack": f"{record.platform.region or '?'}/{record.platform.stack or '?'}",
        "harness version": record.versions.harness or "?",
    }


def comparability(base: Side, new: Side) -> list[ComparabilityWarning]:
    """Every aspect that differs across the runs of both sides, and runs whose generator was saturated."""
    warnings: list[ComparabilityWarning] = []
    every = [*base.runs, *new.runs]
    facts = [(run, _facts(run.record)) for run in every]
    for aspect in facts[0][1]:
        seen = {f[aspect] for _, f in facts}
        if len(seen) > 1:
            shown = " vs ".join(sorted(seen))[:300] if aspect != "scenario definitions" else "they differ"
            serious = aspect != "harness version"
            warnings.append(ComparabilityWarning(what=aspect, detail=shown, serious=serious))
    for side in (base, new):
        for run in side.runs:
            if _generator_flagged(run):
                warnings.append(
                    ComparabilityWarning(
                        what="load generator",
                        detail=f"{side.label} run {run.record.run_id} was measured with the load generator "
                        "saturated or lagging: its figures may be the generator's, not the app's",
                    )
                )
    return warnings


def _generator_flagged(run: RunDir) -> bool:
    record = run.record
    if record.load_generator.cpu_warnings or any(s.cpu_warnings for s in record.scenarios):
        return True
    steps = run.steps
    if steps.empty:
        return False
    # A step the search judged although the generator lagged twice (it re-runs a lagging step once):
    # its latency includes the generator's own delay.
    notes = steps["note"].fillna("").astype(str) if "note" in steps else None
    lagged = notes is not None and bool(
        (notes.str.contains("generator lagging") & ~notes.str.startswith("ignored")).any()
    )
    return lagged or bool(steps["generator_saturated"].astype(bool).any())


# ----- the comparison -------------------------------------------------------------------------


def _summary(side: Side) -> SideSummary:
    values: dict[str, list[float]] = {}
    for spec in METRICS:
        read = [spec.read(run.record) for run in side.runs]
        values[spec.name] = [v for v in read if v is not None]
    first = side.runs[0].record
    return SideSummary(
        label=side.label,
        app=first.app,
        releases=[run.record.release.version for run in side.runs],
        run_ids=[run.record.run_id for run in side.runs],
        values=values,
    )


def compare_sides(
    base: Side,
    new: Side,
    *,
    margin: float = DEFAULT_MARGIN,
    gates: Sequence[str] = DEFAULT_GATES,
    strict: bool = False,
) -> Comparison:
    """Compare every primary metric of `new` against `base`; gates decide the outcome."""
    unknown = [g for g in gates if g not in {m.name for m in METRICS}]
    if unknown:
        names = ", ".join(m.name for m in METRICS)
        raise ConfigError(f"unknown gate metric {', '.join(unknown)}: choose from {names}.")
    warnings = comparability(base, new)
    serious = [w for w in warnings if w.serious]
    if strict and serious:
        listed = "; ".join(f"{w.what}: {w.detail}" for w in serious)
        raise ConfigError(f"the runs are not comparable (--strict): {listed}.")
    b, n = _summary(base), _summary(new)
    metrics = [
        compare_metric(
            spec.label,
            b.values[spec.name],
            n.values[spec.name],
            unit=spec.unit,
            direction=spec.direction,
            margin=margin,
            gate=spec.name in gates,
        )
        for spec in METRICS
        if b.values[spec.name] or n.values[spec.name]
    ]
    outcome = _gate(m for m in metrics if m.gate)
    return Comparison(
        base=b,
        new=n,
        margin=margin,
        gates=list(gates),
        metrics=metrics,
        warnings=warnings,
        outcome=outcome,
        sentence=_sentence(b, n, metrics, outcome),
    )


def _gate(gated: Iterable[MetricComparison]) -> GateOutcome:
    outcomes = [m.outcome for m in gated]
    if not outcomes:
        return GateOutcome.INCONCLUSIVE
    if Outcome.REGRESSED in outcomes:
        return GateOutcome.REGRESSED
    if any(o in {Outcome.INCONCLUSIVE, Outcome.TOO_FEW} for o in outcomes):
        return GateOutcome.INCONCLUSIVE
    return GateOutcome.PASS


def _sentence(
    base: SideSummary, new: SideSummary, metrics: list[MetricComparison], outcome: GateOutcome
) -> str:
    """'v52 breaks at 1,020 req/s, 11 % (7–15 %) below v51: regressed' — the headline gate metric first."""
    headline = next((m for m in metrics if m.gate), metrics[0] if metrics else None)
    if headline is None:
        return f"{new.label} vs {base.label}: nothing to compare (no metric was measured on both sides)"
    if headline.change is None or headline.outcome is Outcome.TOO_FEW:
        return f"{new.label} vs {base.label}: {headline.sentence} (gate: {outcome.value})"
    change = headline.change
    lo, hi = sorted((abs(change.low), abs(change.high)))
    span = f"{abs(change.ratio) * 100:.0f} % ({lo * 100:.0f}–{hi * 100:.0f} %)"
    if change.low < 0 < change.high:
        span = f"{change.ratio * 100:+.0f} % ({change.low * 100:+.0f} … {change.high * 100:+.0f} %)"
        where = "vs"
    else:
        where = "below" if change.ratio < 0 else "above"
    value = new.values[_name_of(headline)]
    at = f" {format_number(sorted(value)[len(value) // 2])} {headline.unit}" if value else ""
    verb = "breaks at" if headline.metric == "breaking point" else f"has {headline.metric}"
    verdict = f"{headline.outcome.value} (gate: {outcome.value})"
    return f"{new.label} {verb}{at}, {span} {where} {base.label}: {verdict}"


def _name_of(metric: MetricComparison) -> str:
    return next(spec.name for spec in METRICS if spec.label == metric.metric)
