"""One capacity test end to end: preflight → snapshot → scale → warm-up → load → stress → restore → report.

The phases are explicit (`Phase`) and each one's start and end is an event in
the run directory. The safety argument is the order: guards and preflight run
before anything changes; the formation is journaled before the one scale
request (`platform.formation.FormationSession`); and the restore runs on every
exit path — success, failure, exception, Ctrl-C, SIGTERM — before the report
is rendered, so scaled-up dynos never wait for matplotlib. After `kill -9`,
`harness restore` finishes from the journal.

Interrupts: the first Ctrl-C (or SIGTERM) during load stops the load
gracefully (the running scenario ends as 'interrupted'), restores, and writes
a partial report; outside load it aborts the current phase and restores. A
second one skips the report but never the restore.

With no Heroku token (and no HEROKU_API_URL) the shipped scenarios.yaml runs
against the local emulator, which the pipeline starts and stops itself.
"""

from __future__ import annotations

import enum
import math
import os
import secrets
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import httpx

from harness.capacity.verdict import judge_run
from harness.config import Config, FormationSpec, Platform, Scenario, StressScenario
from harness.engine import planned_seconds, run_scenario
from harness.errors import EXIT_OK, EXIT_SLO_FAILED, AuthError, ConfigError, HarnessError, LoadError
from harness.measurements import LevelMode, ScenarioResult
from harness.platform import guard
from harness.platform.auth import ApiToken, TokenSource, find_token
from harness.platform.formation import FormationSession, Interrupted, ScaleResult
from harness.platform.heroku import HerokuClient
from harness.platform.journal import JournalStore
from harness.platform.models import Formation, ProcessFormation, canonical_size
from harness.report import render_report
from harness.results.model import (
    DynoGroup,
    LevelInfo,
    LoadGeneratorInfo,
    PlatformInfo,
    ReleaseInfo,
    RunMeta,
    RunStatus,
    ScaleUp,
)
from harness.results.store import RunStore, RunWriter

__all__ = [
    "Phase",
    "PipelineResult",
    "RunOptions",
    "TestPlan",
    "plan_run",
    "run_pipeline",
    "uses_emulator",
]

DEMO_APP_DIR = Path(__file__).parent / "emulator" / "demo_app"
WARMUP_TIMEOUT_S = 30.0


class Phase(enum.Enum):
    """The pipeline's phases, in order; `RESTORE` runs whatever happened before it."""

    PREFLIGHT = "preflight"  # config, token, app, guards, target reachable, no stale journal
    SNAPSHOT = "snapshot"  # read the current formation and journal it before any change
    SCALE = "scale"  # one batch update, then wait until every dyno is up
    WARMUP = "warmup"  # the first requests through the router until the app answers
    LOAD = "load"  # load, spike and soak scenarios: SLO verdicts at the expected load
    STRESS = "stress"  # the breaking-point search and the recovery after it
    RESTORE = "restore"  # the journaled formation back, verified
    REPORT = "report"  # run directory finished, HTML/JSON/JUnit rendered
    DONE = "done"


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """What `harness run` was asked for (CLI flags over scenarios.yaml)."""

    scenario_names: tuple[str, ...] = ()  # empty: every scenario in the file
    app: str | None = None
    dry_run: bool = False
    confirm: bool = False  # --yes: allow going over the guards' ceilings
    quiet: bool = False
    workers: int | None = None
    expect_workers: int | None = None


@dataclass
class PipelineResult:
    """How the run ended: the exit code (see README), the run directories and reports it wrote."""

    exit_code: int = EXIT_OK
    run_dirs: list[Path] = field(default_factory=list)
    reports: list[Path] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    summaries: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False


@dataclass(frozen=True)
class PlannedScenario:
    """A scenario in the dry-run plan: its kind, levels and estimated load time."""

    name: str
    kind: str
    levels: str
    estimate_s: float
    estimate_note: str = ""


@dataclass(frozen=True)
class TestPlan:
    """What a run would do, for `--dry-run` and the cost/duration estimate."""

    app: str
    platform: str
    formations: list[str]
    scenarios: list[PlannedScenario]
    load_s: float
    cost_per_hour_usd: list[float | None]
    estimated_cost_usd: float | None

    def as_json(self) -> dict[str, Any]:
        """The plan for machines (`harness run --dry-run --json`)."""
        return {
            "app": self.app,
            "platform": self.platform,
            "formations": self.formations,
            "cost_per_hour_usd": self.cost_per_hour_usd,
            "scenarios": [vars(s) for s in self.scenarios],
            "load_s": self.load_s,
            "estimated_cost_usd": self.estimated_cost_usd,
        }

    def lines(self) -> list[str]:
        """The plan as text for a person."""
        out = [f"app {self.app} on {self.platform}"]
        for formation, cost in zip(self.formations, self.cost_per_hour_usd, strict=True):
            price = f" (${cost:.2f}/hour)" if cost is not None else ""
            out.append(f"  formation under test: {formation}{price}")
        for s in self.scenarios:
            note = f", {s.estimate_note}" if s.estimate_note else ""
            out.append(f"  {s.kind:<6} {s.name}: {s.levels}; ~{s.estimate_s:.0f} s{note}")
        minutes = self.load_s / 60
        out.append(f"  load time ≈ {minutes:.1f} min per formation (plus scale-up and restore)")
        if self.estimated_cost_usd is not None:
            out.append(f"  estimated dyno cost ≈ ${self.estimated_cost_usd:.2f}")
        return out


def uses_emulator(config: Config, environ: dict[str, str] | None = None) -> bool:
    """AUTO means the emulator when no Heroku API URL or token is configured, as a newcomer's laptop."""
    if config.target.platform is not Platform.AUTO:
        return config.target.platform is Platform.EMULATOR
    env = dict(os.environ) if environ is None else environ
    if env.get("HEROKU_API_URL"):
        return False
    try:
        find_token(env)
    except AuthError:
        return True
    return False


def selected_scenarios(config: Config, names: tuple[str, ...]) -> list[Scenario]:
    """The scenarios to run: named ones in the given order, else all; stress last (it breaks the app)."""
    chosen = [config.scenario(n) for n in names] if names else list(config.scenarios)
    return [s for s in chosen if s.kind != "stress"] + [s for s in chosen if s.kind == "stress"]


def target_formation(current: Formation, spec: FormationSpec, process_type: str) -> Formation:
    """The formation under test: `process_type` at spec's quantity and size; other types unchanged."""
    tested = ProcessFormation(type=process_type, quantity=spec.quantity, size=canonical_size(spec.size))
    return Formation.of([p for p in current if p.type != process_type] + [tested])


def _stress_estimate(s: StressScenario, expected: float) -> tuple[float, str]:
    """Rough load time of the adaptive search, assuming the app breaks near 2× the expected peak."""
    guess = max(s.start.value * s.growth, 2.0 * expected)
    probes = max(1, math.ceil(math.log(min(guess, s.max.value) / s.start.value) / math.log(s.growth)) + 1)
    refine = max(1, math.ceil(math.log2((s.growth - 1.0) / s.tolerance)))
    step = s.ramp_s + s.step_hold_s
    recovery = s.recovery.limit_s / 2 if s.recovery else 0.0
    return (probes + refine) * step + s.confirm_hold_s + recovery, "adaptive: depends on where it breaks"


def plan_run(config: Config, options: RunOptions, *, emulator: bool, prices: dict[str, float]) -> TestPlan:
    """The dry-run plan: formations, scenarios and their steps, duration and cost estimates."""
    scenarios = selected_scenarios(config, options.scenario_names)
    planned: list[PlannedScenario] = []
    for s in scenarios:
        seconds = planned_seconds(s)
        note = ""
        if isinstance(s, StressScenario):
            seconds, note = _stress_estimate(s, config.expected_peak.value)
            levels = (
                f"{s.start.describe()} → at most {s.max.describe()}, "
                f"×{s.growth:g} then narrowed to {s.tolerance:.0%}"
            )
        elif s.kind == "spike":
            levels = f"{s.base.describe()} → spike {s.spike.describe()} → back"  # type: ignore[union-attr]
        else:
            levels = s.level.describe()  # type: ignore[union-attr]
        planned.append(PlannedScenario(s.name, s.kind, levels, float(seconds or 0.0), note))
    load_s = sum(p.estimate_s for p in planned)
    process_type = config.target.process_type
    costs: list[float | None] = []
    for spec in config.target.formations:
        price = prices.get(canonical_size(spec.size).casefold())
        costs.append(None if price is None else price * spec.quantity)
    total = None
    if all(c is not None for c in costs):
        overhead_s = 120.0  # scale-up and restore per formation, a conservative guess
        total = sum((c or 0.0) * (load_s + overhead_s) / 3600 for c in costs)
    return TestPlan(
        app=options.app or config.target.app,
        platform="the local emulator" if emulator else "Heroku",
        formations=[
            f"{process_type}={f.quantity}:{canonical_size(f.size)}" for f in config.target.formations
        ],
        scenarios=planned,
        load_s=load_s,
        cost_per_hour_usd=costs,
        estimated_cost_usd=total,
    )


class Console:
    """Phase headers and final lines for a person, on stderr when stdout is for machines."""

    def __init__(self, *, quiet: bool, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr

    def phase(self, phase: Phase, detail: str = "") -> None:
        """`== scale: web=2:Standard-1X`."""
        if not self.quiet:
            print(f"== {phase.value}{': ' + detail if detail else ''}", file=self.stream, flush=True)

    def info(self, text: str) -> None:
        """A line of progress."""
        if not self.quiet:
            print(f"   {text}", file=self.stream, flush=True)


class Interrupts:
    """Ctrl-C/SIGTERM policy: the first stops load gracefully (or aborts a wait), the second skips the
    report; neither ever skips the restore."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.phase = Phase.PREFLIGHT
        self._previous: dict[int, Any] = {}

    @property
    def stop_requested(self) -> bool:
        """Whether the load should stop now."""
        return bool(self.received)

    @property
    def skip_report(self) -> bool:
        """A second interrupt: restore, but do not render."""
        return len(self.received) >= 2

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        """Only the first signal outside load may raise (to abort a wait); a later one never does,
        because by then a restore may be running and nothing may interrupt it."""
        self.received.append(signum)
        if len(self.received) > 1:
            os.write(2, b"harness: the report will be skipped; the formation is still restored first.\n")
            return
        if self.phase in (Phase.RESTORE, Phase.REPORT, Phase.DONE):
            os.write(2, b"harness: finishing the restore first; it exits when that is done.\n")
            return
        if self.phase in (Phase.WARMUP, Phase.LOAD, Phase.STRESS):
            os.write(2, b"\nharness: stopping the load, then restoring (interrupt again: skip the report)\n")
            return
        raise Interrupted(signum)

    @contextmanager
    def installed(self) -> Iterator[Interrupts]:
        """Install the handlers for the duration of the run."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            for number, previous in self._previous.items():
                signal.signal(number, previous)

    @property
    def exit_code(self) -> int:
        """128 + the first signal, as a shell reports it (130 for Ctrl-C, 143 for SIGTERM)."""
        return 128 + self.received[0] if self.received else EXIT_OK


@contextmanager
def platform_client(config: Config, console: Console) -> Iterator[tuple[HerokuClient, Any]]:
    """A client for Heroku, or for a local emulator started (and always stopped) here."""
    if not uses_emulator(config):
        client = HerokuClient.from_env()
        try:
            yield client, None
        finally:
            client.close()
        return
    from harness.emulator.process import EmulatorProcess

    app_dir = config.target.emulator.app_dir or DEMO_APP_DIR
    console.info(f"starting the local emulator with {app_dir.name} as {config.target.app}")
    token = secrets.token_urlsafe(24)
    emulator = EmulatorProcess.start(
        apps={config.target.app: app_dir},
        token=token,
        boot_timeout_s=config.target.emulator.boot_timeout_s,
    )
    try:
        client = HerokuClient(ApiToken(token, TokenSource.ARGUMENT), emulator.api_url)
        try:
            if config.target.emulator.config_vars:
                client.request(
                    "PATCH",
                    f"/apps/{config.target.app}/config-vars",
                    body=dict(config.target.emulator.config_vars),
                    idempotent=True,
                    app=config.target.app,
                )
            yield client, emulator
        finally:
            client.close()
    finally:
        emulator.stop()
        console.info("emulator stopped")


def _warm_up(url: str, interrupts: Interrupts) -> int:
    """GET the app until it answers below 500 (dynos can be up before their app is warm)."""
    deadline = time.monotonic() + WARMUP_TIMEOUT_S
    answered = 0
    with httpx.Client(timeout=10.0) as http:
        while time.monotonic() < deadline and not interrupts.stop_requested and answered < 5:
            try:
                if http.get(url).status_code < 500:
                    answered += 1
                    continue
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    if answered == 0 and not interrupts.stop_requested:
        raise LoadError(
            f"{url} did not answer below HTTP 500 within {WARMUP_TIMEOUT_S:.0f} s after every dyno was up; "
            "check the app's logs (`heroku logs -a APP`) before testing its capacity."
        )
    return answered


def _groups(formation: Formation, prices: dict[str, float]) -> list[DynoGroup]:
    return [
        DynoGroup(
            type=p.type,
            quantity=p.quantity,
            size=p.size,
            dyno_cost_per_hour_usd=prices.get(p.size.casefold()),
        )
        for p in formation
    ]


def _scale_up(result: ScaleResult) -> ScaleUp:
    boots = {d.name: d.seen_up_after_s for d in result.dynos if not d.preexisting}
    return ScaleUp(
        latency_s=result.scale_up_latency_s,
        dyno_boot_s={name: s for name, s in boots.items() if s is not None},
    )


class Pipeline:
    """One `harness run`: holds the state the phases share, so each phase is a small method."""

    def __init__(self, config: Config, options: RunOptions, console: Console, interrupts: Interrupts) -> None:
        self.config, self.options, self.console, self.interrupts = config, options, console, interrupts
        self.app = options.app or config.target.app
        self.result = PipelineResult()
        self.scenarios = selected_scenarios(config, options.scenario_names)

    def enter(self, phase: Phase, run: RunWriter | None = None, detail: str = "") -> None:
        """Record a phase boundary (terminal header + run event)."""
        self.interrupts.phase = phase
        self.console.phase(phase, detail)
        if run is not None:
            run.event("phase", phase=phase.value, detail=detail)

    def preflight(self, client: HerokuClient, emulator: Any) -> guard.PreflightFacts:
        """Everything that can refuse the test, before anything changes."""
        self.enter(Phase.PREFLIGHT, detail=self.app)
        guard.check_app_allowed(
            self.app,
            targets={self.config.target.app, *(x for x in [self.options.app] if x)},
            protected=self.config.target.protected_apps,
        )
        self._check_journal(client, emulator)
        facts = guard.preflight(client, self.app, process_type=self.config.target.process_type)
        for spec in self.config.target.formations:
            formation = target_formation(facts.formation, spec, self.config.target.process_type)
            guard.check_formation_limits(
                formation,
                max_dynos_per_type=self.config.guards.max_dynos_per_type,
                max_cost_per_hour_usd=self.config.guards.max_cost_per_hour_usd,
                prices=facts.prices,
                confirmed=self.options.confirm,
            )
            for rate in self._offered_rates():
                guard.check_offered_rate(
                    rate,
                    emulator=emulator is not None,
                    approval_ref=self.config.target.approval_ref,
                    formation=formation,
                    process_type=self.config.target.process_type,
                )
        self.console.info(
            f"release v{facts.release.version}: {facts.release.description or '(no description)'}; "
            f"formation now {facts.formation.describe()}"
        )
        return facts

    def _check_journal(self, client: HerokuClient, emulator: Any) -> None:
        """Refuse on a stale journal, except one left by an earlier emulator, which died with its dynos."""
        store = JournalStore()
        journal = store.read(self.app)
        if journal is not None and emulator is not None and journal.api_host != client.api_host:
            self.console.info(
                f"discarding the journal of a previous emulator run ({store.path_for(self.app)})"
            )
            store.delete(self.app)
        store.ensure_absent(self.app)

    def _offered_rates(self) -> list[float]:
        """The highest arrival rate each scenario may offer (users mode has no fixed rate)."""
        rates: list[float] = []
        for s in self.scenarios:
            levels = [getattr(s, name, None) for name in ("level", "max", "spike", "base")]
            rates += [lvl.value for lvl in levels if lvl is not None and lvl.mode is LevelMode.ARRIVAL_RATE]
        if self.config.expected_peak.mode is LevelMode.ARRIVAL_RATE:
            rates.append(self.config.expected_peak.value)
        return rates

    def meta(self, facts: guard.PreflightFacts, client: HerokuClient, emulator: Any) -> RunMeta:
        """What run.json records about the app and the release before the test starts."""
        release = facts.release
        slug = facts.slug
        peak = self.config.expected_peak
        return RunMeta(
            platform=PlatformInfo(
                kind="emulator" if emulator is not None else "heroku",
                api_host=client.api_host,
                app_url=facts.app.web_url,
                region=facts.app.region.name if facts.app.region else None,
                stack=facts.app.stack.name if facts.app.stack else None,
            ),
            release=ReleaseInfo(
                version=release.version,
                description=release.description or "",
                commit=slug.commit if slug else None,
                created_at=release.created_at,
                user=release.user_email,
            ),
            slug_size_bytes=slug.size if slug else None,
            process_type=self.config.target.process_type,
            formation_original=_groups(facts.formation, facts.prices),
            expected_peak=LevelInfo(mode=peak.mode, value=peak.value),
            required_headroom=self.config.required_headroom,
            load_generator=LoadGeneratorInfo(
                workers=self._workers(),
                host=os.uname().nodename,
                cpu_count=os.cpu_count(),
            ),
        )

    def _workers(self) -> int:
        generator = self.config.load_generator
        workers = generator.workers if self.options.workers is None else self.options.workers
        expect = (
            generator.expect_workers if self.options.expect_workers is None else self.options.expect_workers
        )
        return workers + expect

    def test_formation(
        self, client: HerokuClient, facts: guard.PreflightFacts, emulator: Any, spec: FormationSpec
    ) -> None:
        """Scale to one formation, run the scenarios, restore, then write the report."""
        target = target_formation(facts.formation, spec, self.config.target.process_type)
        store = RunStore(self.config.reports_dir)
        run = store.create(self.app, self.meta(facts, client, emulator))
        self.result.run_dirs.append(run.path)
        self.console.info(f"run directory {run.path}")
        status, failure, started = RunStatus.COMPLETE, None, time.monotonic()
        try:
            self.enter(Phase.SNAPSHOT, run, facts.formation.describe())
            session = FormationSession(
                client,
                self.app,
                target,
                timeout_s=self.config.target.scale_timeout_s,
                handle_signals=False,
                progress=self.console.info,
            )
            self.enter(Phase.SCALE, run, target.describe())
            run.event("scale_requested", formation=target.as_dict())
            try:
                with session:
                    assert session.result is not None
                    run.update(
                        formation_tested=_groups(target, facts.prices), scale_up=_scale_up(session.result)
                    )
                    run.event("scale_up", latency_s=session.result.scale_up_latency_s)
                    self.console.info(f"all dynos up in {session.result.scale_up_latency_s:.1f} s")
                    status = self.run_scenarios(run, facts.app.web_url or "", session.result)
            finally:
                # The session has restored by now (or raised RestoreError, which propagates).
                self.interrupts.phase = Phase.RESTORE
                restored = session.restored
                run.event("restore", restored=bool(restored and restored.restored))
                if restored is not None and restored.formation is not None:
                    self.console.phase(Phase.RESTORE, restored.formation.describe())
        except Interrupted:
            status, failure = RunStatus.INCOMPLETE, "interrupted"
            self.result.interrupted = True
            raise
        except HarnessError as exc:
            status, failure = RunStatus.FAILED, str(exc)
            raise
        finally:
            self._finish(run, status, failure, time.monotonic() - started)

    def run_scenarios(self, run: RunWriter, url: str, scaled: ScaleResult) -> RunStatus:
        """Warm-up, then every selected scenario; an interrupt stops after the running one."""
        self.enter(Phase.WARMUP, run, url)
        _warm_up(url, self.interrupts)
        for scenario in self.scenarios:
            if self.interrupts.stop_requested:
                break
            phase = Phase.STRESS if scenario.kind == "stress" else Phase.LOAD
            self.enter(phase, run, f"{scenario.kind} scenario {scenario.name}")
            result = run_scenario(
                self.config,
                scenario,
                host=url,
                workers=self.options.workers,
                expect_workers=self.options.expect_workers,
                quiet=self.options.quiet,
                stop_requested=lambda: self.interrupts.stop_requested,
            )
            run.add_scenario(result, config=scenario)
            self.console.info(self._scenario_line(result))
        return RunStatus.INCOMPLETE if self.interrupts.stop_requested else RunStatus.COMPLETE

    @staticmethod
    def _scenario_line(result: ScenarioResult) -> str:
        failed = [v.describe() for v in result.verdicts if not v.passed]
        text = f"{result.name}: {result.status}"
        if failed:
            text += " (" + "; ".join(failed) + ")"
        point = result.breaking_point
        if point is not None and point.sustainable_rps is not None:
            text += (
                f"; breaking point ≈ {point.sustainable_rps:,.0f} req/s ({point.criterion or point.status})"
            )
        return text

    def _finish(self, run: RunWriter, status: RunStatus, failure: str | None, duration_s: float) -> None:
        """Close the run directory, then render its report unless a second interrupt said not to."""
        record = run.finish(status, failure=failure, test_duration_s=duration_s, judge=judge_run)
        if self.interrupts.skip_report:
            self.console.info("report skipped (second interrupt); the run directory is complete on disk")
            return
        self.interrupts.phase = Phase.REPORT
        self.console.phase(Phase.REPORT)
        rendered = render_report(run.path)
        self.result.reports.append(rendered.html)
        self.result.summaries.append(rendered.summary)
        verdict = rendered.summary.get("verdict_sentence") or rendered.summary.get("verdict") or ""
        self.result.verdicts.append(str(verdict))
        if record.verdict is not None and not record.verdict.passed:
            self.result.exit_code = max(self.result.exit_code, EXIT_SLO_FAILED)


def run_pipeline(config: Config, options: RunOptions, *, console: Console | None = None) -> PipelineResult:
    """Run the whole capacity test; returns the outcome (HarnessErrors propagate after the restore)."""
    console = console or Console(quiet=options.quiet)
    interrupts = Interrupts()
    pipeline = Pipeline(config, options, console, interrupts)
    if not pipeline.scenarios:
        raise ConfigError("no scenario selected", file=config.source, field="scenarios")
    with interrupts.installed(), platform_client(config, console) as (client, emulator):
        if options.dry_run:
            raise RuntimeError("run_pipeline does not do dry runs; call plan_run")
        try:
            facts = pipeline.preflight(client, emulator)
            for spec in config.target.formations:
                pipeline.test_formation(client, facts, emulator, spec)
                if interrupts.stop_requested:
                    break
        except Interrupted:
            pipeline.result.interrupted = True
    if interrupts.received:
        pipeline.result.interrupted = True
        pipeline.result.exit_code = interrupts.exit_code
    console.phase(Phase.DONE)
    return pipeline.result
