"""What a run would do, and whether it would be refused, before anything starts.

`harness run` and `harness run --dry-run` share this: the selected scenarios
(stress last), the offline refusals (`check_offline`: targets, protected apps,
a journal left behind, the guards on the tested formations, every locustfile
the scenarios use), and the plan with its duration and cost
(`capacity/dry_run.py`). Nothing here calls the platform or starts anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.capacity.dry_run import PlannedFormation, TestPlan
from harness.capacity.dry_run import plan_run as plan_scenarios
from harness.config import Config, Scenario
from harness.errors import ConfigError
from harness.load.locustfile import check_locustfiles
from harness.measurements import LevelMode, ScenarioKind, ScenarioResult, SearchStatus
from harness.platform import safe_scale
from harness.platform.journal import JournalStore
from harness.platform.models import Formation
from harness.platform.parity_check import ParityMode, ParityPolicy
from harness.platform.target import describe_platform, ignored_environment, is_local, uses_emulator
from harness.results.model import RunRecord

__all__ = [
    "BracketHints",
    "RunOptions",
    "ab_order",
    "check_offline",
    "offered_rates",
    "plan_run",
    "repeats_of",
    "safe_scale_for",
    "selected_scenarios",
]


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
    repeat: int | None = None  # --repeat N: measure every scenario N times (None: scenarios.yaml's repeat)
    ab: tuple[int, int] | None = None  # `harness ab`: base and new release versions, run in ABBA order


def selected_scenarios(config: Config, names: tuple[str, ...]) -> list[Scenario]:
    """The scenarios to run: named ones in the given order, else all; stress last (it breaks the app)."""
    chosen = [config.scenario(n) for n in names] if names else list(config.scenarios)
    stress = [s for s in chosen if s.kind == ScenarioKind.STRESS]
    return [s for s in chosen if s.kind != ScenarioKind.STRESS] + stress


def offered_rates(config: Config, scenarios: list[Scenario]) -> list[float]:
    """The highest arrival rate each scenario may offer (users mode has no fixed rate)."""
    rates: list[float] = []
    for s in scenarios:
        levels = [getattr(s, name, None) for name in ("level", "max", "spike", "base")]
        rates += [lvl.value for lvl in levels if lvl is not None and lvl.mode is LevelMode.ARRIVAL_RATE]
    if config.expected_peak.mode is LevelMode.ARRIVAL_RATE:
        rates.append(config.expected_peak.value)
    return rates


def safe_scale_for(
    config: Config, options: RunOptions, *, progress: Callable[[str], None]
) -> safe_scale.SafeScale:
    """The safety sequence of this run: its targets, guards and the load it may offer."""
    target = config.target
    return safe_scale.SafeScale(
        app=options.app or target.app,
        targets={target.app, *(x for x in [options.app] if x)},
        protected=[*target.protected_apps, *(x for x in [target.production_app] if x)],
        guards=config.guards,
        confirmed=options.confirm,
        store=JournalStore(),
        process_type=target.process_type,
        offered_rps=offered_rates(config, selected_scenarios(config, options.scenario_names)),
        approval_ref=target.approval_ref,
        progress=progress,
        parity=ParityPolicy(
            production_app=target.production_app,
            mode=ParityMode(target.parity),
            side_effects_ok=tuple(target.side_effects_ok),
            tested_process_type=target.process_type,
        ),
    )


def check_offline(
    config: Config, options: RunOptions, *, dry_run: bool = False, progress: Callable[[str], None]
) -> safe_scale.SafeScale:
    """Every refusal that needs no platform, before anything starts (`--dry-run` runs the same):
    a scenario is selected, the app is a target and not protected, no journal is left, the tested
    formations are within the guards, and every locustfile the scenarios use imports."""
    scenarios = selected_scenarios(config, options.scenario_names)
    if not scenarios:
        raise ConfigError("no scenario selected", file=config.source, field="scenarios")
    safety = safe_scale_for(config, options, progress=progress)
    process_type = config.target.process_type
    safety.refuse_offline(
        [Formation.of([safe_scale.tested_process(spec, process_type)]) for spec in config.target.formations],
        local=is_local(config),
        fresh_emulator=uses_emulator(config),
        dry_run=dry_run,
    )
    check_locustfiles(config, scenarios)
    unused = ignored_environment(config)
    if unused:
        progress(unused)
    return safety


def plan_run(config: Config, options: RunOptions, *, emulator: bool, prices: dict[str, float]) -> TestPlan:
    """The dry-run plan: formations, scenarios and their steps, duration and cost estimates."""
    formations = []
    for spec in config.target.formations:
        process = safe_scale.tested_process(spec, config.target.process_type)
        price = prices.get(process.size.casefold())
        formations.append(
            PlannedFormation(
                process.describe(), None if price is None else price * spec.quantity, dynos=spec.quantity
            )
        )
    return plan_scenarios(
        selected_scenarios(config, options.scenario_names),
        expected=config.expected_peak,
        app=options.app or config.target.app,
        platform=describe_platform(emulator=emulator),
        formations=formations,
        repeats=repeats_of(config, options),
    )


def repeats_of(config: Config, options: RunOptions) -> int:
    """How many independent repeats of the scenarios each formation gets (--repeat over `repeat:`)."""
    return options.repeat if options.repeat is not None else config.repeat


class BracketHints:
    """The level each series' first repeat found per stress scenario, so later repeats of that series
    on that formation search only the bracket around it (`repeat_search: bracket`)."""

    def __init__(self, config: Config) -> None:
        self.enabled = config.repeat_search == "bracket"
        self._found: dict[tuple[str, str, str], float] = {}

    def _key(self, record: RunRecord, path: Path, scenario: str) -> tuple[str, str, str]:
        if record.series_id is None or not self.enabled:
            return ("", path.name, scenario)  # shared with nothing
        return (record.series_id, str(record.formation_tested), scenario)

    def near(self, record: RunRecord, path: Path, scenario: str) -> float | None:
        """Where an earlier repeat of this series found the breaking point, if one did."""
        return self._found.get(self._key(record, path, scenario))

    def note(self, record: RunRecord, path: Path, result: ScenarioResult) -> None:
        """Remember a found breaking point (the first of the series counts)."""
        point = result.breaking_point
        if point is not None and point.status == SearchStatus.FOUND and point.level is not None:
            self._found.setdefault(self._key(record, path, result.name), point.level)


def ab_order(repeats: int) -> list[int]:
    """Which side each leg of an A/B test runs (0 base, 1 new): ABBA ABBA …, so drift cancels."""
    return [side if r % 2 == 0 else 1 - side for r in range(repeats) for side in (0, 1)]
