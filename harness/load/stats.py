"""Windowed statistics: what happened between two instants, never since the start.

Locust's live figures are cumulative (`fail_ratio`) or a lagging ~10 s window
(`current_rps`), see LOCUST-NOTES. A step is measured instead from two
`StatsSnapshot`s of the counters and response-time histograms, at the step's
start and end: requests/s is Δrequests/Δt, the error ratio Δfailures/Δrequests,
and percentiles come from `diff_response_time_dicts` of the histograms
(Locust's buckets: 2 significant digits, in ms).

`RequestSink` listens to the `request` event and keeps what Locust's stats do
not: failures by kind and status, and per-second aggregates per endpoint for
the time series, plus (in arrival-rate mode, `slots.SlotStats`) the latency
from each request's intended start and the pacer's scheduling lag. On a worker
it ships them to the master inside Locust's own stats report
(`report_to_master` / `worker_report`), so a master holds the same data as a
local run and results have one shape either way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import psutil
from locust.event import Events
from locust.stats import (
    RequestStats,
    StatsEntry,
    bucket_response_time,
    calculate_response_time_percentile,
    diff_response_time_dicts,
)

from harness.load.listening import EventListening
from harness.load.pacing import Pacer
from harness.load.slots import EMPTY, SlotSnapshot, SlotStats
from harness.measurements import (
    TOTAL,
    EndpointWindow,
    ErrorCount,
    Percentiles,
    StepPlan,
    StepWindow,
    TimeseriesPoint,
)

__all__ = [
    "EntryCounters",
    "RequestSink",
    "StatsSnapshot",
    "TimelineEntry",
    "endpoint_window",
    "error_counts_between",
    "take_snapshot",
    "window_between",
]

# Key of a failure kind: (method, name, kind, status).
ErrorKey = tuple[str, str, str, int | None]
# The key under which a worker's report carries the sink's data to the master.
REPORT_KEY = "harness"
EXAMPLE_CHARS = 200


@dataclass(frozen=True, kw_only=True)
class EntryCounters:
    """Cumulative counters of one Locust StatsEntry at one instant (response times in ms)."""

    method: str
    name: str
    requests: int = 0
    failures: int = 0
    none_requests: int = 0
    total_response_time_ms: float = 0.0
    response_times: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class StatsSnapshot:
    """Everything a window needs from one instant: Locust's counters plus the sink's failure kinds."""

    ts: float
    total: EntryCounters
    entries: dict[tuple[str, str], EntryCounters]
    errors: dict[ErrorKey, int]
    error_examples: dict[ErrorKey, str]
    slots: SlotSnapshot = EMPTY


def _counters(entry: StatsEntry, *, method: str | None = None) -> EntryCounters:
    return EntryCounters(
        method=entry.method if method is None else method,
        name=entry.name,
        requests=entry.num_requests,
        failures=entry.num_failures,
        none_requests=entry.num_none_requests,
        total_response_time_ms=float(entry.total_response_time),
        response_times=dict(entry.response_times),
    )


def take_snapshot(stats: RequestStats, sink: RequestSink, ts: float) -> StatsSnapshot:
    """Copy the counters now (cheap: histograms hold at most a few hundred buckets)."""
    entries = {(e.method, e.name): _counters(e) for e in list(stats.entries.values())}
    return StatsSnapshot(
        ts=ts,
        total=_counters(stats.total, method=""),
        entries=entries,
        errors=dict(sink.error_counts),
        error_examples=dict(sink.error_examples),
        slots=sink.slots.snapshot(),
    )


def endpoint_window(
    after: EntryCounters,
    before: EntryCounters | None,
    duration_s: float,
    intended: tuple[dict[int, int], dict[int, int]] | None = None,
) -> EndpointWindow:
    """One endpoint over a window: the difference of its counters and histograms.

    `intended` is the (after, before) pair of its intended-start histograms (arrival-rate mode).
    """
    before = before or EntryCounters(method=after.method, name=after.name)
    requests = after.requests - before.requests
    failures = after.failures - before.failures
    timed = requests - (after.none_requests - before.none_requests)
    histogram = diff_response_time_dicts(after.response_times, before.response_times)
    per_s = 1.0 / duration_s if duration_s > 0 else 0.0
    return EndpointWindow(
        method=after.method,
        name=after.name,
        requests=requests,
        failures=failures,
        rps=requests * per_s,
        failures_per_s=failures * per_s,
        error_ratio=failures / requests if requests else 0.0,
        latency=_percentiles(histogram, timed, after.total_response_time_ms - before.total_response_time_ms),
        intended_latency=_intended(*intended) if intended is not None else None,
    )


def _intended(after: dict[int, int], before: dict[int, int]) -> Percentiles | None:
    histogram = diff_response_time_dicts(after, before)
    timed = sum(histogram.values())
    if timed <= 0:
        return None
    return _percentiles(histogram, timed, sum(bucket * count for bucket, count in histogram.items()))


def _percentiles(histogram: dict[int, int], timed: int, total_ms: float) -> Percentiles:
    if timed <= 0 or not histogram:
        return Percentiles()

    def at(p: float) -> float:
        return float(calculate_response_time_percentile(histogram, timed, p))

    return Percentiles(
        p50_ms=at(0.50),
        p90_ms=at(0.90),
        p95_ms=at(0.95),
        p99_ms=at(0.99),
        max_ms=float(max(histogram)),
        avg_ms=total_ms / timed,
    )


def window_between(
    before: StatsSnapshot,
    after: StatsSnapshot,
    *,
    plan: StepPlan,
    users: int,
    offered_rps: float | None,
    cpu_percent: float | None = None,
    saturated: bool = False,
    aborted: bool = False,
    concurrency_max: int | None = None,
    connections_max: int | None = None,
    lag_limit_ms: float | None = None,
) -> StepWindow:
    """The `StepWindow` of `plan` measured between two snapshots.

    Slot figures (intended-start latency, lag, concurrency, dropped slots) are filled in
    when the window saw paced slots; the step is flagged lagging above `lag_limit_ms`.
    """
    duration = after.ts - before.ts
    paced = after.slots.counters.due > before.slots.counters.due
    endpoints = [
        endpoint_window(
            counters,
            before.entries.get(key),
            duration,
            (after.slots.intended.get(key, {}), before.slots.intended.get(key, {})) if paced else None,
        )
        for key, counters in sorted(after.entries.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]
    total_intended = (after.slots.intended_total, before.slots.intended_total) if paced else None
    total = endpoint_window(after.total, before.total, duration, total_intended)
    slot_fields = _slot_fields(before.slots, after.slots, duration, lag_limit_ms) if paced else {}
    if paced:
        slot_fields.update(concurrency_max=concurrency_max, connections_max=connections_max)
    return StepWindow(
        plan=plan,
        start_ts=before.ts,
        end_ts=after.ts,
        users=users,
        offered_rps=offered_rps,
        total=total.model_copy(update={"name": TOTAL}),
        endpoints=[e for e in endpoints if e.requests > 0],
        errors=error_counts_between(before, after),
        generator_cpu_percent=cpu_percent,
        generator_saturated=saturated,
        aborted=aborted,
        **slot_fields,
    )


def _slot_fields(
    before: SlotSnapshot, after: SlotSnapshot, duration_s: float, lag_limit_ms: float | None
) -> dict[str, Any]:
    """Mean concurrency, scheduling lag p99, lagging flag and unsent slots of a paced window."""
    lag = diff_response_time_dicts(after.lag, before.lag)
    lagged = sum(lag.values())
    lag_p99 = float(calculate_response_time_percentile(lag, lagged, 0.99)) if lagged else None
    start, end = before.counters, after.counters
    return {
        "concurrency_mean": round((end.busy_s - start.busy_s) / duration_s, 3) if duration_s > 0 else None,
        "schedule_lag_p99_ms": lag_p99,
        "dropped_slots": max(0, (end.due - start.due) - (end.taken - start.taken)),
        "generator_lagging": bool(
            lag_limit_ms is not None and lag_p99 is not None and lag_p99 > lag_limit_ms
        ),
    }


def error_counts_between(before: StatsSnapshot, after: StatsSnapshot) -> list[ErrorCount]:
    """Failures by endpoint, kind and status in the window, most frequent first."""
    counts = []
    for key, total in after.errors.items():
        count = total - before.errors.get(key, 0)
        if count > 0:
            method, name, kind, status = key
            example = after.error_examples.get(key, "")
            counts.append(
                ErrorCount(method=method, name=name, kind=kind, status=status, count=count, example=example)
            )
    return sorted(counts, key=lambda e: (-e.count, e.name, e.kind))


@dataclass
class _Second:
    """One endpoint during one second: completed requests, failures, response-time histogram (ms)."""

    requests: int = 0
    failures: int = 0
    response_times: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, other: _Second) -> None:
        self.requests += other.requests
        self.failures += other.failures
        for bucket, count in other.response_times.items():
            self.response_times[bucket] += count


@dataclass(frozen=True, kw_only=True)
class TimelineEntry:
    """From `start_ts` on, the run was in this step (for labelling the per-second series)."""

    start_ts: float
    plan: StepPlan
    offered_rps: float | None


class RequestSink(EventListening):
    """Per-request listener: failure kinds and per-second aggregates, local or merged from workers."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        pacer: Pacer | None = None,
        connections: Callable[[], int] | None = None,
    ) -> None:
        self._clock = clock
        self.slots = SlotStats(pacer)
        self._connections = connections  # a worker reports its open connections with its stats
        self.error_counts: dict[ErrorKey, int] = defaultdict(int)
        self.error_examples: dict[ErrorKey, str] = {}
        self.seconds: dict[int, dict[tuple[str, str], _Second]] = defaultdict(lambda: defaultdict(_Second))
        self.worker_cpu: dict[str, float] = {}  # worker id -> CPU % over its last report interval
        self._pending: dict[int, dict[tuple[str, str], _Second]] = defaultdict(lambda: defaultdict(_Second))
        self._pending_errors: dict[ErrorKey, int] = defaultdict(int)
        self._process = psutil.Process()
        self._process.cpu_percent(None)
        self._events: Events | None = None
        self._forward = False
        self._second = -1  # the second `_current` is the table of
        self._current: dict[tuple[str, str], _Second] = {}

    # -- listening --------------------------------------------------------------------------

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response: Any = None,
        exception: BaseException | None = None,
        **_: Any,
    ) -> None:
        """Count one completed request in the current second (the `request` event's signature).

        On every request's path, so it does the least it can: no slot accounting unless paced,
        and the current second's table is looked up once per second, not once per request.
        """
        pacer = self.slots.pacer
        if pacer is not None and pacer.rate is not None:
            self.slots.on_request(request_type, name, response_time)
        second = int(self._clock())
        if second != self._second:
            self._second = second
            self._current = (self._pending if self._forward else self.seconds)[second]
        bucket = self._current[(request_type, name)]
        bucket.requests += 1
        if response_time is not None:
            bucket.response_times[bucket_response_time(response_time)] += 1
        if exception is not None:
            bucket.failures += 1
            key = _error_key(request_type, name, response, exception)
            self.error_counts[key] += 1
            if self._forward:
                self._pending_errors[key] += 1
            self.error_examples.setdefault(key, str(exception)[:EXAMPLE_CHARS])

    # -- distributed ------------------------------------------------------------------------

    def drain(self) -> dict[str, Any]:
        """The data gathered since the last drain, as msgpack-friendly lists (sent by a worker)."""
        seconds = [
            [second, method, name, b.requests, b.failures, dict(b.response_times)]
            for second, per_endpoint in self._pending.items()
            for (method, name), b in per_endpoint.items()
        ]
        errors = [
            [*key, count, self.error_examples.get(key, "")] for key, count in self._pending_errors.items()
        ]
        self._pending.clear()
        self._pending_errors.clear()
        self._second = -1  # the cached table was one of those just shipped
        connections = self._connections() if self._connections is not None else 0
        cpu = self._process.cpu_percent(None)
        return {"seconds": seconds, "errors": errors, "cpu": cpu, "slots": self.slots.report(connections)}

    def merge(self, client_id: str, payload: dict[str, Any]) -> None:
        """Add a worker's drained data (on the master)."""
        for second, method, name, requests, failures, response_times in payload.get("seconds", []):
            incoming = _Second(requests, failures, {int(k): int(v) for k, v in response_times.items()})
            self.seconds[int(second)][(method, name)].add(incoming)
        for method, name, kind, status, count, example in payload.get("errors", []):
            key = (method, name, kind, status)
            self.error_counts[key] += count
            self.error_examples.setdefault(key, example)
        if payload.get("cpu") is not None:
            self.worker_cpu[client_id] = float(payload["cpu"])
        if payload.get("slots"):
            self.slots.merge(client_id, payload["slots"])

    def _on_report_to_master(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        data[REPORT_KEY] = self.drain()

    def _on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        payload = data.get(REPORT_KEY)
        if payload:
            self.merge(client_id, payload)

    # -- results ----------------------------------------------------------------------------

    def timeseries(
        self,
        *,
        scenario: str,
        start_ts: float,
        end_ts: float,
        timeline: list[TimelineEntry],
        users_by_second: dict[int, int],
    ) -> list[TimeseriesPoint]:
        """One point per second of [start_ts, end_ts) for TOTAL and each endpoint that had traffic."""
        points: list[TimeseriesPoint] = []
        for second in range(int(start_ts), int(end_ts) + 1):
            per_endpoint = self.seconds.get(second, {})
            step = _step_at(timeline, second + 0.5)
            total = _Second()
            for b in per_endpoint.values():
                total.add(b)
            rows: Iterable[tuple[str, str, _Second]] = [
                ("", TOTAL, total),
                *((m, n, b) for (m, n), b in sorted(per_endpoint.items(), key=lambda kv: kv[0][::-1])),
            ]
            for method, name, b in rows:
                points.append(_point(scenario, second, step, users_by_second.get(second, 0), method, name, b))
        return points


def _point(
    scenario: str, second: int, step: TimelineEntry | None, users: int, method: str, name: str, b: _Second
) -> TimeseriesPoint:
    timed = sum(b.response_times.values())

    def at(p: float) -> float | None:
        return float(calculate_response_time_percentile(b.response_times, timed, p)) if timed else None

    return TimeseriesPoint(
        ts=float(second),
        scenario=scenario,
        step=step.plan.index if step else None,
        kind=step.plan.kind if step else None,
        method=method,
        name=name,
        users=users,
        offered_rps=step.offered_rps if step else None,
        rps=float(b.requests),
        failures_per_s=float(b.failures),
        p50_ms=at(0.50),
        p95_ms=at(0.95),
        p99_ms=at(0.99),
    )


def _step_at(timeline: list[TimelineEntry], ts: float) -> TimelineEntry | None:
    current = None
    for entry in timeline:
        if entry.start_ts <= ts:
            current = entry
    return current


def _error_key(method: str, name: str, response: Any, exception: BaseException) -> ErrorKey:
    """'HTTP 503' for an error status, else the exception's class name (e.g. 'ConnectionRefusedError')."""
    status = getattr(response, "status_code", None)
    status = int(status) if isinstance(status, int) and status > 0 else None
    kind = f"HTTP {status}" if status is not None and status >= 400 else type(exception).__name__
    return (method, name, kind, status)
