"""What the pacer's start slots measured: intended-start latency, scheduling lag, slot counters.

In arrival-rate mode every paced task starts from a slot that was due at a
known instant (`pacing.Slot`). The first request of the task is measured from
that instant (wrk2's correction of coordinated omission): waiting for a free
user, for the concurrency ceiling or for a late generator counts against the
app's target. Later requests of the same task, and requests of unpaced tasks,
enter the same histogram with their service latency, so both histograms
describe the same requests. The scheduling lag of a slot is how late its
request really started compared with the later of "due" and "a user was free".

Histograms are cumulative, in Locust's response-time buckets (ms, 2
significant digits); a window is the difference of two `SlotSnapshot`s. On a
worker the cumulative figures travel to the master in each stats report; the
master keeps each worker's latest and sums them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import gevent
from locust.stats import bucket_response_time

from harness.load.pacing import Pacer, PacerCounters

__all__ = ["SlotSnapshot", "SlotStats", "lag_limit_ms"]

Histogram = dict[int, int]
EndpointKey = tuple[str, str]  # (method, name)

# A step is "generator lagging" when its scheduling lag p99 exceeds max(LAG_FLOOR_MS, LAG_SHARE × p95 limit).
LAG_FLOOR_MS = 5.0
LAG_SHARE = 0.05


def lag_limit_ms(p95_limit_ms: float | None) -> float:
    """The scheduling-lag p99 above which a step's figures are the generator's, not the app's."""
    return max(LAG_FLOOR_MS, LAG_SHARE * p95_limit_ms) if p95_limit_ms else LAG_FLOOR_MS


@dataclass(frozen=True, kw_only=True)
class SlotSnapshot:
    """Cumulative slot figures at one instant."""

    intended: dict[EndpointKey, Histogram]
    intended_total: Histogram
    lag: Histogram
    counters: PacerCounters


EMPTY = SlotSnapshot(intended={}, intended_total={}, lag={}, counters=PacerCounters())


@dataclass
class _Remote:
    """One worker's latest cumulative figures, and its live connection and concurrency counts."""

    snapshot: SlotSnapshot
    connections: int = 0
    peak: int = 0


class SlotStats:
    """Per-request slot accounting of one process (local or worker), or the sum of workers (master)."""

    def __init__(self, pacer: Pacer | None = None) -> None:
        self.pacer = pacer
        self.intended: dict[EndpointKey, Histogram] = defaultdict(lambda: defaultdict(int))
        self.intended_total: Histogram = defaultdict(int)
        self.lag: Histogram = defaultdict(int)
        self._remote: dict[str, _Remote] = {}

    def on_request(self, method: str, name: str, response_time: float | None) -> None:
        """Account one completed request (called from the `request` event, in the user's greenlet)."""
        pacer = self.pacer
        if pacer is None or pacer.rate is None or response_time is None:
            return
        latency = response_time
        slot = pacer.slot_of(gevent.getcurrent())
        if slot is not None and not slot.measured:
            slot.measured = True
            now = pacer.clock()
            latency = (now - slot.due) * 1000.0
            lag_ms = (now - slot.ready) * 1000.0 - response_time
            self.lag[bucket_response_time(round(max(0.0, lag_ms)))] += 1
        bucket = bucket_response_time(latency)
        self.intended[(method, name)][bucket] += 1
        self.intended_total[bucket] += 1

    def snapshot(self) -> SlotSnapshot:
        """Cumulative figures now: this process's own, or on a master the workers' sum."""
        if self._remote:
            return _sum(r.snapshot for r in self._remote.values())
        counters = self.pacer.counters() if self.pacer is not None else PacerCounters()
        return SlotSnapshot(
            intended={key: dict(h) for key, h in self.intended.items()},
            intended_total=dict(self.intended_total),
            lag=dict(self.lag),
            counters=counters,
        )

    # -- distributed ------------------------------------------------------------------------

    def report(self, connections: int) -> dict[str, Any]:
        """This worker's cumulative figures, msgpack-friendly (sent with each stats report)."""
        snap = self.snapshot()
        peak = self.pacer.take_peak() if self.pacer is not None else 0
        return {
            "intended": [[m, n, h] for (m, n), h in snap.intended.items()],
            "lag": snap.lag,
            "counters": snap.counters.as_list(),
            "connections": connections,
            "peak": peak,
        }

    def merge(self, client_id: str, payload: dict[str, Any]) -> None:
        """Keep a worker's latest figures (on the master); the peak is the highest since last taken."""
        intended = {(m, n): _ints(h) for m, n, h in payload.get("intended", [])}
        snapshot = SlotSnapshot(
            intended=intended,
            intended_total=_merged(intended.values()),
            lag=_ints(payload.get("lag", {})),
            counters=PacerCounters.from_list(payload.get("counters", PacerCounters().as_list())),
        )
        previous = self._remote.get(client_id)
        peak = max(int(payload.get("peak", 0)), previous.peak if previous else 0)
        self._remote[client_id] = _Remote(snapshot, int(payload.get("connections", 0)), peak)

    def remote_connections(self) -> int:
        """Open connections summed over the workers' latest reports."""
        return sum(r.connections for r in self._remote.values())

    def take_remote_peak(self) -> int:
        """Requests in flight at once, summed over the workers' peaks since the last call."""
        peak = sum(r.peak for r in self._remote.values())
        for remote in self._remote.values():
            remote.peak = 0
        return peak


def _ints(histogram: dict[Any, Any]) -> Histogram:
    return {int(k): int(v) for k, v in histogram.items()}


def _merged(histograms: Any) -> Histogram:
    total: Histogram = defaultdict(int)
    for histogram in histograms:
        for bucket, count in histogram.items():
            total[bucket] += count
    return dict(total)


def _sum(snapshots: Any) -> SlotSnapshot:
    intended: dict[EndpointKey, Histogram] = {}
    totals: list[Histogram] = []
    lags: list[Histogram] = []
    counters = PacerCounters()
    for snap in snapshots:
        for key, histogram in snap.intended.items():
            intended[key] = _merged([intended.get(key, {}), histogram])
        totals.append(snap.intended_total)
        lags.append(snap.lag)
        counters = counters + snap.counters
    return SlotSnapshot(
        intended=intended, intended_total=_merged(totals), lag=_merged(lags), counters=counters
    )
