"""scenarios.yaml → typed, frozen, validated models.

Validated once, at the edge: every later layer receives these objects and
never re-reads YAML. A mistake is reported as a `ConfigError` naming the file,
the line and the field (``scenarios.yaml:14: scenarios[1].hold_s: ...``) and
what is accepted. Units are in field names (`hold_s`, `p95_ms`, `rps`).

The format is documented, with a complete example, in the README
("scenarios.yaml") and in the shipped `scenarios.yaml`.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import ConfigError, sentence
from harness.measurements import LatencyBasis, LevelMode

__all__ = [
    "AbortCondition",
    "Config",
    "EmulatorTarget",
    "EndpointSlo",
    "ForkSpec",
    "FormationSpec",
    "Guards",
    "Level",
    "LoadGenerator",
    "LoadScenario",
    "LocustfileSpec",
    "Platform",
    "RecoverySpec",
    "Scenario",
    "Slo",
    "SoakScenario",
    "SpikeScenario",
    "StressScenario",
    "Target",
    "load_config",
    "parse_config",
    "validation_message",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Platform(enum.StrEnum):
    """Where the app under test lives."""

    AUTO = "auto"  # the emulator when no Heroku token is configured, else Heroku
    HEROKU = "heroku"  # api.heroku.com (or HEROKU_API_URL)
    EMULATOR = "emulator"  # the bundled local emulator, started and stopped by harness


class Level(_Model):
    """A load level: concurrent users (closed model) *or* an arrival rate in req/s (open model)."""

    users: int | None = Field(default=None, gt=0)
    rps: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> Level:
        if (self.users is None) == (self.rps is None):
            raise ValueError(
                "give exactly one of 'users' (concurrent users) or 'rps' (arrival rate in req/s)"
            )
        return self

    @property
    def mode(self) -> LevelMode:
        """Users or arrival-rate mode."""
        return LevelMode.USERS if self.users is not None else LevelMode.ARRIVAL_RATE

    @property
    def value(self) -> float:
        """The level as a number in its own unit (users or req/s)."""
        return float(self.users if self.users is not None else self.rps or 0.0)

    def describe(self) -> str:
        """'40 users' or '120 req/s'."""
        return f"{self.users} users" if self.users is not None else f"{self.rps:g} req/s"


class EndpointSlo(_Model):
    """Latency and error limits for one endpoint (Locust request name, e.g. '/search')."""

    p50_ms: float | None = Field(default=None, gt=0)
    p95_ms: float | None = Field(default=None, gt=0)
    p99_ms: float | None = Field(default=None, gt=0)
    error_ratio: float | None = Field(default=None, ge=0, le=1)


class Slo(_Model):
    """Service level objectives, judged over measured (non-warm-up) windows."""

    p50_ms: float | None = Field(default=None, gt=0)
    p95_ms: float | None = Field(default=None, gt=0)
    p99_ms: float | None = Field(default=None, gt=0)
    error_ratio: float | None = Field(default=None, ge=0, le=1)
    min_rps: float | None = Field(default=None, gt=0)
    endpoints: dict[str, EndpointSlo] = Field(default_factory=dict)
    # Arrival-rate mode: judge latency from each request's intended start (queueing counts) or
    # from its actual send ("service"); users mode always measures the latter.
    latency_basis: LatencyBasis = LatencyBasis.INTENDED


class AbortCondition(_Model):
    """Stop a scenario early when the error ratio stays above `error_ratio` for `for_s` seconds."""

    error_ratio: float = Field(gt=0, le=1)
    for_s: float = Field(default=5.0, gt=0)


class RecoverySpec(_Model):
    """After breaking (or a spike): drop to `level` (default: the expected peak) and time the recovery."""

    level: Level | None = None
    window_s: float = Field(default=2.0, gt=0)
    limit_s: float = Field(default=30.0, gt=0)


class _ScenarioBase(_Model):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    locustfile: str | None = None  # a key of `locustfiles`; default: the first one
    slo: Slo = Field(default_factory=Slo)
    abort: AbortCondition | None = None
    spawn_rate: float = Field(default=50.0, gt=0)  # users started per second in users mode


class LoadScenario(_ScenarioBase):
    """Hold the expected load: ramp up, warm up (not judged), hold and judge the SLOs."""

    kind: Literal["load"]
    level: Level
    ramp_s: float = Field(default=5.0, ge=0)
    warmup_s: float = Field(default=5.0, ge=0)
    hold_s: float = Field(default=30.0, gt=0)
    window_s: float = Field(default=5.0, gt=0)  # per-step windows inside the hold, for the charts


class StressScenario(_ScenarioBase):
    """Push until it breaks: the adaptive breaking-point search (see harness/capacity/search.py)."""

    kind: Literal["stress"]
    start: Level
    max: Level
    growth: float = Field(default=3.0, gt=1.0)
    tolerance: float = Field(default=0.05, gt=0, lt=1)
    ramp_s: float = Field(default=1.0, ge=0)
    step_hold_s: float = Field(default=4.0, gt=0)
    confirm_hold_s: float = Field(default=8.0, gt=0)
    saturation_tolerance: float = Field(default=0.10, gt=0, lt=1)
    # After the first break no step offers more than this × the best successful throughput seen.
    max_overshoot: float = Field(default=1.3, gt=1.0, le=3.0)
    drain_s: float = Field(default=5.0, gt=0, le=300)  # no load (connections closed) after a later break
    recovery: RecoverySpec | None = Field(default_factory=RecoverySpec)

    @model_validator(mode="after")
    def _same_unit(self) -> StressScenario:
        if self.start.mode != self.max.mode:
            raise ValueError("'start' and 'max' must use the same unit (both users or both rps)")
        if self.max.value <= self.start.value:
            raise ValueError("'max' must be above 'start'")
        return self


class SpikeScenario(_ScenarioBase):
    """A sudden jump and back: does the app recover, and how fast?"""

    kind: Literal["spike"]
    base: Level
    spike: Level
    base_s: float = Field(default=10.0, gt=0)
    spike_s: float = Field(default=10.0, gt=0)
    recovery: RecoverySpec = Field(default_factory=RecoverySpec)

    @model_validator(mode="after")
    def _same_unit(self) -> SpikeScenario:
        if self.base.mode != self.spike.mode:
            raise ValueError("'base' and 'spike' must use the same unit (both users or both rps)")
        return self


class SoakScenario(_ScenarioBase):
    """A long hold: does latency or memory drift between the first and last windows?"""

    kind: Literal["soak"]
    level: Level
    ramp_s: float = Field(default=5.0, ge=0)
    warmup_s: float = Field(default=10.0, ge=0)
    hold_s: float = Field(default=600.0, gt=0)
    window_s: float = Field(default=60.0, gt=0)
    max_p95_drift_ratio: float = Field(default=0.25, gt=0)  # last window's p95 / first window's p95 − 1


Scenario = Annotated[
    LoadScenario | StressScenario | SpikeScenario | SoakScenario, Field(discriminator="kind")
]


class LocustfileSpec(_Model):
    """A plain Locust file and which of its User classes to run, with weights (default: all, as declared)."""

    path: Path
    user_classes: dict[str, int] = Field(default_factory=dict)

    @field_validator("user_classes")
    @classmethod
    def _positive_weights(cls, value: dict[str, int]) -> dict[str, int]:
        bad = [name for name, weight in value.items() if weight <= 0]
        if bad:
            raise ValueError(f"weights must be positive integers (got {', '.join(bad)})")
        return value


class FormationSpec(_Model):
    """A formation to test for the target process type: quantity × size."""

    quantity: int = Field(ge=1)
    size: str = "Standard-1X"

    def describe(self) -> str:
        """'4 × Standard-2X'."""
        return f"{self.quantity} × {self.size}"


class EmulatorTarget(_Model):
    """The local emulator: which app directory to run (default: the bundled demo app)."""

    app_dir: Path | None = None
    config_vars: dict[str, str] = Field(default_factory=dict)
    boot_timeout_s: float = Field(default=60.0, gt=0)


class ForkSpec(_Model):
    """`harness fork` settings: config vars not copied or set instead, add-on plans, data copy."""

    exclude_config: list[str] = Field(default_factory=list)  # production-only secrets, not copied
    config_overrides: dict[str, str] = Field(default_factory=dict)  # set on the fork instead
    addon_plans: dict[str, str] = Field(default_factory=dict)  # service -> plan, e.g. a cheaper database
    copy_data: bool = False  # copy the Postgres data (pg_dump | psql)


class Target(_Model):
    """The app under test. On Heroku: a forked staging copy, never production."""

    app: str = Field(pattern=r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")
    platform: Platform = Platform.AUTO
    process_type: str = "web"
    formations: list[FormationSpec] = Field(min_length=1)
    protected_apps: list[str] = Field(default_factory=list)
    approval_ref: str | None = None  # Heroku load-test approval reference (needed above 10,000 req/s)
    emulator: EmulatorTarget = Field(default_factory=EmulatorTarget)
    scale_timeout_s: float = Field(default=300.0, gt=0)
    # The production app staging was forked from: never touched, compared in every preflight.
    production_app: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")
    parity: Literal["warn", "refuse", "off"] = "warn"
    side_effects_ok: list[str] = Field(default_factory=list)  # neutralised (sandbox) vars or add-ons
    fork: ForkSpec = Field(default_factory=ForkSpec)

    @model_validator(mode="after")
    def _not_protected(self) -> Target:
        if self.app in self.protected_apps:
            raise ValueError(f"'{self.app}' is listed in protected_apps: harness never load-tests it")
        if self.app == self.production_app:
            raise ValueError(f"'{self.app}' is the production_app: point target.app at a staging copy")
        return self


class Guards(_Model):
    """Ceilings that need an explicit `--yes` to exceed."""

    max_dynos_per_type: int = Field(default=10, ge=1)
    max_cost_per_hour_usd: float = Field(default=5.0, gt=0)


class LoadGenerator(_Model):
    """Where Locust runs: in-process (workers 0), or a master with local and/or remote workers."""

    workers: int = Field(default=0, ge=0)
    expect_workers: int = Field(default=0, ge=0)  # remote workers that must join before the start
    master_bind_host: str = "127.0.0.1"
    master_bind_port: int = Field(default=5557, ge=0, le=65535)
    request_timeout_s: float = Field(default=35.0, gt=0)  # a little above the router's 30 s H12
    worker_join_timeout_s: float = Field(default=60.0, gt=0)  # how long to wait for workers to join
    pacing: Literal["uniform", "poisson"] = "uniform"  # arrival-rate mode: spacing of start slots
    max_users: int = Field(
        default=2000, ge=1
    )  # arrival-rate mode: cap on users, requests in flight, connections
    # Arrival-rate mode: a step at R req/s holds up to R × this many requests in flight (more wait
    # for a slot, and the wait counts as latency). Default: twice the scenario's loosest latency
    # limit (beyond it every verdict is "broken" anyway), else 1 s.
    latency_budget_s: float | None = Field(default=None, gt=0)


class Config(_Model):
    """A whole scenarios.yaml."""

    version: Literal[1] = 1
    target: Target
    guards: Guards = Field(default_factory=Guards)
    load_generator: LoadGenerator = Field(default_factory=LoadGenerator)
    locustfiles: dict[str, LocustfileSpec] = Field(min_length=1)
    expected_peak: Level
    required_headroom: float = Field(default=1.0, ge=1.0)  # breaking point ≥ expected peak × this
    repeat: int = Field(default=1, ge=1, le=50)  # independent repeats of the scenarios per formation
    # Later repeats of a stress search re-measure only the bracket around repeat 1's answer
    # (capacity/repeat_search.py); `full` searches from the start level every time.
    repeat_search: Literal["bracket", "full"] = "bracket"
    scenarios: list[Scenario] = Field(min_length=1)
    reports_dir: Path = Path("reports")
    source: Path | None = Field(default=None, exclude=True)  # the file this came from

    @model_validator(mode="after")
    def _references(self) -> Config:
        names = [s.name for s in self.scenarios]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"scenario names must be unique (repeated: {', '.join(duplicates)})")
        for scenario in self.scenarios:
            if scenario.locustfile is not None and scenario.locustfile not in self.locustfiles:
                known = ", ".join(self.locustfiles)
                raise ValueError(
                    f"scenario '{scenario.name}' names locustfile '{scenario.locustfile}', "
                    f"which is not a key of 'locustfiles' (known: {known})"
                )
        return self

    def scenario(self, name: str) -> Scenario:
        """The scenario called `name`, or a ConfigError listing the known names."""
        for scenario in self.scenarios:
            if scenario.name == name:
                return scenario
        known = ", ".join(s.name for s in self.scenarios)
        raise ConfigError(f"no scenario named '{name}' (known: {known})", file=self.source)

    def locustfile_for(self, scenario: Scenario) -> LocustfileSpec:
        """The locustfile a scenario runs (its own, or the first declared)."""
        key = scenario.locustfile or next(iter(self.locustfiles))
        return self.locustfiles[key]


def load_config(path: str | Path) -> Config:
    """Read and validate a scenarios.yaml; relative paths inside it resolve against its directory."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "file not found. Pass --scenarios PATH, or run from a directory holding scenarios.yaml "
            "(the repository ships one).",
            file=path,
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file ({exc.strerror}).", file=path) from None
    return parse_config(text, source=path)


def parse_config(text: str, *, source: str | Path = "scenarios.yaml") -> Config:
    """Validate YAML text; errors name `source`, the line and the field."""
    source = Path(source)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(_yaml_problem(exc, text, line), file=source, line=line) from None
    if not isinstance(data, dict):
        raise ConfigError(
            "the file must be a YAML mapping with 'target', 'locustfiles' and 'scenarios'.", file=source
        )
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, node, source) from None
    return _resolve_paths(config, source)


def _yaml_problem(exc: yaml.YAMLError, text: str, line: int | None) -> str:
    """PyYAML's complaint in plain words; a tab gets its own, since YAML never indents with one."""
    problem = str(getattr(exc, "problem", None) or exc)
    lines = text.splitlines()
    on_line = lines[line - 1] if line is not None and 0 < line <= len(lines) else ""
    if "\\t" in problem or "\t" in problem or "\t" in on_line:
        return (
            "this line has a tab character; YAML indents with spaces only. Replace the tab with "
            "spaces (two per level, as in the shipped scenarios.yaml)."
        )
    return f"not valid YAML: {sentence(problem)}"


def validation_message(exc: ValidationError) -> str:
    """The first validation error as one sentence (for values that come from somewhere else than a
    file, such as command-line overrides)."""
    return _explain(exc.errors(include_url=False)[0])


def _resolve_paths(config: Config, source: Path) -> Config:
    base = source.parent
    locustfiles = {
        key: spec.model_copy(update={"path": spec.path if spec.path.is_absolute() else base / spec.path})
        for key, spec in config.locustfiles.items()
    }
    reports = config.reports_dir if config.reports_dir.is_absolute() else base / config.reports_dir
    emulator = config.target.emulator
    if emulator.app_dir is not None and not emulator.app_dir.is_absolute():
        emulator = emulator.model_copy(update={"app_dir": base / emulator.app_dir})
    target = config.target.model_copy(update={"emulator": emulator})
    return config.model_copy(
        update={"locustfiles": locustfiles, "reports_dir": reports, "target": target, "source": source}
    )


def _config_error(exc: ValidationError, node: yaml.Node | None, source: Path) -> ConfigError:
    """The first validation error, located in the YAML file."""
    error = exc.errors(include_url=False)[0]
    loc = _yaml_loc(error["loc"])
    if error["type"] in {"union_tag_invalid", "union_tag_not_found"}:
        loc.append("kind")
    field = _field_path(loc)
    line = _line_of(node, loc)
    message = _explain(error)
    return ConfigError(message, file=source, line=line, field=field or None)


def _yaml_loc(loc: tuple[int | str, ...]) -> list[int | str]:
    """Drop pydantic's discriminator tags (e.g. 'load') and function-validator names from a loc."""
    kinds = {"load", "stress", "spike", "soak"}
    out: list[int | str] = []
    for i, part in enumerate(loc):
        if isinstance(part, str) and i > 0 and isinstance(loc[i - 1], int) and part in kinds:
            continue
        if isinstance(part, str) and part.startswith(("function-", "function_")):
            continue
        out.append(part)
    return out


def _field_path(loc: list[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _line_of(node: yaml.Node | None, loc: list[int | str]) -> int | None:
    """1-based line of the deepest YAML node along `loc` (the key itself when the value is missing)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            key, node = match
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _explain(error: Any) -> str:
    """One sentence on what is wrong and what is accepted."""
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key. Check the spelling; the README's 'scenarios.yaml' section lists every key."
    if kind == "missing":
        return "required key is missing."
    if kind == "union_tag_invalid":
        return "unknown scenario kind; use one of load, stress, spike, soak."
    if kind == "union_tag_not_found":
        return "every scenario needs a 'kind': one of load, stress, spike, soak."
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    shown = "" if isinstance(value, dict | list) or value is None else f" (got {value!r})"
    return sentence(f"{message.rstrip('.')}{shown}")
