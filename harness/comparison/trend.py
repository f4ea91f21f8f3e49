"""The breaking point and p95 by release over time, flagging a release outside the range of the previous ones.

Bencher's question ("is this new value plausible given history?"), answered
without a distribution assumption: a release is flagged when its median lies
outside [min, max] of the medians of all earlier releases (at least two), the
way a stakeholder reads a trend line.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from harness.results.store import RunSummary

__all__ = ["ReleasePoint", "trend"]


class ReleasePoint(BaseModel):
    """One release's medians over its complete runs, and whether it left the earlier range."""

    model_config = ConfigDict(frozen=True)

    release: int
    first_run: datetime
    runs: int
    breaking_point: float | None
    breaking_point_unit: str | None
    p95_ms: float | None
    flags: list[str]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _outside(value: float | None, earlier: list[float], what: str, worse_if_lower: bool) -> str | None:
    if value is None or len(earlier) < 2:
        return None
    low, high = min(earlier), max(earlier)
    if low <= value <= high:
        return None
    worse = value < low if worse_if_lower else value > high
    where = "below" if value < low else "above"
    word = "worse" if worse else "better"
    return f"{what} {where} the range of earlier releases ({low:,.0f}–{high:,.0f}): {word}"


def trend(summaries: Sequence[RunSummary]) -> list[ReleasePoint]:
    """Releases in the order they were first run, with their medians and flags (complete runs only)."""
    by_release: dict[int, list[RunSummary]] = defaultdict(list)
    for s in summaries:
        if s.release is not None and s.status.value == "complete":
            by_release[s.release].append(s)
    ordered = sorted(by_release.items(), key=lambda item: (min(r.started_at for r in item[1]), item[0]))
    points: list[ReleasePoint] = []
    for release, runs in ordered:
        bp = _median([r.breaking_point for r in runs if r.breaking_point is not None])
        p95 = _median([r.p95_at_expected_ms for r in runs if r.p95_at_expected_ms is not None])
        earlier_bp = [p.breaking_point for p in points if p.breaking_point is not None]
        earlier_p95 = [p.p95_ms for p in points if p.p95_ms is not None]
        flags = [
            f
            for f in (
                _outside(bp, earlier_bp, "breaking point", worse_if_lower=True),
                _outside(p95, earlier_p95, "p95", worse_if_lower=False),
            )
            if f
        ]
        unit = next((r.breaking_point_unit for r in runs if r.breaking_point_unit), None)
        first = min(r.started_at for r in runs)
        points.append(ReleasePoint(release=release, first_run=first, runs=len(runs), breaking_point=bp,
                                   breaking_point_unit=unit, p95_ms=p95, flags=flags))  # fmt: skip
    return points
