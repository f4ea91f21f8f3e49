"""One capacity test end to end: preflight → snapshot → scale → warm-up → load → stress → restore → report.

Orchestration only: the platform (`platform.target`, `platform.safe_scale`),
the scenarios (`load`), the run directory (`results`) and the report
(`report`) do the work; what a person sees is the caller's (`RunEvents`).
The phases are explicit (`Phase`) and each one's start is an event in the run
directory. The safety argument is the order: every refusal runs before
anything changes (offline in `run_plan.check_offline`, before the emulator
starts; then read-only against the platform in `SafeScale.clear`); the formation is journaled
before the one scale request; and the restore runs on every exit path —
success, failure, exception, Ctrl-C, SIGTERM — before the report is
rendered, so scaled-up dynos never wait for matplotlib. After `kill -9`,
`harness restore` finishes from the journal.

Interrupts follow `platform.signals`: the first Ctrl-C (or SIGTERM) during
load stops the load gracefully (the running scenario ends as 'interrupted'),
restores, and writes a partial report; outside load it aborts the current
phase and restores. A second one skips the report but never the restore.

Several formations in scenarios.yaml make one run (`formation_series`): one
journaled scale-up moved from formation to formation, one run directory with a
directory per formation under `formations/`, one report with the capacity plan.

With no Heroku token (and no HEROKU_API_URL) the shipped scenarios.yaml runs
against the local emulator, which the pipeline starts and stops itself.
"""

from __future__ import annotations

import secrets
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from harness.capacity.verdict import judge_run
from harness.config import Config
from harness.engine import run_scenario
from harness.errors import EXIT_OK, EXIT_SLO_FAILED, HarnessError
from harness.formation_series import FormationSeries
from harness.load.warmup import warm_up
from harness.measurements import ScenarioKind, ScenarioResult
from harness.phases import Phase
from harness.platform import safe_scale
from harness.platform.guard import PreflightFacts
from harness.platform.models import Formation
from harness.platform.parity import ParityReport
from harness.platform.release_switch import ReleaseSwitch
from harness.platform.signals import REPEAT_NOTE_WITH_REPORT, Interrupted, Reaction, SignalPolicy
from harness.platform.target import PlatformTarget, open_platform
from harness.report import render_report
from harness.results.model import RunMeta, RunStatus
from harness.results.store import RunStore, RunWriter
from harness.run_plan import BracketHints, RunOptions, ab_order, check_offline, repeats_of, selected_scenarios
from harness.run_record import dyno_groups, run_meta, scale_up
from harness.server_capture import server_capture

__all__ = ["Phase", "PipelineResult", "RunEvents", "run_pipeline"]


# What the first Ctrl-C/SIGTERM does in each phase (see platform/signals.py).
_REACTIONS = {
    Phase.PREFLIGHT: Reaction.RAISE,
    Phase.SNAPSHOT: Reaction.RAISE,
    Phase.SCALE: Reaction.RAISE,
    Phase.WARMUP: Reaction.STOP_LOAD,
    Phase.LOAD: Reaction.STOP_LOAD,
    Phase.STRESS: Reaction.STOP_LOAD,
}


@dataclass
class PipelineResult:
    """How the run ended: the exit code (see README), the run directories and reports it wrote."""

    exit_code: int = EXIT_OK
    run_dirs: list[Path] = field(default_factory=list)
    reports: list[Path] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    summaries: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False


class RunEvents(Protocol):
    """Where the pipeline reports what it is doing (the CLI's `Console` prints it)."""

    def phase(self, phase: Phase, detail: str = "") -> None: ...

    def info(self, text: str) -> None: ...

    def scenario_done(self, result: ScenarioResult) -> None: ...


class _Silent:
    """RunEvents that say nothing."""

    def phase(self, phase: Phase, detail: str = "") -> None:
        """Say nothing."""

    def info(self, text: str) -> None:
        """Say nothing."""

    def scenario_done(self, result: ScenarioResult) -> None:
        """Say nothing."""


class Pipeline:
    """One `harness run`: holds the state the phases share, so each phase is a small method."""

    def __init__(
        self,
        config: Config,
        options: RunOptions,
        events: RunEvents,
        signals: SignalPolicy,
        safety: safe_scale.SafeScale,
        platform: PlatformTarget,
    ) -> None:
        self.config, self.options, self.events, self.signals = config, options, events, signals
        self.safety, self.platform, self.app = safety, platform, safety.app
        self.result = PipelineResult()
        self.parity: ParityReport | None = None  # what the preflight found against production
        self.scenarios = selected_scenarios(config, options.scenario_names)
        self.hints = BracketHints(config)  # a series' first breaking point per stress scenario

    def enter(self, phase: Phase, run: RunWriter | None = None, detail: str = "") -> None:
        """Record a phase boundary (terminal header + run event) and what a signal now does."""
        self.signals.reaction = _REACTIONS.get(phase, Reaction.FINISH)
        self.events.phase(phase, detail)
        if run is not None:
            run.event("phase", phase=phase.value, detail=detail)

    def preflight(self) -> safe_scale.Cleared:
        """Everything that can refuse the test on the platform, before anything changes."""
        self.enter(Phase.PREFLIGHT, detail=self.app)
        process_type = self.config.target.process_type
        changes = [safe_scale.spec_changes(spec, process_type) for spec in self.config.target.formations]
        cleared = self.safety.clear(self.platform, changes)
        facts, self.parity = cleared.facts, cleared.parity
        self.events.info(
            f"release v{facts.release.version}: {facts.release.description or '(no description)'}; "
            f"formation now {facts.formation.describe()}"
        )
        return cleared

    def _workers(self) -> int:
        generator, options = self.config.load_generator, self.options
        workers = generator.workers if options.workers is None else options.workers
        expect = generator.expect_workers if options.expect_workers is None else options.expect_workers
        return workers + expect

    def test_formation(self, facts: PreflightFacts, target: Formation) -> None:
        """Scale to one formation, run the scenarios (each repeat in its own run directory), restore,
        then write the reports."""
        meta = run_meta(self.config, self.platform, facts, workers=self._workers(), scenarios=self.scenarios)
        legs = self._legs(meta)
        run = self._open(legs[0][0])
        runs = {run: RunStatus.COMPLETE}
        failure, started = None, time.monotonic()
        try:
            if self.parity is not None:  # names and severities only: never a config var value
                run.event("parity", passed=self.parity.passed, **self.parity.model_dump(mode="json"))
            self.enter(Phase.SNAPSHOT, run, facts.formation.describe())
            scaling = self.safety.session(
                self.platform, target, timeout_s=self.config.target.scale_timeout_s, signals=self.signals
            )
            self.enter(Phase.SCALE, run, target.describe())
            run.event("scale_requested", formation=target.as_dict())
            try:
                with scaling, self._release_switch() as switch:
                    assert scaling.result is not None
                    groups, latency = dyno_groups(target, facts.prices), scale_up(scaling.result)
                    tested: dict[str, Any] = {"formation_tested": groups, "scale_up": latency}
                    run.update(**tested)
                    run.event("scale_up", latency_s=scaling.result.scale_up_latency_s)
                    self.events.info(f"all dynos up in {scaling.result.scale_up_latency_s:.1f} s")
                    for n, (leg_meta, version) in enumerate(legs):
                        if n and self.signals.stop_requested:
                            break
                        leg = run if n == 0 else self._open(leg_meta.model_copy(update=tested))
                        runs[leg] = RunStatus.INCOMPLETE
                        if switch is not None and version is not None:
                            leg.event("release_switch", release=switch.switch_to(version).version)
                        if len(legs) > 1:
                            self.events.info(f"repeat {n + 1} of {len(legs)}: {leg_meta.label or ''}")
                        runs[leg] = self.run_scenarios(leg, facts.app.web_url or "")
            finally:
                # The session has restored by now (or raised RestoreError, which propagates).
                self.signals.finish()
                restored = scaling.restored
                run.event("restore", restored=bool(restored and restored.restored))
                if restored is not None and restored.formation is not None:
                    self.events.phase(Phase.RESTORE, restored.formation.describe())
        except Interrupted:
            runs = {r: RunStatus.INCOMPLETE for r in runs}
            failure = "interrupted"
            self.result.interrupted = True
            raise
        except HarnessError as exc:
            runs = {r: RunStatus.FAILED if s == RunStatus.COMPLETE else s for r, s in runs.items()}
            failure = str(exc)
            raise
        finally:
            for each, status in runs.items():
                self._finish(each, status, failure, time.monotonic() - started)

    def _legs(self, meta: RunMeta) -> list[tuple[RunMeta, int | None]]:
        """Each run directory to make on this formation, with the release to switch to first."""
        repeats, series = repeats_of(self.config, self.options), secrets.token_hex(6)
        if self.options.ab is None:
            if repeats == 1:
                return [(meta, None)]
            update = {"series_id": series, "repeats": repeats}
            return [(meta.model_copy(update={**update, "repeat": n}), None) for n in range(1, repeats + 1)]
        legs: list[tuple[RunMeta, int | None]] = []
        seen = [0, 0]
        for side in ab_order(repeats):
            version = self.options.ab[side]
            seen[side] += 1
            release = meta.release.model_copy(update={"version": version, "description": f"A/B: v{version}"})
            update = {"series_id": f"{series}-{'ab'[side]}", "repeat": seen[side], "repeats": repeats}
            legs.append(
                (meta.model_copy(update={**update, "label": f"v{version}", "release": release}), version)
            )
        return legs

    def _release_switch(self) -> AbstractContextManager[ReleaseSwitch | None]:
        if self.options.ab is None:
            return nullcontext()
        return ReleaseSwitch(self.platform.client, self.app, progress=self.events.info)

    def _open(self, meta: RunMeta) -> RunWriter:
        run = RunStore(self.config.reports_dir).create(self.app, meta)
        self.result.run_dirs.append(run.path)
        self.events.info(f"run directory {run.path}")
        return run

    def run_scenarios(self, run: RunWriter, url: str) -> RunStatus:
        """Warm-up, then every selected scenario; an interrupt stops after the running one."""
        self.enter(Phase.WARMUP, run, url)
        warm_up(url, stop_requested=lambda: self.signals.stop_requested, verify=self.platform.tls_verify())
        size = next(
            (g.size for g in run.record.formation_tested if g.type == self.config.target.process_type), None
        )
        with server_capture(self.platform.client, self.app, run.path, dyno_size=size):
            for scenario in self.scenarios:
                if self.signals.stop_requested:
                    break
                phase = Phase.STRESS if scenario.kind == ScenarioKind.STRESS else Phase.LOAD
                self.enter(phase, run, f"{scenario.kind} scenario {scenario.name}")
                result = run_scenario(
                    self.config,
                    scenario,
                    host=url,
                    workers=self.options.workers,
                    expect_workers=self.options.expect_workers,
                    quiet=self.options.quiet,
                    stop_requested=lambda: self.signals.stop_requested,
                    on_timeseries=run.append_timeseries,
                    search_near=self.hints.near(run.record, run.path, scenario.name),
                    on_step=partial(run.step_started, scenario.name, scenario.kind),
                    ca_file=self.platform.ca_file,
                )
                self.hints.note(run.record, run.path, result)
                run.add_scenario(result, config=scenario)
                self.events.scenario_done(result)
        return RunStatus.INCOMPLETE if self.signals.stop_requested else RunStatus.COMPLETE

    def _finish(self, run: RunWriter, status: RunStatus, failure: str | None, duration_s: float) -> None:
        """Close the run directory, then render its report unless a second interrupt said not to."""
        record = run.finish(status, failure=failure, test_duration_s=duration_s, judge=judge_run)
        if self.signals.skip_report:
            self.events.info("report skipped (second interrupt); the run directory is complete on disk")
            return
        self.signals.finish()
        self.events.phase(Phase.REPORT)
        rendered = render_report(run.path)
        self.result.reports.append(rendered.html)
        self.result.summaries.append(rendered.summary)
        self.result.verdicts.append(str(rendered.summary.get("verdict") or ""))
        if record.verdict is not None and not record.verdict.passed:
            self.result.exit_code = max(self.result.exit_code, EXIT_SLO_FAILED)

    def run(self) -> None:
        """Preflight, then each formation in turn; an interrupt ends the run after the current one.

        Several formations make one run with a capacity plan (`formation_series`), unless A/B."""
        cleared = self.preflight()
        if len(cleared.targets) > 1 and self.options.ab is None:
            self.run_series(cleared)
            return
        for target in cleared.targets:
            self.test_formation(cleared.facts, target)
            if self.signals.stop_requested:
                break

    def run_series(self, cleared: safe_scale.Cleared) -> None:
        """Every formation in one run directory and one report with the capacity plan."""
        series = FormationSeries(
            config=self.config,
            safety=self.safety,
            platform=self.platform,
            signals=self.signals,
            meta=run_meta(self.config, self.platform, cleared.facts, workers=self._workers()),
            repeats=repeats_of(self.config, self.options),
            enter=self.enter,
            info=self.events.info,
            run_scenarios=self.run_scenarios,
            skip_report=lambda: self.signals.skip_report,
        )
        try:
            series.run(cleared.facts, cleared.targets)
        finally:
            outcome = series.outcome
            self.result.run_dirs += [outcome.run_dir] if outcome.run_dir else []
            if outcome.report is not None:
                self.result.reports.append(outcome.report)
                self.result.summaries.append(outcome.summary)
                self.result.verdicts.append(outcome.verdict)
                if not outcome.passed:
                    self.result.exit_code = max(self.result.exit_code, EXIT_SLO_FAILED)


def run_pipeline(config: Config, options: RunOptions, *, events: RunEvents | None = None) -> PipelineResult:
    """Run the whole capacity test; returns the outcome (HarnessErrors propagate after the restore).

    Every refusal that needs no platform (`check_offline`) comes before anything starts."""
    if options.dry_run:
        raise RuntimeError("run_pipeline does not do dry runs; call plan_run")
    events = events or _Silent()
    safety = check_offline(config, options, progress=events.info)
    signals = SignalPolicy(repeat_note=REPEAT_NOTE_WITH_REPORT)
    result = PipelineResult()
    try:
        with signals, open_platform(config, progress=events.info, store=safety.store) as platform:
            pipeline = Pipeline(config, options, events, signals, safety, platform)
            result = pipeline.result
            pipeline.run()
    except Interrupted:
        result.interrupted = True
    if signals.received:
        result.interrupted = True
        result.exit_code = signals.exit_code
    events.phase(Phase.DONE)
    return result
