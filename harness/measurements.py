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
    "EndpointLimits",
    "EndpointWindow",
    "ErrorCount",
    "LatencyBasis",
    "LevelInfo",
    "LevelMode",
    "Percentiles",
    "Recovery",
    "RunStatus",
    "RunVerdict",
    "ScenarioKind",
    "ScenarioResult",
    "ScenarioStatus",
    "SearchStatus",
    "SloLimits",
    "StepKind",
    "StepPlan",
    "StepRecord",
    "StepWindow",
    "TimeseriesPoint",
    "Verdict",
    "format_number",
]

# The name of the all-endpoints aggregate row, as Locust calls it.
TOTAL = "Aggregated"


class LevelMode(enum.StrEnum):
    """How a load level is expressed."""

    USERS = "users"  # closed model: concurrent Locust users, each with its own think time
    ARRIVAL_RATE = "arrival_rate"  # open model: requests started per second, paced by harness

    @property
    def unit(self) -> str:
        """'users' or 'req/s': the unit a level of this mode is counted in."""
        return "users" if self is LevelMode.USERS else "req/s"

    def describe(self, level: float) -> str:
        """'40 users' or '120 req/s' (`:g` formatting: no trailing zeros)."""
        return f"{level:g} {self.unit}"


class LatencyBasis(enum.StrEnum):
    """Which latency an SLO judges (arrival-rate mode; users mode has service latency only)."""

    INTENDED = "intended"  # from each request's intended start slot: queueing and a late generator count
    SERVICE = "service"  # from the moment the request was actually sent (Locust's response time)


class ScenarioKind(enum.StrEnum):
    """The four kinds of scenario in scenarios.yaml."""

    LOAD = "load"  # the expected load held: do the SLOs hold?
    STRESS = "stress"  # the breaking-point search
    SPIKE = "spike"  # a sudden jump and the recovery after it
    SOAK = "soak"  # a long hold: do latencies drift?


class ScenarioStatus(enum.StrEnum):
    """How one scenario ended."""

    PASSED = "passed"  # every SLO held (stress: the search ended normally)
    FAILED = "failed"  # an SLO failed
    ABORTED = "aborted"  # an abort condition (or the search) ended it early
    INTERRUPTED = "interrupted"  # Ctrl-C / SIGTERM: what was measured so far
    ERROR = "error"  # a harness error ended it

    @property
    def ended_early(self) -> bool:
        """Aborted, interrupted or errored: its figures are partial."""
        return self in {ScenarioStatus.ABORTED, ScenarioStatus.INTERRUPTED, ScenarioStatus.ERROR}


class SearchStatus(enum.StrEnum):
    """How a breaking-point search ended."""

    FOUND = "found"  # a bracket narrower than the tolerance, its low end confirmed
    BROKEN_AT_START = "broken_at_start"  # the start level already broke (twice)
    NOT_REACHED = "not_reached"  # still good at max_level (or the highest level the generator can make)
    # an abort at the first step or at/below the last good level, no recovery, an interrupt, or no budget left
    ABORTED = "aborted"


class RunStatus(enum.StrEnum):
    """Where a run stands; readers turn a 'running' run whose writer died into INCOMPLETE."""

    RUNNING = "running"  # a live harness process is still writing it
    COMPLETE = "complete"  # every planned scenario ran (its SLOs may still have failed)
    INCOMPLETE = "incomplete"  # interrupted (Ctrl-C, SIGTERM, killed, crashed): results are partial
    FAILED = "failed"  # a harness error ended the run; what was measured before is kept


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
    DRAIN = "drain"  # stress: no load and closed connections, so the next step meets a rested app


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

    def latency_for(self, basis: LatencyBasis = LatencyBasis.INTENDED) -> Percentiles:
        """The latency an SLO judges: from the intended start (when measured) or the service latency."""
        if basis is LatencyBasis.INTENDED and self.intended_latency is not None:
            return self.intended_latency
        return self.latency


class _LatencyErrorLimits(_Frozen):
    """Latency percentile and error-ratio limits; None switches a criterion off."""

    p50_ms: float | None = Field(default=None, gt=0)
    p90_ms: float | None = Field(default=None, gt=0)
    p95_ms: float | None = Field(default=None, gt=0)
    p99_ms: float | None = Field(default=None, gt=0)
    max_ms: float | None = Field(default=None, gt=0)
    error_ratio: float | None = Field(default=None, ge=0, le=1)


class EndpointLimits(_LatencyErrorLimits):
    """Limits for one endpoint, by Locust request name ('/search'); `method` None matches any."""

    name: str
    method: str | None = None

    def matches(self, endpoint: EndpointWindow) -> bool:
        """Whether `endpoint` is the one these limits are for."""
        same_method = self.method is None or self.method.upper() == endpoint.method.upper()
        return endpoint.name == self.name and same_method


class SloLimits(_LatencyErrorLimits):
    """What a step must meet; None switches a criterion off.

    `saturation_tolerance`: a step is saturated when its successful throughput
    is below the expected throughput × (1 − tolerance), and short by at least
    a couple of requests over the window (at a few requests per window, one
    request more or less is counting, not saturation).
    """

    min_rps: float | None = Field(default=None, gt=0)
    saturation_tolerance: float | None = Field(default=0.10, gt=0, lt=1)
    endpoints: tuple[EndpointLimits, ...] = ()
    latency_basis: LatencyBasis = LatencyBasis.INTENDED  # latency limits judge this latency


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

    @property
    def generator_note(self) -> str:
        """Why the generator may have set this window's figures ('' when it did not)."""
        notes = []
        if self.generator_saturated:
            notes.append(f"load generator saturated (CPU {self.generator_cpu_percent or 0:.0f} %)")
        if self.generator_lagging:
            notes.append(f"generator lagging (scheduling lag p99 {self.schedule_lag_p99_ms or 0:.0f} ms)")
        return "; ".join(notes)


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


class Metastability(_Frozen):
    """The search's finding that the app serves less after an overload than rested (hysteresis, issue 12).

    Levels in the search's unit (users or req/s), throughputs in successful
    req/s, latencies in ms (p95, the basis the SLOs judge).
    """

    overload_step: int  # the step that first overloaded the app
    overload_level: float
    degraded_broken_level: float | None = None  # broke after the overload, holds on a rested app
    degraded_rps: float | None = None  # the most it served within the SLOs after the overload
    rested_rps: float | None = None  # what it holds after a drain: the breaking point reported
    latency_level: float | None = None  # the cool-down level whose latency rose after the overload
    p95_before_ms: float | None = None
    p95_after_ms: float | None = None
    drain_s: float = 0.0  # no-load time the search gave it before re-measuring
    evidence: list[str] = Field(default_factory=list)

    def sentence(self, mode: LevelMode) -> str:
        """'after an overload the app serves 691 req/s instead of 958 req/s' (what a stakeholder reads)."""
        rested = f"{format_number(self.rested_rps)} req/s" if self.rested_rps is not None else "its capacity"
        broken, served = self.degraded_broken_level, self.degraded_rps
        if broken is not None:
            # The degraded bracket [served, broken] is narrow: say what it serves, else where it broke.
            narrow = (
                mode is LevelMode.ARRIVAL_RATE
                and served is not None
                and served > 0
                and broken <= served * 1.15
            )
            after = (
                f"{format_number(served)} req/s"
                if narrow and served
                else f"less than {mode.describe(broken)}"
            )
            return f"after an overload the app serves {after} instead of {rested}"
        if (
            self.p95_after_ms is not None
            and self.p95_before_ms is not None
            and self.latency_level is not None
        ):
            return (
                f"after an overload the app answers {mode.describe(self.latency_level)} at p95 "
                f"{format_number(self.p95_after_ms)} ms instead of {format_number(self.p95_before_ms)} ms"
            )
        return "after an overload the app served less than on a rested app"


class BreakingPoint(_Frozen):
    """Where the app breaks: the highest level that still met the SLOs and still scaled."""

    status: SearchStatus
    mode: LevelMode
    level: float | None = None  # last good level (users or req/s)
    sustainable_rps: float | None = None  # achieved throughput at that level
    bracket_low: float | None = None  # last good level
    bracket_high: float | None = None  # first broken level
    criterion: str | None = None  # what broke first at bracket_high
    criterion_detail: Verdict | None = None
    load_time_s: float = 0.0  # time spent under load by the search (ramps included)
    idle_time_s: float = 0.0  # time the search held no load (drains between steps)
    tolerance: float = 0.05
    metastability: Metastability | None = None  # it served less after an overload than rested


class Recovery(_Frozen):
    """After breaking (or a spike): back at `level`, how long until the SLOs held again."""

    level: float
    recovered: bool
    time_to_recover_s: float | None = None
    limit_s: float


class ScenarioResult(_Frozen):
    """Everything one scenario measured, in the same shape locally and distributed."""

    name: str
    kind: ScenarioKind
    mode: LevelMode
    status: ScenarioStatus
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
    limits: SloLimits | None = None  # the SLO limits it was judged against
    abort_for_s: float | None = None  # how long the abort condition had to hold (None: no abort condition)
    locustfile_sha256: str | None = None  # what the load was made of, so comparisons can tell a change


class LevelInfo(_Frozen):
    """A load level: `value` users, or `value` req/s in arrival-rate mode."""

    mode: LevelMode
    value: float

    @property
    def unit(self) -> str:
        """'users' or 'req/s'."""
        return self.mode.unit

    def describe(self) -> str:
        """'400 req/s' or '40 users'."""
        return f"{format_number(self.value)} {self.unit}"


class RunVerdict(_Frozen):
    """The overall answer: did every SLO hold, and is the breaking point far enough above the peak?"""

    passed: bool
    slos_passed: bool
    headroom: float | None = None  # breaking point / expected peak
    headroom_ok: bool | None = None  # None: no breaking point was found to compare
    failed_checks: list[str] = Field(default_factory=list)


def format_number(value: float) -> str:
    """1150.0 → '1,150'; 12.25 → '12.2' (whole numbers without decimals, others with one)."""
    if abs(value - round(value)) < 1e-9 or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}" if abs(value) >= 1 else f"{value:.3g}"
