"""What each scenario of a run did and did not do, in one line each (issue 11).

An interrupted or killed run must not read as if a scenario had never been
planned ("no stress scenario") or as if a search had found something
("breaking point ≈ 20 req/s (aborted)"). So every scenario the run set out to
run gets a line: "search-stress: interrupted during probe 2 — no breaking
point", "shop-soak: not run — the run stopped before it", "shop-load: killed
during hold 1/3 — SLOs not judged". The terminal, the HTML report and
summary.json all use these lines. Pure: reads a `RunRecord` (or a
`ScenarioResult` for the terminal), nothing else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from harness.measurements import (
    BreakingPoint,
    ScenarioKind,
    ScenarioResult,
    ScenarioStatus,
    SearchStatus,
    StepWindow,
)
from harness.results.model import RunRecord, RunStatus, format_number

__all__ = ["ScenarioOutcome", "result_outcome", "run_outcomes"]

# A search that ended with one of these answered "where does it break?".
_ANSWERED = {SearchStatus.FOUND, SearchStatus.NOT_REACHED, SearchStatus.BROKEN_AT_START}
# How a run that stopped with a step still in progress is described.
_STOPPED = {
    RunStatus.INCOMPLETE: "killed",
    RunStatus.FAILED: "stopped by an error",
    RunStatus.RUNNING: "running",
}


@dataclass(frozen=True)
class ScenarioOutcome:
    """One scenario's end: how (`status`), in which step, and what it therefore did not give."""

    scenario: str
    kind: ScenarioKind
    status: str  # a ScenarioStatus value, or 'killed', 'stopped by an error', 'running', 'not run'
    stopped_in: str | None = None  # the step it ended in ('probe 2'), when it ended early
    missing: str | None = None  # 'no breaking point', 'SLOs not judged'… (None: nothing missing)

    @property
    def complete(self) -> bool:
        """It ran to its end and gave what it is for."""
        return self.missing is None and self.status in {ScenarioStatus.PASSED, ScenarioStatus.FAILED}

    def sentence(self) -> str:
        """'search-stress: interrupted during probe 2 — no breaking point'."""
        text = f"{self.scenario}: {self.status}"
        if self.stopped_in:
            text += f" during {self.stopped_in}"
        return f"{text} — {self.missing}" if self.missing else text

    def as_json(self) -> dict[str, Any]:
        """Plain JSON (summary.json), with the sentence."""
        return {**asdict(self), "kind": self.kind.value, "sentence": self.sentence()}


def _missing(
    kind: ScenarioKind,
    status: str,
    point: BreakingPoint | None,
    judged: StepWindow | None,
    verdicts: int,
) -> str | None:
    """What a scenario that ended this way did not give (None: everything it is for)."""
    if kind == ScenarioKind.STRESS:
        if point is not None and point.status in _ANSWERED:
            return None
        if point is not None and point.level is not None:
            return f"no breaking point (last good level {format_number(point.level)} {point.mode.unit})"
        return "no breaking point"
    if judged is None or not verdicts:
        return "SLOs not judged"
    if status in {ScenarioStatus.ABORTED, ScenarioStatus.INTERRUPTED, ScenarioStatus.ERROR}:
        return "SLOs judged on a partial hold"
    return None


def result_outcome(result: ScenarioResult) -> ScenarioOutcome:
    """The line for a scenario that has just ended (the terminal's)."""
    status = ScenarioStatus(result.status)
    last = result.steps[-1].window.plan if result.steps else None
    stopped_in = (last.label or str(last.kind)) if last is not None and status.ended_early else None
    return ScenarioOutcome(
        scenario=result.name,
        kind=ScenarioKind(result.kind),
        status=status.value,
        stopped_in=stopped_in,
        missing=_missing(result.kind, status, result.breaking_point, result.judged, len(result.verdicts)),
    )


def run_outcomes(record: RunRecord) -> list[ScenarioOutcome]:
    """One line per scenario the run planned (or, for older runs, recorded), in order."""
    planned = [(p.name, p.kind) for p in record.planned_scenarios] or [
        (s.name, s.kind) for s in record.scenarios
    ]
    entries = {s.name: s for s in record.scenarios}
    current = record.in_progress if record.status != RunStatus.COMPLETE else None
    outcomes = []
    for name, kind in planned:
        entry = entries.get(name)
        if entry is not None:
            status = ScenarioStatus(entry.status)
            stopped_in = entry.last_step if status.ended_early else None
            missing = _missing(kind, status, entry.breaking_point, entry.judged, len(entry.verdicts))
            outcomes.append(ScenarioOutcome(name, kind, status.value, stopped_in, missing))
        elif current is not None and current.scenario == name:
            stopped = _STOPPED.get(record.status, "stopped")
            missing = _missing(kind, stopped, None, None, 0)
            outcomes.append(ScenarioOutcome(name, kind, stopped, current.step, missing))
        else:
            outcomes.append(ScenarioOutcome(name, kind, "not run", None, "the run stopped before it"))
    return outcomes
