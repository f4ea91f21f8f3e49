"""The run.json schema: one versioned pydantic model per part of a run.

run.json is the index of a run directory: what was tested (app, release,
slug, formations and their prices), how (scenario configs, load generator,
versions), and what came out (per-scenario verdicts, breaking point,
recovery, the overall verdict). The bulky measurements live next to it in
CSV files (see `store.py`). Readers call `upgrade()` first, so a run written
by an older harness still loads (STYLE §12): each schema change adds one
function to `UPGRADES` that lifts version N to N+1.

Never stored: API tokens and config var values. Free-form mappings (scenario
configs, event fields) pass through `redact()` before they reach the disk.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.errors import ResultsError
from harness.measurements import (
    BreakingPoint,
    LatencyBasis,
    LevelInfo,
    LevelMode,
    Recovery,
    RunStatus,
    RunVerdict,
    ScenarioKind,
    ScenarioStatus,
    SloLimits,
    StepWindow,
    Verdict,
    format_number,
)

__all__ = [
    "SCHEMA_VERSION",
    "UPGRADES",
    "DynoGroup",
    "FormationRun",
    "LevelInfo",
    "LoadGeneratorInfo",
    "PlatformInfo",
    "ReleaseInfo",
    "RunMeta",
    "RunRecord",
    "RunStatus",
    "RunVerdict",
    "ScaleUp",
    "ScenarioEntry",
    "Versions",
    "WriterInfo",
    "format_number",
    "redact",
    "upgrade",
]

SCHEMA_VERSION = 2


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 adds multi-formation runs (`formations`) and where prices came from; v1 runs had one
    formation per run directory and no price source."""
    return {**data, "formations": data.get("formations", [])}


# schema_version N → a function returning the same data as version N+1.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}

# Keys whose values are secrets or may hold one: replaced by "[redacted]" wherever they appear.
_SECRET_KEY = re.compile(
    r"token|secret|password|passwd|authorization|api[_-]?key|config[_-]?vars?|cookie", re.I
)
REDACTED = "[redacted]"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlatformInfo(_Model):
    """Where the app ran: 'heroku' or 'emulator', the API host, the app's own URL."""

    kind: str = "emulator"
    api_host: str = ""
    app_url: str | None = None
    region: str | None = None
    stack: str | None = None

    @field_validator("api_host", "app_url")
    @classmethod
    def _without_credentials(cls, value: str | None) -> str | None:
        """Drop any 'user:password@' from a URL or host, so credentials never reach run.json."""
        return (
            None if value is None else re.sub(r"^([a-z][a-z0-9+.-]*://)?[^/@\s]*@", r"\1", value, flags=re.I)
        )


class ReleaseInfo(_Model):
    """The release under test, as the Platform API describes it."""

    version: int | None = None
    description: str = ""
    commit: str | None = None
    created_at: datetime | None = None
    user: str | None = None


class DynoGroup(_Model):
    """One process type of a formation, with the price of one dyno per hour in USD."""

    type: str
    quantity: int = Field(ge=0)
    size: str
    dyno_cost_per_hour_usd: float | None = None

    @property
    def cost_per_hour_usd(self) -> float | None:
        """The whole group's price per hour (quantity × dyno price)."""
        if self.dyno_cost_per_hour_usd is None:
            return None
        return self.quantity * self.dyno_cost_per_hour_usd

    def describe(self) -> str:
        """'4 × Standard-2X'."""
        return f"{self.quantity} × {self.size}"


class ScaleUp(_Model):
    """How long scaling to the tested formation took, in seconds from the scale request."""

    latency_s: float | None = None  # until every dyno of the tested formation was up
    dyno_boot_s: dict[str, float] = Field(default_factory=dict)  # dyno name ('web.3') → seconds to 'up'


class LoadGeneratorInfo(_Model):
    """Where Locust ran and whether it kept up (above 90 % CPU its figures are not trustworthy)."""

    workers: int = 0  # 0: Locust in-process; N: a master and N workers
    host: str = ""
    cpu_count: int | None = None
    cpu_warnings: list[str] = Field(default_factory=list)


class Versions(_Model):
    """Software versions that produced the run."""

    harness: str = ""
    locust: str = ""
    python: str = ""


class WriterInfo(_Model):
    """The process writing the run: how a reader tells 'still running' from 'killed'."""

    pid: int
    pid_started_ts: float | None = None  # the process's start time, so a reused pid is not mistaken
    hostname: str = ""


class ScenarioEntry(_Model):
    """One scenario's config and outcome; its steps and time series are in the CSVs."""

    name: str
    kind: ScenarioKind
    mode: LevelMode
    status: ScenarioStatus
    config: dict[str, Any] = Field(default_factory=dict)  # how it was run: the redacted scenario config
    started_ts: float
    ended_ts: float
    verdicts: list[Verdict] = Field(default_factory=list)
    judged: StepWindow | None = None
    breaking_point: BreakingPoint | None = None
    recovery: Recovery | None = None
    abort_reason: str | None = None
    cpu_warnings: list[str] = Field(default_factory=list)
    workers: int = 0
    step_count: int = 0
    limits: SloLimits | None = None  # the typed SLO limits the scenario was judged against
    abort_for_s: float | None = None  # how long its abort condition had to hold (None: none)
    locustfile_sha256: str | None = None

    @property
    def passed(self) -> bool:
        """Every SLO verdict held (a scenario without verdicts passes when it was not aborted)."""
        ended = self.status in {ScenarioStatus.ABORTED, ScenarioStatus.ERROR}
        return all(v.passed for v in self.verdicts) and not ended


class FormationRun(_Model):
    """One formation of a multi-formation run: what it measured; its own run directory holds the rest.

    `dir` is relative to the parent run directory (e.g. 'formations/2-standard-1x'); that directory is a
    complete run directory as a one-formation run writes it, with its own report."""

    index: int = Field(ge=0)
    dir: str
    size: str  # the process type under test: its size and dyno count
    dynos: int = Field(ge=0)
    dyno_cost_per_hour_usd: float | None = None
    groups: list[DynoGroup] = Field(default_factory=list)  # the whole formation tested
    status: RunStatus = RunStatus.RUNNING
    duration_s: float | None = None  # time at this formation: its scale request to the next change
    cost_usd: float | None = None
    breaking_point: BreakingPoint | None = None
    breaking_scenario: str | None = None  # the stress scenario the breaking point comes from
    verdict: RunVerdict | None = None
    failure: str | None = None

    def describe(self) -> str:
        """'2 × Standard-1X'."""
        return f"{self.dynos} × {self.size}"


class RunMeta(_Model):
    """What the pipeline knows when a run starts (or learns later, through `update`)."""

    platform: PlatformInfo = Field(default_factory=PlatformInfo)
    release: ReleaseInfo = Field(default_factory=ReleaseInfo)
    slug_size_bytes: int | None = None
    process_type: str = "web"
    formation_original: list[DynoGroup] = Field(default_factory=list)
    formation_tested: list[DynoGroup] = Field(default_factory=list)
    scale_up: ScaleUp | None = None
    expected_peak: LevelInfo | None = None
    required_headroom: float = 1.0
    load_generator: LoadGeneratorInfo = Field(default_factory=LoadGeneratorInfo)
    versions: Versions = Field(default_factory=Versions)
    test_duration_s: float | None = None  # time the tested formation was up (scale request to restore)
    test_cost_usd: float | None = None
    series_id: str | None = None  # runs made by one `--repeat` or `harness ab` share it
    repeat: int | None = None  # 1-based index of this run in its series
    repeats: int | None = None  # planned runs in the series
    label: str | None = None  # what `compare` calls this run's side ('v51' of an A/B test)
    formations: list[FormationRun] = Field(default_factory=list)  # a multi-formation run, in test order
    prices_source: str | None = None  # 'live' (GET /dyno-sizes), 'builtin' or 'mixed'
    prices_as_of: str | None = None  # the built-in price table's date, when it was used
    max_dynos_per_type: int | None = None  # the guard's ceiling: recommendations stay at or below it


class RunRecord(RunMeta):
    """run.json: the meta, the run's state, and its scenarios' outcomes."""

    schema_version: int = SCHEMA_VERSION
    run_id: str
    app: str
    status: RunStatus = RunStatus.RUNNING
    started_at: datetime
    ended_at: datetime | None = None
    writer: WriterInfo | None = None
    scenarios: list[ScenarioEntry] = Field(default_factory=list)
    breaking_point: BreakingPoint | None = None
    verdict: RunVerdict | None = None
    failure: str | None = None  # why a failed or incomplete run stopped

    @property
    def tested_cost_per_hour_usd(self) -> float | None:
        """Price per hour of the tested formation (None when a price is unknown)."""
        costs = [g.cost_per_hour_usd for g in self.formation_tested]
        if not costs or any(c is None for c in costs):
            return None
        return sum(c for c in costs if c is not None)

    @property
    def estimated_cost_usd(self) -> float | None:
        """The stored test cost, else the tested formation's price × the test duration."""
        if self.test_cost_usd is not None:
            return self.test_cost_usd
        per_hour, duration = self.tested_cost_per_hour_usd, self.duration_s
        if per_hour is None or duration is None:
            return None
        return per_hour * duration / 3600

    @property
    def duration_s(self) -> float | None:
        """The stored test duration, else start to end of the run."""
        if self.test_duration_s is not None:
            return self.test_duration_s
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def target_group(self) -> DynoGroup | None:
        """The tested formation's entry for the process type under load."""
        return next((g for g in self.formation_tested if g.type == self.process_type), None)

    def expected_load_scenario(self) -> ScenarioEntry | None:
        """The first load scenario: the one run at the expected peak."""
        return next((s for s in self.scenarios if s.kind == ScenarioKind.LOAD), None)

    def p95_at_expected_ms(self) -> float | None:
        """Total p95 of the expected-load scenario's judged window, on the latency its SLOs judged
        (from the intended start by default), so the verdict sentence and the SLO table agree."""
        scenario = self.expected_load_scenario()
        if scenario is None or scenario.judged is None:
            return None
        basis = scenario.limits.latency_basis if scenario.limits is not None else LatencyBasis.INTENDED
        return scenario.judged.total.latency_for(basis).p95_ms


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with every secret-looking key's value replaced by '[redacted]'."""
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if _SECRET_KEY.search(str(k)) and v not in (None, {}, []) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def upgrade(
    data: dict[str, Any],
    upgrades: Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]] = UPGRADES,
    target: int = SCHEMA_VERSION,
) -> dict[str, Any]:
    """Lift run.json data of an older schema version to `target`, one version at a time."""
    version = data.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise ResultsError(
            f"run.json has no valid schema_version (got {version!r}); it was not written by harness."
        )
    if version > target:
        raise ResultsError(
            f"run.json has schema_version {version}, newer than this harness understands "
            f"({target}). Upgrade harness to read it."
        )
    while version < target:
        if version not in upgrades:
            raise RuntimeError(f"no upgrade registered from run.json schema_version {version}")
        data = upgrades[version](dict(data))
        version += 1
        data["schema_version"] = version
    return data
