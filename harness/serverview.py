"""The server-side view of a run: what the router and the dynos did in each step, and what it means.

Built by `capacity/diagnosis` from the run's log records (serverlog) and its
measured steps, stored by `results/server` as `server_view.json`, rendered by
`report/`. Plain frozen pydantic models, like measurements.py, so every layer
reads the same shape; this module imports nothing of harness. Units are in the
field names (`_ms`, `_mb`, `_ts`).
"""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Bottleneck",
    "CodeCount",
    "Diagnosis",
    "DynoTotals",
    "Evidence",
    "LoadPoint",
    "MemoryPoint",
    "QueueBasis",
    "ServerEvent",
    "ServerView",
    "StepServer",
    "StepSpan",
    "StreamSummary",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepSpan(_Frozen):
    """One measured step as the client saw it: the window to correlate server lines with."""

    scenario: str
    step: int
    label: str = ""
    kind: str = ""
    level: float | None = None
    level_unit: str = ""  # 'users' or 'req/s'
    start_ts: float
    end_ts: float
    client_requests: int = 0
    client_p50_ms: float | None = None
    client_p95_ms: float | None = None
    client_error_ratio: float | None = None
    ok: bool | None = None  # the step met its SLOs (None: not judged)


class QueueBasis(enum.StrEnum):
    """How the time outside the dyno (router queueing + network) was measured."""

    MATCHED = "matched"  # per request: client time − (connect + service), joined on X-Request-Id
    PERCENTILES = "percentiles"  # client p50 − router (connect + service) p50: no request ids matched
    NONE = "none"  # no router lines or no client figures in the step


class StepServer(_Frozen):
    """The router's and the dynos' figures over one step's window."""

    scenario: str
    step: int
    label: str = ""
    level: float | None = None
    level_unit: str = ""
    start_ts: float
    end_ts: float
    client_requests: int = 0
    client_p50_ms: float | None = None
    client_p95_ms: float | None = None
    router_requests: int = 0
    service_p50_ms: float | None = None
    service_p95_ms: float | None = None
    connect_p50_ms: float | None = None
    queue_p50_ms: float | None = None  # outside the dyno: router queueing + network
    queue_p95_ms: float | None = None
    queue_basis: QueueBasis = QueueBasis.NONE
    matched: int = 0  # requests joined on X-Request-Id
    codes: dict[str, int] = Field(default_factory=dict)  # H code -> count
    app_5xx: int = 0  # 5xx the dynos answered themselves (no H code)
    per_dyno: dict[str, int] = Field(default_factory=dict)  # requests served per dyno
    imbalance: float | None = None  # busiest dyno's requests / the mean (1.0: even)
    load_max: dict[str, float] = Field(default_factory=dict)  # highest load_avg_1m per dyno
    memory_max_mb: dict[str, float] = Field(default_factory=dict)
    swap_max_mb: float | None = None
    r14: int = 0
    r15: int = 0
    crashes: int = 0
    ok: bool | None = None


class CodeCount(_Frozen):
    """Router errors of one H code on one endpoint over the whole run."""

    code: str
    endpoint: str  # the client's endpoint name (matched on request id) or the normalised path
    count: int
    service_p50_ms: float | None = None


class DynoTotals(_Frozen):
    """One dyno over the whole run."""

    dyno: str
    requests: int = 0
    share: float = 0.0  # of all requests a dyno served
    crashes: int = 0
    restarts: int = 0  # came back up after a crash
    memory_max_mb: float | None = None
    quota_mb: float | None = None
    load_max: float | None = None


class MemoryPoint(_Frozen):
    """One memory sample of one dyno."""

    ts: float
    dyno: str
    rss_mb: float
    swap_mb: float | None = None
    quota_mb: float | None = None


class LoadPoint(_Frozen):
    """One load-average sample of one dyno."""

    ts: float
    dyno: str
    load_avg_1m: float


class ServerEvent(_Frozen):
    """A dyno event worth a mark on the charts: crash, restart, R14/R15, exit, L10."""

    ts: float
    dyno: str
    kind: str
    detail: str = ""


class Bottleneck(enum.StrEnum):
    """Where the data says time went."""

    ROUTER_QUEUEING = "router_queueing"  # requests wait for a dyno (H11/H12, service ≪ client latency)
    DYNO_CPU = "dyno_cpu"  # load average above the dyno's share, service time rising
    DYNO_WAIT = "dyno_wait"  # service time rising with the CPU idle: workers, a lock, a downstream call
    MEMORY = "memory"  # R14/R15, swap
    APP_ERRORS = "app_errors"  # the dynos answer 5xx themselves, or crash
    NONE = "none"  # nothing stood out


class Evidence(enum.StrEnum):
    """How strongly the data supports the diagnosis."""

    STRONG = "strong"
    MODERATE = "moderate"
    WEAK = "weak"


class Diagnosis(_Frozen):
    """The bottleneck the data supports, in words, with the figures behind it."""

    bottleneck: Bottleneck
    evidence: Evidence
    text: str
    reasons: list[str] = Field(default_factory=list)  # one line per signal, with its figure
    step: int | None = None  # the step the diagnosis looked at
    scenario: str | None = None


class StreamSummary(_Frozen):
    """How complete the server-side data is."""

    lines: int = 0
    router: int = 0
    metrics: int = 0
    odd: int = 0
    odd_examples: list[str] = Field(default_factory=list)  # why (and the line, from the platform only)
    reconnects: int = 0
    gap_s: float = 0.0  # time the stream was down
    dropped: int = 0  # router records over the size limit
    error: str | None = None
    l10: int = 0  # logplex said it dropped lines


class ServerView(_Frozen):
    """Everything the report shows of the server side."""

    steps: list[StepServer] = Field(default_factory=list)
    codes: list[CodeCount] = Field(default_factory=list)
    dynos: list[DynoTotals] = Field(default_factory=list)
    memory: list[MemoryPoint] = Field(default_factory=list)
    load: list[LoadPoint] = Field(default_factory=list)
    events: list[ServerEvent] = Field(default_factory=list)
    router_requests: int = 0
    matched: int = 0
    metrics_present: bool = False
    metrics_hint: str | None = None  # how to enable runtime metrics, when they are missing
    load_limit: float | None = None  # acceptable load_avg_1m for the dyno size
    dyno_size: str | None = None
    stream: StreamSummary = Field(default_factory=StreamSummary)
    diagnosis: Diagnosis
