"""What the breaking-point search's measurements say: the bracket and the capacity estimates.

A mixin of `search._Search`, apart so that the search's flow reads on its own:
everything here is a pure function of the judged trials so far and the
parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.capacity.search_params import ABORT_CRITERION, SearchParams
from harness.capacity.slo import StepJudgement, success_rps
from harness.measurements import LevelMode, StepKind, StepWindow

__all__ = ["Trial", "TrialEstimates"]


@dataclass(frozen=True)
class Trial:
    """A judged step of the search proper (probe, bisect, confirm)."""

    level: float
    window: StepWindow
    judgement: StepJudgement
    fresh: bool = True  # no step broke since the start or the last drain (see search_hysteresis)

    @property
    def ok(self) -> bool:
        return self.judgement.ok

    @property
    def hold_s(self) -> float:
        return self.window.plan.hold_s

    @property
    def aborted(self) -> bool:
        """An abort condition ended this step: its level is broken for good (never re-tested)."""
        first = self.judgement.first_broken
        return first is not None and first.criterion == ABORT_CRITERION


class TrialEstimates:
    """The bracket and capacity estimates over `trials` (the newest trial at a level wins)."""

    params: SearchParams
    trials: list[Trial]
    metastable: bool  # a level broke after an overload that holds on a rested app

    def _latest(self) -> dict[float, Trial]:
        """The newest trial at each level: a re-test overrides the window it re-tests."""
        latest: dict[float, Trial] = {}
        for trial in self.trials:
            latest[trial.level] = trial
        return latest

    def _bracket(self) -> tuple[Trial | None, Trial | None]:
        """(last good, first broken): the lowest broken level, and the highest good level below it."""
        latest = self._latest()
        broken = [t for t in latest.values() if not t.ok and not self._overturned(t)]
        hi = min(broken, key=lambda t: t.level, default=None)
        good = [t for t in latest.values() if t.ok and (hi is None or t.level < hi.level)]
        lo = max(good, key=lambda t: t.level, default=None)
        return lo, hi

    def _overturned(self, trial: Trial) -> bool:
        """Broke after an overload, yet the same or a higher level holds on a rested app: no upper bound."""
        if trial.ok or trial.fresh:
            return False
        return any(t.ok and t.fresh and t.level >= trial.level for t in self._latest().values())

    def _estimate_rps(
        self, exclude: Trial | None = None, *, clear_only: bool = False, raw: bool = False
    ) -> float | None:
        """Capacity estimate: successful req/s pooled over saturated windows (weighted by duration).

        None once the app is known to be metastable (an overload degrades it within the
        window). Only the newest window at each level, and only above the last good
        level: a window a re-test overturned was noise, not capacity. With
        `clear_only`, only windows short by twice the saturation tolerance (an
        overshoot, not a noisy window near the line): strong enough to
        *explain* a break rather than merely to suggest where to look. Unless
        `raw`, never below what the last good window achieved.
        """
        if self.metastable:  # an overload degrades it within the window: what it served says little
            return None
        lo, _ = self._bracket()
        floor = lo.level if lo is not None else 0.0
        saturated = [
            t
            for t in self._latest().values()
            if t is not exclude
            and t.level > floor
            and not self._overturned(t)
            and t.judgement.saturated
            and (self._clearly_saturated(t) or not clear_only)
        ]
        seconds = sum(t.window.duration_s for t in saturated)
        if seconds <= 0:
            return None
        pooled = sum(success_rps(t.window) * t.window.duration_s for t in saturated) / seconds
        if clear_only or lo is None or raw:
            return pooled
        # Overload can waste capacity (errors, thrashing): a good window proves at least its throughput.
        return max(pooled, success_rps(lo.window))

    def _clearly_saturated(self, trial: Trial) -> bool:
        expected = trial.judgement.expected_rps
        tolerance = self.params.limits.saturation_tolerance
        if not trial.judgement.saturated or expected is None or tolerance is None:
            return False
        return success_rps(trial.window) <= expected * (1 - 2 * tolerance)

    def _per_user_rps(self) -> float | None:
        """Users mode: successful req/s per user while the app keeps up.

        Pooled over the good probes (geometric, mostly well below the break),
        else over every good step. A fixed reference, not "the last good
        level": comparing each level with the one before lets a slow decline
        pass unnoticed step after step.
        """
        good = [t for t in self._latest().values() if t.ok]
        probes = [t for t in good if t.window.plan.kind is StepKind.PROBE] or good
        user_seconds = sum(t.level * t.window.duration_s for t in probes)
        if user_seconds <= 0:
            return None
        return sum(success_rps(t.window) * t.window.duration_s for t in probes) / user_seconds

    def _expected_rps(self, level: float) -> float | None:
        """What a step at `level` should achieve if the app keeps up (users mode; None: offered)."""
        if self.params.mode is LevelMode.ARRIVAL_RATE:
            return None
        rate = self._per_user_rps()
        return level * rate if rate is not None else None

    def _estimate_level(self, exclude: Trial | None = None, *, clear_only: bool = False) -> float | None:
        """The level at which the offered load equals the capacity estimate."""
        estimate = self._estimate_rps(exclude, clear_only=clear_only)
        if estimate is None or self.params.mode is LevelMode.ARRIVAL_RATE:
            return estimate
        rate = self._per_user_rps()
        return estimate / rate if rate else None
