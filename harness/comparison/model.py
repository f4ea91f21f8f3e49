"""What a comparison produced: the two sides, every metric compared, the warnings, the gate outcome."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from harness.capacity.compare import MetricComparison
from harness.results.rundir import RunDir

__all__ = ["ComparabilityWarning", "Comparison", "GateOutcome", "Side", "SideSummary"]


class GateOutcome(enum.StrEnum):
    """The answer for CI: exit 0, 1, or the documented inconclusive code."""

    PASS = "pass"  # no gate metric regressed beyond the margin (proven no change, or improved)
    REGRESSED = "regressed"  # a gate metric regressed beyond the margin
    INCONCLUSIVE = "inconclusive"  # a gate metric could not be decided (too few repeats or too noisy)


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a label ('v51') and the runs (repeats) that measure it."""

    label: str
    runs: tuple[RunDir, ...]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SideSummary(_Frozen):
    """A side as the report shows it: label, release, runs, and the raw per-repeat values."""

    label: str
    app: str
    releases: list[int | None]
    run_ids: list[str]
    values: dict[str, list[float]] = Field(default_factory=dict)  # metric → one value per repeat


class ComparabilityWarning(_Frozen):
    """A difference between the sides (or within one) other than the release under test."""

    what: str  # 'formation', 'locustfile', 'scenario', 'load generator', 'harness version', ...
    detail: str
    serious: bool = True  # `--strict` refuses on serious ones


class Comparison(_Frozen):
    """The whole comparison: the verdict sentence first, then everything behind it."""

    base: SideSummary
    new: SideSummary
    margin: float
    gates: list[str]
    metrics: list[MetricComparison]
    warnings: list[ComparabilityWarning] = Field(default_factory=list)
    outcome: GateOutcome
    sentence: str
