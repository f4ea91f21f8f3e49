"""The adaptive breaking-point search, as a pure generator (issue 5, STYLE §7).

`breaking_point_search(params)` yields the next `StepPlan`, receives the
measured `StepWindow` through `send()`, and finally returns a `SearchResult`.
It touches no Locust, clock or socket: the engine drives it against a real
app through `load.runner.run_steps`, unit tests drive it against simulated
systems. Its parameters and result types are in `search_params.py`.

How it searches (levels are users, or offered req/s in arrival-rate mode):

1. **Probe**: from `start_level`, multiply by `growth` until a step breaks
   (never above `max_level`; good at `max_level` → "not reached").
2. **Recover**: after the first break, drop to the expected load and hold
   short windows until the SLOs hold again: that is the recovery time (unreported
   when `measure_recovery` is off), and the app's state after an overload. Every
   later break is followed by a **drain** before the next step: `drain_s` with
   no load and the connections closed, so that step meets a rested app.
   After the first break no level exceeds `max_overshoot` × the best successful
   throughput that met the SLOs (bounded overshoot).
3. **Narrow** the bracket [last good, first broken] until it is narrower than
   `tolerance`. A saturated step's successful throughput is itself a capacity
   estimate, so the search tests just below that estimate and then just
   above it (two steps) instead of blind bisection; without an estimate it
   bisects geometrically.
4. **Guard against noise**: one bad window must not decide. A break at the
   start level, or a final upper bound that the capacity estimate does not
   explain, is re-tested once; the newest result at a level wins.
   **Hysteresis**: an upper bound measured after an overload (not since
   drained) that served clearly less than a good step did is re-tested on a
   rested app. A level that broke after an overload
   but holds rested, or a cool-down whose latency rose clearly above its
   pre-overload value, makes the app metastable: from then on every step
   starts from a drained app, and the result carries the finding ("after an
   overload the app serves X req/s instead of Y"), see `search_hysteresis.py`.
5. **Confirm** the last good level with a longer hold. If that fails, the
   level counts as broken, and the search re-tests near the boundary with long
   holds only (at most `confirm_attempts` failures).

**Aborts cap the search.** An abort condition that trips during a step at level
L (`StepWindow.aborted`: the load driver has already dropped the load) makes L
broken, with the criterion `abort` (the window's error ratio against the abort
limit), and the search never offers L or more again ("stop pushing"): it
recovers and narrows the bracket below L as usual. Only an abort at the first
step, at or below the last good level (a confirmation, a recovery window), ends
the search with status `aborted`, and the result still carries the bracket.
An interrupt (`interrupted()` answers True when a window arrives) ends it at
once, whatever the window says.

A window measured while the load generator was saturated is ignored and re-run
once; twice means the generator cannot produce that level, which ends the search.
A limited window the app's own errors broke is judged at once (less load than
planned already broke it).
A window whose scheduling lag says the generator started requests late
(`generator_lagging`) is re-run once too; the second is judged and flagged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

from harness.capacity.search_estimates import Trial
from harness.capacity.search_hysteresis import Hysteresis
from harness.capacity.search_params import ABORT_CRITERION, SearchParams, SearchResult
from harness.capacity.slo import StepJudgement, judge, step_record, success_rps
from harness.measurements import (
    BreakingPoint,
    LevelMode,
    Recovery,
    SearchStatus,
    StepKind,
    StepPlan,
    StepRecord,
    StepWindow,
    Verdict,
)

__all__ = [
    "ABORT_CRITERION",
    "SearchParams",
    "SearchResult",
    "SearchStatus",
    "breaking_point_search",
]


def _broken_by_the_app(judgement: StepJudgement) -> bool:
    """Broken on the error ratio: the app's own failures. A limited generator offers less load,
    never more, and adds latency, not errors; so such a window is judged at once, not re-run
    (re-running an overload would only overload the app again)."""
    first = judgement.first_broken
    return first is not None and first.criterion == "error_ratio"


class _Stop(Exception):
    """Ends the search early; carries the status and the reason."""

    def __init__(self, status: SearchStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


Steps = Generator[StepPlan, StepWindow, None]


@dataclass
class _Search(Hysteresis):
    """The search's state; `run()` is the generator."""

    params: SearchParams
    interrupted: Callable[[], bool] | None = None  # polled as each window arrives; True ends the search
    trials: list[Trial] = field(default_factory=list)
    records: list[StepRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    recovery: Recovery | None = None
    load_time_s: float = 0.0
    strict: bool = False  # after a failed confirmation: only long holds near the boundary
    failed_confirms: int = 0
    retested: set[float] = field(default_factory=set)
    # hysteresis (search_hysteresis.py)
    first_break: Trial | None = None
    fresh: bool = True
    metastable: bool = False
    drain_due: bool = False  # drain before the next step, if there is one (after a later break, a re-test)
    evidence: list[str] = field(default_factory=list)
    overturned_levels: set[float] = field(default_factory=set)
    latency_rise: tuple[float, float, float] | None = None
    degraded_cool_down_rps: float | None = None
    drained_s: float = 0.0

    # ----- the flow -------------------------------------------------------------------------

    def run(self) -> Generator[StepPlan, StepWindow, SearchResult]:
        try:
            while True:
                kind, level, hold_s, label = self._decide()
                if not self.fresh and (self.metastable or self.drain_due):
                    yield from self._drain()
                self.drain_due = False
                trial = yield from self._measure(kind, level, hold_s, label)
                self._check_trial(trial)
                if not trial.ok:
                    yield from self._after_break(trial)
        except _Stop as stop:
            return self._result(stop.status, stop.reason)

    def _decide(self) -> tuple[StepKind, float, float, str]:
        """The next step, or `_Stop` when the search is over."""
        lo, hi = self._bracket()
        p = self.params
        if hi is None:
            return self._decide_unbroken(lo)
        if lo is None:
            if hi.level not in self.retested and hi.hold_s < p.confirm_hold_s:
                return self._retest(hi, "the start level broke: re-testing once")
            raise _Stop(SearchStatus.BROKEN_AT_START, "")
        if not self._converged(lo.level, hi.level):
            return self._bisect_step(lo.level, hi.level)
        if not hi.fresh and not hi.aborted and hi.level not in self.retested and self._looks_degraded(hi):
            self.drain_due = True
            return self._retest(hi, "the upper bound broke after an overload: re-testing it on a rested app")
        if self._surprising(hi):
            return self._retest(hi, "the upper bound is not explained by the capacity estimate")
        if lo.hold_s >= p.confirm_hold_s:
            raise _Stop(SearchStatus.FOUND, "")
        return StepKind.CONFIRM, lo.level, p.confirm_hold_s, "confirm"

    def _decide_unbroken(self, lo: Trial | None) -> tuple[StepKind, float, float, str]:
        p = self.params
        if lo is None:
            return StepKind.PROBE, self._level(p.start_level), self._hold(), "probe 1"
        if lo.level >= p.max_level:
            if lo.hold_s >= p.confirm_hold_s:
                raise _Stop(SearchStatus.NOT_REACHED, f"still good at max_level {p.max_level:g}")
            return StepKind.CONFIRM, lo.level, p.confirm_hold_s, "confirm at max"
        probes = {t.level for t in self.trials if t.window.plan.kind is StepKind.PROBE}
        cap = self._overshoot_cap()
        level = self._level(min(lo.level * p.growth, cap if cap is not None else math.inf))
        return StepKind.PROBE, level, self._hold(), f"probe {len(probes) + 1}"

    def _retest(self, trial: Trial, why: str) -> tuple[StepKind, float, float, str]:
        self.retested.add(trial.level)
        self.notes.append(f"step {trial.window.plan.index}: {why}")
        return trial.window.plan.kind, trial.level, trial.hold_s, "re-test"

    def _bisect_step(self, lo: float, hi: float) -> tuple[StepKind, float, float, str]:
        level = self._next_level(lo, hi)
        if self.strict:
            return StepKind.CONFIRM, level, self.params.confirm_hold_s, "re-confirm near the boundary"
        bisects = {t.level for t in self.trials if t.window.plan.kind is StepKind.BISECT}
        return StepKind.BISECT, level, self._hold(), f"bisect {len(bisects) + 1}"

    # ----- measuring ------------------------------------------------------------------------

    def _plan(self, kind: StepKind, level: float, hold_s: float, ramp_s: float, label: str) -> StepPlan:
        if len(self.records) >= self.params.max_steps:
            raise _Stop(SearchStatus.ABORTED, f"step budget of {self.params.max_steps} steps exhausted")
        ceiling = self._ceiling()
        if kind is not StepKind.RECOVERY and ceiling is not None and level >= ceiling:
            raise RuntimeError(f"the search offered {level:g} after an abort at {ceiling:g}")
        return StepPlan(
            index=len(self.records),
            kind=kind,
            level=level,
            mode=self.params.mode,
            ramp_s=ramp_s,
            hold_s=hold_s,
            label=label,
        )

    def _receive(self, plan: StepPlan) -> Generator[StepPlan, StepWindow, StepWindow]:
        window = yield plan
        if window.plan.index != plan.index:
            raise ValueError(f"expected the window of step {plan.index}, got step {window.plan.index}")
        if plan.kind is not StepKind.DRAIN:  # a drain offers no load
            self.load_time_s += plan.ramp_s + window.duration_s
        if self.interrupted is not None and self.interrupted():
            self._record(window, None, "interrupted: not judged")
            raise _Stop(SearchStatus.ABORTED, "interrupted")
        return window

    def _measure(
        self, kind: StepKind, level: float, hold_s: float, label: str
    ) -> Generator[StepPlan, StepWindow, Trial]:
        """Run one search step; a window the generator may have limited is re-run once.

        Saturated twice (CPU) ends the search; lagging twice (scheduling lag) is judged,
        and flagged: the intended-start latency then holds some of the generator's delay.
        """
        for attempt in range(2):
            plan = self._plan(kind, level, hold_s, self.params.ramp_s, label)
            window = yield from self._receive(plan)
            if window.aborted:
                return self._aborted(level, window)
            judgement = judge(window, self.params.limits, expected_rps=self._expected_rps(level))
            if not window.generator_limited or (attempt == 1 and not window.generator_saturated):
                break
            if _broken_by_the_app(judgement):
                break
            self._record(window, None, f"ignored: {window.generator_note}")
            if attempt == 1:
                self._generator_limit(level)
        trial = Trial(level=level, window=window, judgement=judgement, fresh=self.fresh)
        self.trials.append(trial)
        notes = ["re-test" if label == "re-test" else "", window.generator_note]
        self._record(window, judgement, "; ".join(n for n in notes if n))
        if window.generator_lagging:
            self.notes.append(f"step {plan.index}: {window.generator_note} twice: judged, figures flagged")
        if kind is StepKind.CONFIRM and not trial.ok:
            self._confirm_failed(trial)
        return trial

    def _aborted(self, level: float, window: StepWindow) -> Trial:
        """An abort at `level`: broken for good; the end of the search at the start or at/below lo."""
        lo, _ = self._bracket()
        judgement = self._abort_judgement(window, level)
        trial = Trial(level=level, window=window, judgement=judgement, fresh=self.fresh)
        self.trials.append(trial)
        self._record(window, judgement, "abort condition tripped")
        where = f"abort condition tripped at {self._describe(level)}"
        if lo is None:
            raise _Stop(SearchStatus.ABORTED, f"{where}, before any level held")
        if level <= lo.level:
            raise _Stop(SearchStatus.ABORTED, f"{where}, not above the last good level {lo.level:g}")
        self.notes.append(
            f"step {window.plan.index}: {where}: stopped pushing (never {level:g} or more again)"
        )
        return trial

    def _abort_judgement(self, window: StepWindow, level: float) -> StepJudgement:
        """The window's SLO verdicts, led by the abort: measured error ratio vs the abort limit."""
        judged = judge(window, self.params.limits, expected_rps=self._expected_rps(level))
        total = window.total
        abort = Verdict(
            criterion=ABORT_CRITERION,
            threshold=self.params.abort.error_ratio if self.params.abort is not None else 0.0,
            measured=round(total.failures / total.requests, 4) if total.requests else None,
            passed=False,
            unit="ratio",
        )
        return judged.model_copy(update={"verdicts": (abort, *judged.verdicts)})

    def _ceiling(self) -> float | None:
        """The lowest level an abort condition tripped at: nothing at or above it is offered again."""
        return min((t.level for t in self.trials if t.aborted), default=None)

    def _generator_limit(self, level: float) -> None:
        lo, hi = self._bracket()
        reason = (
            f"the load generator saturated twice at {self._describe(level)}: add Locust workers "
            "to measure higher levels"
        )
        raise _Stop(
            SearchStatus.NOT_REACHED if hi is None and lo is not None else SearchStatus.ABORTED, reason
        )

    def _confirm_failed(self, trial: Trial) -> None:
        self.failed_confirms += 1
        self.strict = True
        self.notes.append(
            f"step {trial.window.plan.index}: {self._describe(trial.level)} failed a "
            f"{trial.hold_s:g} s hold; re-testing below it with long holds"
        )
        if self.failed_confirms >= self.params.confirm_attempts:
            raise _Stop(SearchStatus.FOUND, f"{self.failed_confirms} long holds failed; level not confirmed")

    def _record(self, window: StepWindow, judgement: StepJudgement | None, note: str) -> None:
        self.records.append(step_record(window, judgement, note))

    def _after_break(self, trial: Trial) -> Steps:
        """The first break gets a cool-down (the recovery, and the app's state after an overload);
        every later one a drain before the next step, so that it meets a rested app (no backlog)."""
        first = self.first_break is None
        if first:
            self.first_break = trial
            yield from self._recover(after=trial)
        self.fresh = False
        self.drain_due = not first  # before the next step, if the search goes on

    def _drain(self) -> Steps:
        """No load for `drain_s` (idle connections close): the app rests before the next step."""
        plan = self._plan(StepKind.DRAIN, 0.0, self.params.drain_s, 0.0, "drain")
        window = yield from self._receive(plan)
        self._record(window, None, "drain: no load, connections closed")
        self.drained_s += window.duration_s
        self.fresh = True

    def _recover(self, after: Trial) -> Steps:
        """Drop to the recovery level and hold short windows until the SLOs hold again."""
        p = self.params
        window_s = p.recovery_window_s
        lo, _ = self._bracket()
        level = self._level(p.recovery_level or p.start_level)
        if lo is not None and level > lo.level:
            level = lo.level
        if lo is None and level >= after.level:
            self.notes.append("recovery not measured: the recovery level itself is broken")
            return
        headline = self.recovery is None and p.measure_recovery
        elapsed = 0.0
        while elapsed < p.recovery_limit_s - 1e-9:
            hold = min(window_s, p.recovery_limit_s - elapsed)
            label = "recovery" if headline else "cool-down"
            window = yield from self._receive(self._plan(StepKind.RECOVERY, level, hold, 0.0, label))
            if window.aborted:  # at or below the last good level: stop pushing altogether
                self._record(window, self._abort_judgement(window, level), "abort condition tripped")
                raise _Stop(
                    SearchStatus.ABORTED,
                    f"abort condition tripped while recovering at {self._describe(level)}",
                )
            judgement = judge(window, p.limits, expected_rps=self._expected_rps(level))
            self._record(window, judgement, label)
            if judgement.ok and self._settled(window):
                self._recovered(level, True, elapsed, headline)
                if after is self.first_break:
                    self._check_cool_down(level, window, held=True)
                return
            elapsed += window.duration_s
        self._recovered(level, False, None, headline)
        raise _Stop(
            SearchStatus.ABORTED,
            f"the app did not recover within {p.recovery_limit_s:g} s at {self._describe(level)} "
            f"after step {after.window.plan.index}: stopped pushing",
        )

    def _settled(self, window: StepWindow) -> bool:
        """Arrival-rate mode: not still draining a backlog (achieved within tolerance of offered)."""
        tolerance = self.params.limits.saturation_tolerance or self.params.tolerance
        if window.generator_saturated:
            return False
        if self.params.mode is LevelMode.USERS or window.duration_s <= 0:
            return True
        offered = window.offered_rps if window.offered_rps is not None else window.plan.level
        return success_rps(window) <= offered * (1 + tolerance) + 2 / window.duration_s

    def _recovered(self, level: float, ok: bool, time_s: float | None, headline: bool) -> None:
        if headline:
            limit = self.params.recovery_limit_s
            self.recovery = Recovery(level=level, recovered=ok, time_to_recover_s=time_s, limit_s=limit)

    # ----- what the measurements say -------------------------------------------------------

    def _converged(self, lo: float, hi: float) -> bool:
        if self.params.mode is LevelMode.USERS and hi - lo <= 1:
            return True
        return hi <= lo * (1 + self.params.tolerance) + 1e-9

    def _surprising(self, hi: Trial) -> bool:
        """Should the final upper bound be re-tested before it decides the answer?

        Not when an abort ended it (re-testing would offer that level again), when
        a long hold broke, when it was re-tested already, when another window
        broke close above it (two windows agree), or when a clear overshoot
        elsewhere puts the capacity below it.
        """
        if hi.aborted or hi.level in self.retested or hi.hold_s >= self.params.confirm_hold_s:
            return False
        near = hi.level * (1 + 2 * self.params.tolerance)
        if any(not t.ok and hi.level < t.level <= near for t in self._latest().values()):
            return False
        estimate = self._estimate_level(exclude=hi, clear_only=True)
        margin = 1 + (self.params.limits.saturation_tolerance or self.params.tolerance)
        return estimate is None or hi.level < estimate * margin

    def _next_level(self, lo: float, hi: float) -> float:
        """Inside (lo, hi): guided by the capacity estimate when there is one, else the geometric middle."""
        t = self.params.tolerance
        candidates: list[float] = []
        estimate = self._estimate_level()
        if estimate is not None:
            candidates.append(estimate * (1 - t / 2))  # expected good, close to the answer
            # Expected broken, closing the bracket; while lo stays within the band where an overload
            # can go unnoticed (saturation tolerance) this beats bisecting a wide bracket.
            band = 2 * max(t, self.params.limits.saturation_tolerance or 0.0)
            if estimate * (1 - t) <= lo <= estimate * (1 + band):
                candidates.append(lo * (1 + 0.9 * t))
        if self.strict:  # a long hold failed at hi: the answer is just below it
            candidates.append(hi / (1 + 0.9 * t))
        candidates.append(math.sqrt(lo * hi))
        cap = self._overshoot_cap()
        if cap is not None:
            hi = min(hi, max(cap, lo * (1 + t)))  # never far above what already held (bounded overshoot)
            candidates = [min(c, hi * (1 - 1e-6)) for c in candidates]
        for candidate in candidates:
            level = self._level(candidate)
            if lo * (1 + t / 4) < level < hi:
                return level
        middle = self._level(math.sqrt(lo * hi))
        if lo < middle < hi:
            return middle
        return lo + 1  # users mode, a gap of a few users: the next whole user

    # ----- units ----------------------------------------------------------------------------

    def _level(self, value: float) -> float:
        """Clamp to [.., max_level] and round: whole users, or req/s to 0.01."""
        value = min(value, self.params.max_level)
        if self.params.mode is LevelMode.USERS:
            return float(max(1, round(value)))
        return max(0.01, round(value, 2))

    def _hold(self) -> float:
        return self.params.confirm_hold_s if self.strict else self.params.step_hold_s

    def _describe(self, level: float) -> str:
        return self.params.mode.describe(level)

    # ----- the answer -----------------------------------------------------------------------

    def _result(self, status: SearchStatus, reason: str) -> SearchResult:
        lo, hi = self._bracket()
        first = hi.judgement.first_broken if hi is not None else None
        if status is SearchStatus.FOUND and lo is None:
            status = SearchStatus.BROKEN_AT_START
        if status is SearchStatus.BROKEN_AT_START:
            lo = None
        breaking_point = BreakingPoint(
            status=status,
            mode=self.params.mode,
            level=lo.level if lo is not None else None,
            sustainable_rps=round(success_rps(lo.window), 3) if lo is not None else None,
            bracket_low=lo.level if lo is not None else None,
            bracket_high=hi.level if hi is not None else None,
            criterion=first.criterion if first is not None else None,
            criterion_detail=first,
            load_time_s=round(self.load_time_s, 3),
            idle_time_s=round(self.drained_s, 3),
            tolerance=self.params.tolerance,
            metastability=self._finding(lo),
        )
        estimate = self._estimate_rps(raw=True)
        return SearchResult(
            breaking_point=breaking_point,
            steps=list(self.records),
            recovery=self.recovery,
            confirmed=lo is not None and lo.ok and lo.hold_s >= self.params.confirm_hold_s,
            capacity_estimate_rps=round(estimate, 3) if estimate is not None else None,
            stop_reason=reason or None,
            metastability=breaking_point.metastability,
            notes=list(self.notes),
        )


def breaking_point_search(
    params: SearchParams, *, interrupted: Callable[[], bool] | None = None
) -> Generator[StepPlan, StepWindow, SearchResult]:
    """Yield steps, receive their windows, return where the app breaks (see the module docstring).

    `interrupted` is asked as each window arrives; True ends the search at once (status
    `aborted`, stop reason "interrupted") with what it has measured so far.
    """
    return (yield from _Search(params, interrupted=interrupted).run())
