"""The measured facts that flow between load, capacity, results and report.

A run is a sequence of *steps*: a load level held for a while. `load/` turns a
`StepPlan` into a measured `StepWindow` (windowed, never cumulative: the
difference of Locust's counters and response-time histograms between the
step's start and end, after its ramp). `capacity/` judges windows (SLOs, the
breaking-point search), `results/` writes them to CSV/JSON, `report/` reads
them back. Plain frozen pydantic models so every layer can serialise them the
same way; this module imports nothing of harness.

Units are in the field names: `_s` seconds, `_ms` milliseconds, `_rps`
requests per second, `_ts` Unix epoch seconds.
"""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "TOTAL",
    "BreakingPoint",
    "EndpointWindow",
    "ErrorCount",
    "LevelMode",
    "Percentiles",
    "Recovery",
    "ScenarioResult",
    "StepKind",
    "StepPlan",
    "StepRecord",
    "StepWindow",
    "TimeseriesPoint",
    "Verdict",
]

# The name of the all-endpoints aggregate row, as Locust calls it.
TOTAL = "Aggregated"


class LevelMode(enum.StrEnum):
    """How a load level is expressed."""

    USERS = "users"  # closed model: concurrent Locust users, each with its own think time
    ARRIVAL_RATE = "arrival_rate"  # open model: requests started per second, paced by harness


class StepKind(enum.StrEnum):
    """What a step is for; verdicts ignore ramp and warm-up windows."""

    RAMP = "ramp"  # moving to a level; never judged
    WARMUP = "warmup"  # at the level, letting caches and pools fill; never judged
    HOLD = "hold"  # a load scenario's measured hold
    PROBE = "probe"  # stress: growing geometrically towards the first broken level
    BISECT = "bisect"  # stress: narrowing the bracket [last good, first broken]
    CONFIRM = "confirm"  # stress: a longer hold at the found level
    SPIKE = "spike"  # spike scenario: the sudden jump
    RECOVERY = "recovery"  # back at the expected load after breaking or a spike


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepPlan(_Frozen):
    """One step to run: reach `level` within `ramp_s`, then measure for `hold_s`."""

    index: int
    kind: StepKind
    level: float = Field(ge=0)  # users, or requests/s in arrival-rate mode
    mode: LevelMode = LevelMode.USERS
    ramp_s: float = Field(default=0.0, ge=0)
    hold_s: float = Field(gt=0)
    label: str = ""  # e.g. "probe 3", "bisect 2", "spike"


class Percentiles(_Frozen):
    """Latency percentiles in ms (Locust's 2-significant-digit buckets); None when no requests."""

    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    avg_ms: float | None = None

    def get(self, name: str) -> float | None:
        """Look a percentile up by its SLO name: 'p50', 'p95', 'p99', 'max', 'avg'."""
        value: float | None = getattr(self, f"{name}_ms")
        return value


class ErrorCount(_Frozen):
    """Failures of one kind in a window: `kind` is e.g. 'HTTP 503', 'ConnectionRefusedError'."""

    method: str
    name: str
    kind: str
    status: int | None = None
    count: int
    example: str = ""


class EndpointWindow(_Frozen):
    """One endpoint (or the TOTAL aggregate) measured over one window."""

    method: str
    name: str
    requests: int
    failures: int
    rps: float
    failures_per_s: float
    error_ratio: float
    latency: Percentiles  # service latency: from the request's actual send (Locust's response time)
    # Arrival-rate mode: latency from each request's intended start slot (wrk2), so time spent
    # waiting for a free user, a connection or a late generator counts; None in users mode.
    intended_latency: Percentiles | None = None

    def latency_for(self, basis: str = "intended") -> Percentiles:
        """The latency an SLO judges: from the intended start ('intended', when measured) or 'service'."""
        if basis == "intended" and self.intended_latency is not None:
            return self.intended_latency
        return self.latency


class StepWindow(_Frozen):
    """The measurement of one step, over [start_ts, end_ts] (ramp excluded)."""

    plan: StepPlan
    start_ts: float
    end_ts: float
    users: int  # users running at the end of the window
    offered_rps: float | None  # what the step asked for (arrival-rate mode), else None
    total: EndpointWindow
    endpoints: list[EndpointWindow] = Field(default_factory=list)
    errors: list[ErrorCount] = Field(default_factory=list)
    generator_cpu_percent: float | None = None  # load generator CPU (max over workers)
    generator_saturated: bool = False  # CPU above 90 %: the window's figures are not trustworthy
    aborted: bool = False  # an abort condition tripped during this window
    # Arrival-rate mode (None in users mode): requests in flight (mean and peak), the open TCP
    # connections to the target (peak of 1 s samples), the pacer's scheduling lag (p99, ms:
    # how late requests started against the later of their slot and a free user), and the
    # slots offered in the window but not sent in it.
    concurrency_mean: float | None = None
    concurrency_max: int | None = None
    connections_max: int | None = None
    schedule_lag_p99_ms: float | None = None
    dropped_slots: int = 0
    # Scheduling lag p99 above max(5 ms, 5 % of the p95 limit): like CPU saturation, the
    # generator, not the app, may have set the figures.
    generator_lagging: bool = False

    @property
    def duration_s(self) -> float:
        """Length of the measured window."""
        return max(0.0, self.end_ts - self.start_ts)

    @property
    def achieved_rps(self) -> float:
        """Completed requests per second over the window (all endpoints)."""
        return self.total.rps

    @property
    def generator_limited(self) -> bool:
        """The generator (CPU or scheduling lag), not the app, may have limited this window."""
        return self.generator_saturated or self.generator_lagging


class TimeseriesPoint(_Frozen):
    """One second of the whole run, for the time-series charts (per endpoint and TOTAL)."""

    ts: float
    scenario: str
    step: int | None
    kind: StepKind | None
    method: str
    name: str
    users: int
    offered_rps: float | None
    rps: float
    failures_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class Verdict(_Frozen):
    """One SLO criterion judged: measured value against its threshold.

    `criterion` is the SLO field ('p95_ms', 'error_ratio', 'min_rps', or 'saturation' for
    throughput that stopped following the offered load); `endpoint` is None for the total.
    """

    criterion: str
    endpoint: str | None = None
    threshold: float
    measured: float | None
    passed: bool
    unit: str = ""  # 'ms', 'ratio', 'req/s'

    def describe(self) -> str:
        """'p95 latency 412 ms > 300 ms' style text for reports and terminals."""
        where = f" {self.endpoint}" if self.endpoint else ""
        shown = "n/a" if self.measured is None else f"{self.measured:g}"
        relation = "≤" if self.passed else ">"
        if self.criterion in ("min_rps", "saturation"):  # lower bounds
            relation = "≥" if self.passed else "<"
        return (
            f"{self.criterion}{where} {shown} {self.unit} {relation} {self.threshold:g} {self.unit}".strip()
        )

    @property
    def miss_ratio(self) -> float | None:
        """How far a failed criterion missed, relative to its threshold (0.5: 50 % past it); else None."""
        if self.passed or self.measured is None or self.threshold == 0:
            return None
        return abs(self.measured - self.threshold) / self.threshold


class StepRecord(_Frozen):
    """A measured step with its verdicts (what the search saw and decided)."""

    window: StepWindow
    verdicts: list[Verdict] = Field(default_factory=list)
    ok: bool = True
    broken_by: str | None = None  # the criterion that broke first, if any
    note: str = ""  # e.g. 're-test of a surprising window', 'generator saturated: ignored'


class BreakingPoint(_Frozen):
    """Where the app breaks: the highest level that still met the SLOs and still scaled."""

    status: str  # 'found' | 'broken_at_start' | 'not_reached' | 'aborted'
    mode: LevelMode
    level: float | None = None  # last good level (users or req/s)
    sustainable_rps: float | None = None  # achieved throughput at that level
    bracket_low: float | None = None  # last good level
    bracket_high: float | None = None  # first broken level
    criterion: str | None = None  # what broke first at bracket_high
    criterion_detail: Verdict | None = None
    load_time_s: float = 0.0  # time spent under load by the search (ramps included)
    tolerance: float = 0.05


class Recovery(_Frozen):
    """After breaking (or a spike): back at `level`, how long until the SLOs held again."""

    level: float
    recovered: bool
    time_to_recover_s: float | None = None
    limit_s: float


class ScenarioResult(_Frozen):
    """Everything one scenario measured, in the same shape locally and distributed."""

    name: str
    kind: str  # 'load' | 'stress' | 'spike' | 'soak'
    mode: LevelMode
    status: str  # 'passed' | 'failed' | 'aborted' | 'interrupted' | 'error'
    started_ts: float
    ended_ts: float
    steps: list[StepRecord] = Field(default_factory=list)
    judged: StepWindow | None = None  # the aggregate window the scenario's SLOs were judged on
    verdicts: list[Verdict] = Field(default_factory=list)
    breaking_point: BreakingPoint | None = None
    recovery: Recovery | None = None
    abort_reason: str | None = None
    timeseries: list[TimeseriesPoint] = Field(default_factory=list)
    errors: list[ErrorCount] = Field(default_factory=list)
    cpu_warnings: list[str] = Field(default_factory=list)
    workers: int = 0  # 0: Locust in-process; N: master + N workers
