"""The run's answer in words and checks: the verdict sentence and one check per SLO.

Shared by the HTML report, summary.json, junit.xml and `harness report --json`,
so all of them say the same thing. Pure: reads a `RunRecord`, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.measurements import BreakingPoint, ScenarioKind, SearchStatus, Verdict
from harness.results.model import RunRecord, RunStatus, ScenarioEntry, format_number

__all__ = [
    "Check",
    "breaking_point_text",
    "checks",
    "criterion_label",
    "headroom_check",
    "verdict_sentence",
]

_CRITERIA = {
    "p50_ms": "p50 latency",
    "p90_ms": "p90 latency",
    "p95_ms": "p95 latency",
    "p99_ms": "p99 latency",
    "max_ms": "maximum latency",
    "error_ratio": "error ratio",
    "min_rps": "minimum throughput",
    "saturation": "throughput saturation",
    "headroom": "headroom",
    "abort": "abort condition",
}


@dataclass(frozen=True)
class Check:
    """One pass/fail line: an SLO of a scenario, or the headroom check."""

    scenario: str
    criterion: str
    endpoint: str | None
    threshold: float
    measured: float | None
    unit: str
    passed: bool

    @property
    def label(self) -> str:
        """'p95 latency /search' or 'error ratio'."""
        name = criterion_label(self.criterion)
        return f"{name} {self.endpoint}" if self.endpoint else name

    @property
    def relation(self) -> str:
        """The comparison that must hold: '≤' for limits, '≥' for minimums."""
        return "≥" if self.criterion in {"min_rps", "saturation", "headroom"} else "≤"

    def show(self, value: float | None) -> str:
        """A value in this check's unit, for tables."""
        if value is None:
            return "n/a"
        if self.unit == "ratio":
            return f"{value * 100:.2f} %"
        if self.unit == "×":
            return f"{value:.2f}×"
        return f"{format_number(value)} {self.unit}".strip()

    @classmethod
    def of(cls, scenario: str, verdict: Verdict) -> Check:
        return cls(
            scenario=scenario,
            criterion=verdict.criterion,
            endpoint=verdict.endpoint,
            threshold=verdict.threshold,
            measured=verdict.measured,
            unit=verdict.unit,
            passed=verdict.passed,
        )


def criterion_label(criterion: str | None) -> str:
    """'p95_ms' → 'p95 latency'."""
    if criterion is None:
        return "unknown"
    return _CRITERIA.get(criterion, criterion.replace("_", " "))


def checks(record: RunRecord) -> list[Check]:
    """Every SLO verdict of every scenario, then the headroom check (when there is one)."""
    found = [Check.of(s.name, v) for s in record.scenarios for v in s.verdicts]
    headroom = headroom_check(record)
    return [*found, headroom] if headroom else found


def headroom_check(record: RunRecord) -> Check | None:
    """Breaking point ≥ expected peak × required headroom, as the run's verdict judged it."""
    point, verdict = record.breaking_point, record.verdict
    searched = {SearchStatus.FOUND, SearchStatus.BROKEN_AT_START}
    if point is None or verdict is None or record.expected_peak is None or point.status not in searched:
        return None
    scenario = next((s.name for s in record.scenarios if s.breaking_point is not None), "stress")
    return Check(
        scenario=scenario,
        criterion="headroom",
        endpoint=None,
        threshold=record.required_headroom,
        measured=verdict.headroom if point.status == SearchStatus.FOUND else 0.0,
        unit="×",
        passed=bool(verdict.headroom_ok),
    )


def _subject(record: RunRecord) -> str:
    version = record.release.version
    return f"Release v{version}" if version is not None else f"App {record.app} (release unknown)"


def _peak_text(record: RunRecord) -> str:
    peak = record.expected_peak
    return f"the expected peak of {peak.describe()}" if peak else "the expected load"


def _expected_part(record: RunRecord, subject: str) -> str:
    scenario = record.expected_load_scenario()
    peak = _peak_text(record)
    if scenario is None:
        return f"{subject} was not tested at {peak} (no load scenario)"
    if scenario.judged is None:
        return f"{subject} was not measured at {peak} (load scenario {scenario.status})"
    failed = [v for v in scenario.verdicts if not v.passed]
    if failed:
        detail = ", ".join(_verdict_text(v) for v in failed)
        return f"{subject} does not hold {peak}: {detail}"
    if scenario.status.ended_early:
        return f"{subject} was not fully measured at {peak} (load scenario {scenario.status})"
    p95 = record.p95_at_expected_ms()  # on the latency basis the SLOs judged, as the SLO table shows
    p95_text = f" with p95 {format_number(p95)} ms" if p95 is not None else ""
    return f"{subject} holds {peak}{p95_text}"


def _verdict_text(verdict: Verdict) -> str:
    check = Check.of("", verdict)
    relation = check.relation if verdict.passed else {"≤": ">", "≥": "<"}[check.relation]
    return f"{check.label} {check.show(verdict.measured)} {relation} {check.show(verdict.threshold)}"


def _stress_scenario(record: RunRecord) -> ScenarioEntry | None:
    return next((s for s in record.scenarios if s.kind == ScenarioKind.STRESS), None)


def breaking_point_text(record: RunRecord) -> str:
    """'it breaks at 1,150 req/s (2.9× headroom)' and the other outcomes of the search."""
    point = record.breaking_point
    if point is None:
        stress = _stress_scenario(record)
        if stress is None:
            return "the breaking point was not searched (no stress scenario)"
        return f"the breaking-point search did not finish ({stress.status})"
    unit = point.mode.unit
    if point.status == SearchStatus.FOUND:
        if point.sustainable_rps is not None:
            where = f"{format_number(point.sustainable_rps)} req/s"
        else:
            where = f"{format_number(point.level or 0)} {unit}"
        headroom = record.verdict.headroom if record.verdict is not None else None
        shown = f" ({headroom:.1f}× headroom)" if headroom is not None else ""
        return f"it breaks at {where}{shown}"
    if point.status == SearchStatus.NOT_REACHED:
        top = point.bracket_low if point.bracket_low is not None else point.level
        return f"it did not break up to {format_number(top or 0)} {unit}, the search's maximum"
    if point.status == SearchStatus.BROKEN_AT_START:
        first = point.bracket_high if point.bracket_high is not None else point.level
        return f"it already breaks at the search's first level ({format_number(first or 0)} {unit})"
    return _aborted_text(point, unit, _stress_scenario(record))


def _aborted_text(point: BreakingPoint, unit: str, stress: ScenarioEntry | None) -> str:
    """'the breaking-point search was aborted at 540 req/s (error ratio 63 % > 50 % for 2 s);
    last good level 180 req/s (179 req/s served)': the bracket the search had when it stopped."""
    text = "the breaking-point search was aborted"
    high = point.bracket_high
    detail = point.criterion_detail
    if high is not None and detail is not None and point.criterion == "abort":
        text += f" at {format_number(high)} {unit} ({_abort_detail(detail, stress)})"
    elif high is not None:
        text += f" (first broken level {format_number(high)} {unit})"
    if point.level is None:
        return text + "; no level held before it" if high is not None else text
    served = f" ({format_number(point.sustainable_rps)} req/s served)" if point.sustainable_rps else ""
    return f"{text}; last good level {format_number(point.level)} {unit}{served}"


def _abort_detail(verdict: Verdict, stress: ScenarioEntry | None) -> str:
    """'error ratio 63 % > 50 % for 2 s' (the duration from the scenario's abort condition)."""
    measured = "n/a" if verdict.measured is None else f"{verdict.measured * 100:.0f} %"
    for_s = stress.abort_for_s if stress is not None else None
    during = f" for {format_number(for_s)} s" if for_s is not None else ""
    return f"error ratio {measured} > {verdict.threshold * 100:.0f} %{during}"


def verdict_sentence(record: RunRecord) -> str:
    """The report's first line, e.g. 'Release v52 holds the expected peak of 400 req/s with p95 210 ms;
    it breaks at 1,150 req/s (2.9× headroom) on 4 × Standard-2X; breaking criterion: p95 latency'."""
    point = record.breaking_point
    group = record.target_group()
    on = f" on {group.describe()}" if group is not None else ""
    subject = _subject(record)
    if point is None:  # no search: the formation goes with the expected-load part
        subject += on
    parts = [_expected_part(record, subject), breaking_point_text(record) + (on if point else "")]
    if point is not None and point.status == SearchStatus.FOUND and point.criterion:
        parts.append(f"breaking criterion: {criterion_label(point.criterion)}")
    headroom = headroom_check(record)
    if headroom is not None and not headroom.passed:
        parts.append(f"below the required {record.required_headroom:g}× headroom")
    sentence = "; ".join(parts)
    if record.status in {RunStatus.INCOMPLETE, RunStatus.FAILED, RunStatus.RUNNING}:
        sentence += f" (run {record.status.value})"
    return sentence
