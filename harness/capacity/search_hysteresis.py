"""Hysteresis in the breaking-point search: does the app serve less after an overload than rested? (issue 12)

Some servers get less efficient once they have queued, and stay so while
load continues (thrashing, retry storms, connection churn). A search that
keeps measuring after its first overload would then narrow in on the
degraded capacity and report it as the breaking point. A mixin of
`search._Search`, apart so that the flow reads on its own; everything here is
a pure function of the judged trials and the parameters:

- **Fresh or degraded.** A trial is *fresh* when no step broke since the
  start or the last drain (the breaking step itself was started fresh);
  otherwise it was measured after an overload.
- **Bounded overshoot.** After the first break no level exceeds
  `max_overshoot` × the best successful throughput that met the SLOs, so
  later breaks land close above the capacity instead of overloading it again.
- **Detection.** A level that broke after an overload but held on a rested
  app (either order) is *overturned*: it is no upper bound, and the app is
  metastable. So is a cool-down window whose p95 is clearly above the p95 the
  same or a higher level had before the overload.
- **The finding** is reported only when the difference is material: the
  rested breaking point lies more than the tolerance above the degraded break,
  or the cool-down latency rose clearly.
"""

from __future__ import annotations

from harness.capacity.search_estimates import Trial, TrialEstimates
from harness.capacity.slo import success_rps
from harness.measurements import LevelMode, Metastability, StepWindow

__all__ = ["LATENCY_RISE", "LATENCY_RISE_OF_LIMIT", "Hysteresis"]

# A cool-down window's p95 is "clearly above" its pre-overload value when it is this many times
# that value and higher by this share of the p95 limit (or of the value itself without a limit).
LATENCY_RISE = 2.0
LATENCY_RISE_OF_LIMIT = 0.25


class Hysteresis(TrialEstimates):
    """State and judgements of the hysteresis check; `_Search` drives it."""

    first_break: Trial | None
    fresh: bool
    notes: list[str]
    overturned_levels: set[float]
    evidence: list[str]
    latency_rise: tuple[float, float, float] | None  # (cool-down level, p95 before, p95 after), ms
    degraded_cool_down_rps: float | None  # what a cool-down window that held served after the overload
    drained_s: float

    def _overshoot_cap(self) -> float | None:
        """The highest level a step may offer once a step has broken (None: no break yet)."""
        if self.first_break is None:
            return None
        good = [t for t in self._latest().values() if t.ok]
        if not good:
            return None
        best = max(good, key=lambda t: success_rps(t.window))
        rps = success_rps(best.window)
        factor = self.params.max_overshoot
        if self.params.mode is LevelMode.ARRIVAL_RATE:
            return factor * max(rps, 0.01)
        rate = self._per_user_rps()
        return factor * (rps / rate if rate else best.level)

    def _looks_degraded(self, trial: Trial) -> bool:
        """Did a break after an overload serve clearly less than a good step did (beyond the
        saturation tolerance)? An app that merely saturates serves about its capacity when it
        breaks; one an overload degraded serves less. Only such a final upper bound is re-tested
        on a rested app, so a plain app pays no load for the hysteresis check."""
        if self.metastable:
            return True
        good = [success_rps(t.window) for t in self._latest().values() if t.ok]
        if trial.ok or trial.fresh or not good:
            return False
        margin = self.params.limits.saturation_tolerance or self.params.tolerance
        return success_rps(trial.window) < (1 - margin) * max(good)

    def _check_trial(self, trial: Trial) -> None:
        """After each judged trial: is a level now overturned (broke degraded, held rested)?"""
        if self.first_break is None:
            return
        for t in self.trials:
            if t.level not in self.overturned_levels and self._overturned(t):
                self.overturned_levels.add(t.level)
                self._detect(
                    f"step {t.window.plan.index}: {self.params.mode.describe(t.level)} broke after an "
                    "overload but held on a rested app"
                )

    def _detect(self, evidence: str) -> None:
        self.metastable = True
        self.evidence.append(evidence)
        self.notes.append(f"{evidence}: metastable, later steps start from a drained app")

    def _check_cool_down(self, level: float, window: StepWindow, held: bool) -> None:
        """The settled cool-down window after the first overload against the pre-overload latency."""
        first = self.first_break
        if first is None:
            return
        if held:
            self.degraded_cool_down_rps = success_rps(window)
        before = [
            t
            for t in self.trials
            if t.ok and t.level >= level and t.window.plan.index < first.window.plan.index
        ]
        if not before:
            return
        reference = min(before, key=lambda t: t.level)
        basis = self.params.limits.latency_basis
        p95_before = reference.window.total.latency_for(basis).p95_ms
        p95_after = window.total.latency_for(basis).p95_ms
        if p95_before is None or p95_after is None:
            return
        limit = self.params.limits.p95_ms or p95_before
        if p95_after > LATENCY_RISE * p95_before and p95_after - p95_before > LATENCY_RISE_OF_LIMIT * limit:
            self.latency_rise = (level, p95_before, p95_after)
            self._detect(
                f"step {window.plan.index}: p95 {p95_after:g} ms at {self.params.mode.describe(level)} after "
                f"the overload, {p95_before:g} ms before it (step {reference.window.plan.index})"
            )

    def _finding(self, lo: Trial | None) -> Metastability | None:
        """The metastability finding, when the re-measured (rested) answer differs materially."""
        first = self.first_break
        if not self.metastable or first is None:
            return None
        tolerance = self.params.tolerance
        degraded = [t for t in self.trials if not t.fresh]
        broken = [
            t.level
            for t in degraded
            if not t.ok and lo is not None and lo.level >= t.level * (1 + tolerance) - 1e-9
        ]
        served = [success_rps(t.window) for t in degraded if t.ok]
        if self.degraded_cool_down_rps is not None:
            served.append(self.degraded_cool_down_rps)
        if not broken and self.latency_rise is None:
            self.notes.append(
                "a level that broke after an overload held on a rested app, but the rested answer is "
                "within the tolerance of it: no metastability reported"
            )
            return None
        broken_level = min(broken) if broken else None
        below = [s for s in served if broken_level is None or s < broken_level]
        level, before, after = self.latency_rise if self.latency_rise is not None else (None, None, None)
        return Metastability(
            overload_step=first.window.plan.index,
            overload_level=first.level,
            degraded_broken_level=broken_level,
            degraded_rps=round(max(below), 3) if below else None,
            rested_rps=round(success_rps(lo.window), 3) if lo is not None else None,
            latency_level=level,
            p95_before_ms=before,
            p95_after_ms=after,
            drain_s=round(self.drained_s, 3),
            evidence=list(self.evidence),
        )
