"""One run over many formations: scale to each in turn, run the scenarios, one run directory, one plan.

    reports/20261203T141500Z-harness-demo-v3/        the run: run.json lists `formations`, report.html
        formations/1-1x-standard-1x/                  a complete run directory per formation (and repeat)
        formations/2-2x-standard-1x/                  with its own report, as a one-formation run writes it

The safety argument is the pipeline's (`pipeline.py`): every refusal ran in
preflight for every formation before this starts; the journal of the
original formation is written before the first scale request, and each move
to the next formation rewrites its intent before the PATCH
(`FormationSession.rescale`); the original is restored once, at the end, on
every exit path, before any report is rendered. An interrupt ends the run
after the running scenario: the formations measured so far still make a plan.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.capacity.planning import Prices, PriceSource, plan_for_run
from harness.capacity.verdict import judge_run
from harness.config import Config
from harness.errors import HarnessError
from harness.measurements import RunVerdict
from harness.phases import Phase
from harness.platform import safe_scale
from harness.platform.formation import FormationSession, ScaleResult
from harness.platform.guard import BUILTIN_PRICES_AS_OF, PreflightFacts
from harness.platform.models import Formation
from harness.platform.signals import Interrupted, SignalPolicy
from harness.platform.target import PlatformTarget
from harness.report import render_report
from harness.results.model import FormationRun, RunMeta, RunStatus
from harness.results.rundir import RunDir
from harness.results.store import RunStore, RunWriter
from harness.run_record import dyno_groups, scale_up

__all__ = ["FORMATIONS_DIR", "FormationSeries", "SeriesOutcome", "formation_dir_name"]

FORMATIONS_DIR = "formations"

Enter = Callable[[Phase, RunWriter | None, str], None]
RunScenarios = Callable[[RunWriter, str], RunStatus]


@dataclass
class SeriesOutcome:
    """What the run wrote: its directory, its report and summary, and whether a formation holds the peak."""

    run_dir: Path | None = None
    report: Path | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    verdict: str = ""
    passed: bool = False


def formation_dir_name(index: int, dynos: int, size: str, repeat: int | None = None) -> str:
    """'2-4x-standard-2x' (the 2nd formation tested), with '-r3' for its third repeat."""
    name = f"{index + 1}-{dynos}x-{size.casefold()}"
    return name if repeat is None else f"{name}-r{repeat}"


def generator_note(run_dir: Path) -> str | None:
    """Whether steps judged at this formation were measured with the load generator lagging or
    saturated (re-runs the search ignored do not count), said so the plan does not hide it."""
    steps = RunDir.open(run_dir).steps
    if steps.empty:
        return None
    notes = steps["note"].fillna("").astype(str)
    judged = steps[(steps["kind"] != "recovery") & ~notes.str.startswith("ignored:")]
    lagging = notes[judged.index].str.contains("generator lagging|generator saturated", regex=True)
    limited = lagging | judged["generator_saturated"].fillna(False).astype(bool)
    if not limited.any():
        return None
    return (
        f"{int(limited.sum())} of {len(judged)} judged steps were measured with the load generator lagging "
        "or saturated: this breaking point may be the generator's limit, not the app's."
    )


@dataclass(kw_only=True)
class FormationSeries:
    """The loop of a multi-formation `harness run`; `enter` and `run_scenarios` are the pipeline's."""

    config: Config
    safety: safe_scale.SafeScale
    platform: PlatformTarget
    signals: SignalPolicy
    meta: RunMeta  # what run.json records before the test (the pipeline's `run_meta`)
    repeats: int
    enter: Enter
    info: Callable[[str], None]
    run_scenarios: RunScenarios
    skip_report: Callable[[], bool]
    entries: list[FormationRun] = field(default_factory=list)
    outcome: SeriesOutcome = field(default_factory=SeriesOutcome)  # filled in as the run goes, on every path

    @property
    def process_type(self) -> str:
        return self.config.target.process_type

    def run(self, facts: PreflightFacts, targets: tuple[Formation, ...]) -> SeriesOutcome:
        """Scale to each target in turn and test it; restore; then the run's report with its plan."""
        parent = RunStore(self.config.reports_dir).create(self.safety.app, self._parent_meta(facts, targets))
        self.info(f"run directory {parent.path} ({len(targets)} formations)")
        outcome = self.outcome
        outcome.run_dir = parent.path
        status, failure, started = RunStatus.COMPLETE, None, time.monotonic()
        try:
            self._test_all(parent, facts, targets)
            if self.signals.stop_requested:
                status = RunStatus.INCOMPLETE
        except Interrupted:
            status, failure = RunStatus.INCOMPLETE, "interrupted"
            raise
        except HarnessError as exc:
            status, failure = RunStatus.FAILED, str(exc)
            raise
        except BaseException as exc:  # a bug or an unexpected exit: the run still closes as failed
            status, failure = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._finish(parent, outcome, status, failure, time.monotonic() - started)
        return outcome

    def _parent_meta(self, facts: PreflightFacts, targets: tuple[Formation, ...]) -> RunMeta:
        """The run's meta with where its prices came from and the guard's ceiling."""
        processes = [t.get(self.process_type) for t in targets]
        tested = {p.size.casefold() for p in processes if p is not None}
        live = [size for size in tested if size in facts.priced_live]
        prices = Prices.of({s: facts.prices[s] for s in tested if s in facts.prices}, live=live)
        return self.meta.model_copy(
            update={
                "prices_source": prices.source.value,
                "prices_as_of": None if prices.source is PriceSource.LIVE else BUILTIN_PRICES_AS_OF,
                "max_dynos_per_type": self.config.guards.max_dynos_per_type,
            }
        )

    def _test_all(self, parent: RunWriter, facts: PreflightFacts, targets: tuple[Formation, ...]) -> None:
        """One journaled session over every formation; the original comes back when it ends."""
        self.enter(Phase.SNAPSHOT, parent, facts.formation.describe())
        timeout = self.config.target.scale_timeout_s
        session = self.safety.session(self.platform, targets[0], timeout_s=timeout, signals=self.signals)
        self.enter(Phase.SCALE, parent, targets[0].describe())
        parent.event("scale_requested", formation=targets[0].as_dict())
        since = time.monotonic()
        try:
            with session:
                for index, target in enumerate(targets):
                    if index:
                        if self.signals.stop_requested:
                            break
                        self.enter(Phase.SCALE, parent, target.describe())
                        parent.event("scale_requested", formation=target.as_dict())
                        session.rescale(target)
                    assert session.result is not None
                    since = self._test_one(parent, index, session.result, facts, since)
        finally:
            self._restored(parent, session)

    def _restored(self, parent: RunWriter, session: FormationSession) -> None:
        # The session has restored by now (or raised RestoreError, which propagates).
        self.signals.finish()
        restored = session.restored
        parent.event("restore", restored=bool(restored and restored.restored))
        if restored is not None and restored.formation is not None:
            self.enter(Phase.RESTORE, parent, restored.formation.describe())

    def _test_one(
        self, parent: RunWriter, index: int, scaled: ScaleResult, facts: PreflightFacts, since: float
    ) -> float:
        """Every repeat of the scenarios at one formation, each in its own directory; returns when the
        next formation's time starts."""
        groups = dyno_groups(scaled.target, facts.prices)
        tested = next(g for g in groups if g.type == self.process_type)
        self.info(
            f"formation {index + 1}: {scaled.target.describe()}, up in {scaled.scale_up_latency_s:.1f} s"
        )
        parent.event("scale_up", formation=index + 1, latency_s=scaled.scale_up_latency_s)
        update: dict[str, Any] = {"formation_tested": groups, "scale_up": scale_up(scaled)}
        for repeat in range(1, self.repeats + 1):
            if repeat > 1 and self.signals.stop_requested:
                break
            number = repeat if self.repeats > 1 else None
            if number is not None:
                update |= {"repeat": repeat, "repeats": self.repeats}
                self.info(f"repeat {repeat} of {self.repeats}")
            name = formation_dir_name(index, tested.quantity, tested.size, number)
            child = RunStore(parent.path / FORMATIONS_DIR).create(
                self.safety.app, self.meta.model_copy(update=update), name=name
            )
            entry = FormationRun(
                index=len(self.entries),
                dir=f"{FORMATIONS_DIR}/{name}",
                size=tested.size,
                dynos=tested.quantity,
                dyno_cost_per_hour_usd=tested.dyno_cost_per_hour_usd,
                groups=groups,
                repeat=number,
            )
            self.entries.append(entry)
            parent.update(formations=self.entries)
            since = self._run_child(parent, child, entry, since)
        return since

    def _run_child(self, parent: RunWriter, child: RunWriter, entry: FormationRun, since: float) -> float:
        """Run the scenarios into one formation's directory, then record what it measured in the run."""
        status, failure = RunStatus.INCOMPLETE, None
        try:
            status = self.run_scenarios(child, self.meta.platform.app_url or "")
        except Interrupted:
            failure = "interrupted"
            raise
        except HarnessError as exc:
            status, failure = RunStatus.FAILED, str(exc)
            raise
        finally:
            now = time.monotonic()
            record = child.finish(status, failure=failure, test_duration_s=now - since, judge=judge_run)
            price = entry.dyno_cost_per_hour_usd
            done = entry.model_copy(
                update={
                    "status": record.status,
                    "duration_s": now - since,
                    "cost_usd": None if price is None else price * entry.dynos * (now - since) / 3600,
                    "breaking_point": record.breaking_point,
                    "breaking_scenario": next(
                        (s.name for s in record.scenarios if s.breaking_point is not None), None
                    ),
                    "verdict": record.verdict,
                    "failure": record.failure,
                    "generator_note": generator_note(child.path),
                }
            )
            self.entries[entry.index] = done
            parent.update(formations=self.entries)
            if not self.skip_report():
                render_report(child.path, judge=judge_run)
        return now

    def _finish(
        self, parent: RunWriter, outcome: SeriesOutcome, status: RunStatus, failure: str | None, took_s: float
    ) -> None:
        """Close the run with its verdict (a formation holds the peak), then render its report."""
        plan = plan_for_run(parent.record)
        choice = plan.recommendation.choice if plan is not None else None
        verdicts = [f.verdict for f in self.entries if f.verdict is not None]
        verdict = RunVerdict(
            passed=choice is not None and status is RunStatus.COMPLETE,
            slos_passed=bool(verdicts) and all(v.slos_passed for v in verdicts),
            failed_checks=[] if choice is not None else ["no measured formation holds the peak × headroom"],
        )
        costs = [f.cost_usd for f in self.entries]
        known = [c for c in costs if c is not None]
        parent.finish(
            status,
            failure=failure,
            test_duration_s=took_s,
            test_cost_usd=sum(known) if len(known) == len(costs) else None,
            verdict=verdict,
        )
        outcome.passed = verdict.passed
        if self.skip_report():
            self.info("report skipped (second interrupt); the run directory is complete on disk")
            return
        self.signals.finish()
        self.enter(Phase.REPORT, None, "")
        rendered = render_report(parent.path, planner=plan_for_run)
        outcome.report, outcome.summary = rendered.html, rendered.summary
        outcome.verdict = str(rendered.summary.get("verdict") or "")
