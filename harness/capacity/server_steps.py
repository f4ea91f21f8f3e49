"""Correlate the router's lines and the dynos' samples with the client's steps (pure, no I/O).

A router line belongs to the step whose window holds its timestamp (the
router logs a request when it ends, as Locust counts it). Where the client
sent an X-Request-Id, the line is joined to the client's own record of that
request, and the time spent outside the dyno (router queueing plus network)
is measured per request: client time − (connect + service). Without enough
joined requests it falls back to the difference of the medians, and says so.

Runtime-metric samples come about every 20 s, so a step also takes the
samples up to `METRICS_LAG_S` after its end (load_avg_1m is a trailing
average: the sample just after a step still describes it).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

from harness.serverlog import ClientRequest, DynoEvent, EventKind, MetricSample, RouterRequest
from harness.serverview import (
    CodeCount,
    DynoTotals,
    LoadPoint,
    MemoryPoint,
    QueueBasis,
    ServerEvent,
    StepServer,
    StepSpan,
)

__all__ = [
    "METRICS_LAG_S",
    "MIN_MATCHED",
    "acceptable_load",
    "code_counts",
    "dyno_totals",
    "endpoint_of",
    "load_points",
    "memory_points",
    "percentile",
    "server_events",
    "server_steps",
]

METRICS_LAG_S = 10.0
# Fewer joined requests than this in a step: the queueing figure comes from the medians instead.
MIN_MATCHED = 10
_ID_SEGMENT = re.compile(r"^(\d+|[0-9a-fA-F]{8,}|[0-9a-fA-F-]{36})$")
# Load average above which a dyno sees CPU contention, by size (help.heroku.com/88G3XLA6).
_LOAD_LIMITS = {
    "performance-m": 2.0,
    "performance-l-ram": 4.0,
    "private-l-ram": 4.0,
    "shield-l-ram": 4.0,
    "performance-l": 8.0,
    "performance-xl": 8.0,
    "private-xl": 8.0,
    "performance-2xl": 16.0,
    "private-2xl": 16.0,
    "shield-2xl": 16.0,
}
_EVENT_KINDS = {EventKind.CRASH, EventKind.R10, EventKind.R12, EventKind.R14, EventKind.R15, EventKind.L10}


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank `p` percentile (0 < p ≤ 1) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(p * len(ordered)) - 1)])


def acceptable_load(size: str | None) -> float:
    """The load_avg_1m a dyno of `size` carries without CPU contention (1.0 for shared sizes)."""
    return _LOAD_LIMITS.get((size or "").lower(), 1.0)


def endpoint_of(path: str) -> str:
    """A path with its query dropped and id-like segments as `:id`, to group router lines by endpoint."""
    bare = path.split("?", 1)[0] or "/"
    return "/".join(":id" if _ID_SEGMENT.match(part) else part for part in bare.split("/")) or "/"


def _in(ts: float, start: float, end: float) -> bool:
    return start <= ts <= end


def server_steps(
    steps: Iterable[StepSpan],
    router: Sequence[RouterRequest],
    metrics: Sequence[MetricSample],
    events: Sequence[DynoEvent],
    client: Mapping[str, ClientRequest],
) -> list[StepServer]:
    """Each step's router and dyno figures; `client` maps request id -> the client's record."""
    return [_step(span, router, metrics, events, client) for span in steps]


def _step(
    span: StepSpan,
    router: Sequence[RouterRequest],
    metrics: Sequence[MetricSample],
    events: Sequence[DynoEvent],
    client: Mapping[str, ClientRequest],
) -> StepServer:
    lines = [r for r in router if _in(r.ts, span.start_ts, span.end_ts)]
    served = [r for r in lines if r.service_ms is not None and r.dyno]
    per_dyno = Counter(r.dyno for r in served if r.dyno)
    queue, basis, matched = _queue(span, served, client)
    samples = [m for m in metrics if _in(m.ts, span.start_ts, span.end_ts + METRICS_LAG_S)]
    in_step = [e for e in events if _in(e.ts, span.start_ts, span.end_ts)]
    return StepServer(
        scenario=span.scenario,
        step=span.step,
        label=span.label,
        level=span.level,
        level_unit=span.level_unit,
        start_ts=span.start_ts,
        end_ts=span.end_ts,
        client_requests=span.client_requests,
        client_p50_ms=span.client_p50_ms,
        client_p95_ms=span.client_p95_ms,
        router_requests=len(lines),
        service_p50_ms=percentile([r.service_ms for r in served if r.service_ms is not None], 0.50),
        service_p95_ms=percentile([r.service_ms for r in served if r.service_ms is not None], 0.95),
        connect_p50_ms=percentile([r.connect_ms for r in served if r.connect_ms is not None], 0.50),
        queue_p50_ms=queue[0],
        queue_p95_ms=queue[1],
        queue_basis=basis,
        matched=matched,
        codes=dict(sorted(Counter(r.code for r in lines if r.code).items())),
        app_5xx=sum(1 for r in lines if r.code is None and (r.status or 0) >= 500),
        per_dyno=dict(sorted(per_dyno.items())),
        imbalance=_imbalance(per_dyno),
        load_max=_max_by_dyno((m.dyno, m.load_avg_1m) for m in samples),
        memory_max_mb=_max_by_dyno((m.dyno, m.memory_rss_mb) for m in samples),
        swap_max_mb=max((m.memory_swap_mb for m in samples if m.memory_swap_mb is not None), default=None),
        r14=sum(1 for e in in_step if e.kind is EventKind.R14),
        r15=sum(1 for e in in_step if e.kind is EventKind.R15),
        crashes=sum(1 for e in in_step if e.kind is EventKind.CRASH),
        ok=span.ok,
    )


def _queue(
    span: StepSpan, served: Sequence[RouterRequest], client: Mapping[str, ClientRequest]
) -> tuple[tuple[float | None, float | None], QueueBasis, int]:
    """Time outside the dyno: per joined request, else from the medians."""
    outside = []
    for r in served:
        seen = client.get(r.request_id) if r.request_id else None
        if seen is not None and r.service_ms is not None:
            outside.append(seen.response_time_ms - (r.connect_ms or 0.0) - r.service_ms)
    if len(outside) >= MIN_MATCHED:
        return (percentile(outside, 0.50), percentile(outside, 0.95)), QueueBasis.MATCHED, len(outside)
    service = percentile([r.service_ms for r in served if r.service_ms is not None], 0.50)
    if service is None or span.client_p50_ms is None:
        return (None, None), QueueBasis.NONE, len(outside)
    connect = percentile([r.connect_ms for r in served if r.connect_ms is not None], 0.50) or 0.0
    return (span.client_p50_ms - service - connect, None), QueueBasis.PERCENTILES, len(outside)


def _imbalance(per_dyno: Mapping[str, int]) -> float | None:
    if len(per_dyno) < 2:
        return None
    mean = sum(per_dyno.values()) / len(per_dyno)
    return max(per_dyno.values()) / mean if mean else None


def _max_by_dyno(pairs: Iterable[tuple[str, float | None]]) -> dict[str, float]:
    best: dict[str, float] = {}
    for dyno, value in pairs:
        if value is not None:
            best[dyno] = max(value, best.get(dyno, value))
    return dict(sorted(best.items()))


def code_counts(router: Sequence[RouterRequest], client: Mapping[str, ClientRequest]) -> list[CodeCount]:
    """H codes by endpoint over the run, most frequent first (client names where the id joined)."""
    grouped: dict[tuple[str, str], list[RouterRequest]] = defaultdict(list)
    for r in router:
        if r.code:
            seen = client.get(r.request_id) if r.request_id else None
            endpoint = f"{seen.method} {seen.name}" if seen else f"{r.method} {endpoint_of(r.path)}"
            grouped[(r.code, endpoint)].append(r)
    counts = [
        CodeCount(
            code=code,
            endpoint=endpoint,
            count=len(lines),
            service_p50_ms=percentile([r.service_ms for r in lines if r.service_ms is not None], 0.50),
        )
        for (code, endpoint), lines in grouped.items()
    ]
    return sorted(counts, key=lambda c: (-c.count, c.code, c.endpoint))


def dyno_totals(
    router: Sequence[RouterRequest], metrics: Sequence[MetricSample], events: Sequence[DynoEvent]
) -> list[DynoTotals]:
    """Per dyno: requests served and their share, crashes and restarts, peak memory and load."""
    served = Counter(r.dyno for r in router if r.dyno and r.service_ms is not None)
    total = sum(served.values())
    names = set(served) | {m.dyno for m in metrics} | {e.dyno for e in events if e.dyno.count(".") == 1}
    rows = []
    for dyno in sorted(names, key=_dyno_order):
        mine = [m for m in metrics if m.dyno == dyno]
        happened = [e for e in events if e.dyno == dyno]
        rows.append(
            DynoTotals(
                dyno=dyno,
                requests=served.get(dyno, 0),
                share=served.get(dyno, 0) / total if total else 0.0,
                crashes=sum(1 for e in happened if e.kind is EventKind.CRASH),
                restarts=sum(1 for e in happened if e.kind is EventKind.STATE and e.previous == "crashed"),
                memory_max_mb=max(
                    (m.memory_rss_mb for m in mine if m.memory_rss_mb is not None), default=None
                ),
                quota_mb=max(
                    (m.memory_quota_mb for m in mine if m.memory_quota_mb is not None), default=None
                ),
                load_max=max((m.load_avg_1m for m in mine if m.load_avg_1m is not None), default=None),
            )
        )
    return rows


def _dyno_order(name: str) -> tuple[str, int]:
    kind, _, number = name.partition(".")
    return (kind, int(number) if number.isdigit() else 0)


def memory_points(metrics: Sequence[MetricSample]) -> list[MemoryPoint]:
    """Every memory sample, oldest first."""
    return [
        MemoryPoint(
            ts=m.ts, dyno=m.dyno, rss_mb=m.memory_rss_mb, swap_mb=m.memory_swap_mb, quota_mb=m.memory_quota_mb
        )
        for m in sorted(metrics, key=lambda m: m.ts)
        if m.memory_rss_mb is not None
    ]


def load_points(metrics: Sequence[MetricSample]) -> list[LoadPoint]:
    """Every load sample, oldest first."""
    return [
        LoadPoint(ts=m.ts, dyno=m.dyno, load_avg_1m=m.load_avg_1m)
        for m in sorted(metrics, key=lambda m: m.ts)
        if m.load_avg_1m is not None
    ]


def server_events(events: Sequence[DynoEvent]) -> list[ServerEvent]:
    """The events worth a mark on the charts (crashes, restarts, R and L errors), oldest first."""
    marked = []
    for e in sorted(events, key=lambda e: e.ts):
        if e.kind in _EVENT_KINDS:
            marked.append(ServerEvent(ts=e.ts, dyno=e.dyno, kind=str(e.kind), detail=e.detail))
        elif e.kind is EventKind.STATE and e.previous == "crashed":
            marked.append(ServerEvent(ts=e.ts, dyno=e.dyno, kind="restart", detail=e.detail))
    return marked
