"""Windowed statistics from counter snapshots, and the per-request sink (local and worker → master)."""

from __future__ import annotations

from types import SimpleNamespace

from locust.event import Events

from harness.load.stats import EntryCounters, RequestSink, StatsSnapshot, TimelineEntry, window_between
from harness.measurements import TOTAL, StepKind, StepPlan


def counters(
    name: str, requests: int, failures: int, times: dict[int, int], method: str = "GET"
) -> EntryCounters:
    total_ms = float(sum(t * n for t, n in times.items()))
    return EntryCounters(
        method=method,
        name=name,
        requests=requests,
        failures=failures,
        total_response_time_ms=total_ms,
        response_times=times,
    )


def snapshot(ts: float, search: EntryCounters, home: EntryCounters | None = None) -> StatsSnapshot:
    entries = {("GET", "/search"): search}
    if home is not None:
        entries[("GET", "/")] = home
    total_times: dict[int, int] = {}
    for entry in entries.values():
        for t, n in entry.response_times.items():
            total_times[t] = total_times.get(t, 0) + n
    total = counters(
        TOTAL,
        sum(e.requests for e in entries.values()),
        sum(e.failures for e in entries.values()),
        total_times,
        "",
    )
    return StatsSnapshot(ts=ts, total=total, entries=entries, errors={}, error_examples={})


PLAN = StepPlan(index=3, kind=StepKind.HOLD, level=50, hold_s=4)


def test_a_window_is_the_difference_of_two_snapshots_not_the_cumulative_figures() -> None:
    before = snapshot(100.0, counters("/search", 1000, 500, {900: 1000}), counters("/", 10, 0, {10: 10}))
    after = snapshot(
        104.0, counters("/search", 1200, 502, {900: 1000, 40: 195, 120: 5}), counters("/", 10, 0, {10: 10})
    )
    window = window_between(before, after, plan=PLAN, users=20, offered_rps=50.0)

    assert window.duration_s == 4.0 and window.users == 20 and window.offered_rps == 50.0
    assert (window.total.requests, window.total.failures) == (200, 2)
    assert (
        window.total.rps == 50.0 and window.total.failures_per_s == 0.5 and window.total.error_ratio == 0.01
    )
    latency = window.total.latency
    assert (latency.p50_ms, latency.p95_ms, latency.max_ms) == (40.0, 40.0, 120.0)
    assert latency.p99_ms == 120.0 and latency.avg_ms == (40 * 195 + 120 * 5) / 200
    assert [e.name for e in window.endpoints] == ["/search"]  # "/" had no traffic in the window


def test_an_empty_window_has_no_percentiles_and_no_error_ratio() -> None:
    same = snapshot(10.0, counters("/search", 5, 0, {40: 5}))
    window = window_between(
        same, same.__class__(**{**same.__dict__, "ts": 12.0}), plan=PLAN, users=0, offered_rps=None
    )
    assert window.total.requests == 0 and window.total.error_ratio == 0.0
    assert window.total.latency.p95_ms is None and window.endpoints == []


def test_the_sink_counts_failures_by_status_and_kind_per_second() -> None:
    now = [1000.2]
    sink = RequestSink(clock=lambda: now[0])
    events = Events()
    sink.attach(events)
    events.request.fire(
        request_type="GET",
        name="/search",
        response_time=41.0,
        response_length=2,
        response=SimpleNamespace(status_code=200),
        exception=None,
        context={},
    )
    events.request.fire(
        request_type="GET",
        name="/search",
        response_time=30000.0,
        response_length=0,
        response=SimpleNamespace(status_code=503),
        exception=RuntimeError("503 H12"),
        context={},
    )
    now[0] = 1001.5
    events.request.fire(
        request_type="POST",
        name="/checkout",
        response_time=None,
        response_length=0,
        response=None,
        exception=ConnectionRefusedError("refused"),
        context={},
    )
    sink.detach()
    events.request.fire(
        request_type="GET",
        name="/",
        response_time=1.0,
        response_length=0,
        response=None,
        exception=None,
        context={},
    )

    assert dict(sink.error_counts) == {
        ("GET", "/search", "HTTP 503", 503): 1,
        ("POST", "/checkout", "ConnectionRefusedError", None): 1,
    }
    assert sink.error_examples[("GET", "/search", "HTTP 503", 503)] == "503 H12"
    assert sink.seconds[1000][("GET", "/search")].requests == 2
    assert sink.seconds[1000][("GET", "/search")].failures == 1
    assert dict(sink.seconds[1000][("GET", "/search")].response_times) == {41: 1, 30000: 1}
    assert 1001 in sink.seconds and ("GET", "/") not in sink.seconds[1001]  # detached: not counted


def test_a_master_merging_worker_reports_sees_what_a_local_sink_sees() -> None:
    clock = [50.1]
    local = RequestSink(clock=lambda: clock[0])
    worker = RequestSink(clock=lambda: clock[0])
    master = RequestSink(clock=lambda: clock[0])
    worker_events, master_events = Events(), Events()
    worker.attach(worker_events, worker=True)
    master.attach(master_events, master=True)
    for second, (name, time_ms) in enumerate([("/", 10.0), ("/search", 44.0), ("/search", 47.0)]):
        clock[0] = 50.1 + second
        for sink in (local, worker):
            sink.on_request(
                request_type="GET", name=name, response_time=time_ms, response=None, exception=None
            )
        if second == 1:  # a report in the middle, one at the end
            report: dict[str, object] = {}
            worker_events.report_to_master.fire(client_id="w1", data=report)
            master_events.worker_report.fire(client_id="w1", data=report)
    report = {}
    worker_events.report_to_master.fire(client_id="w1", data=report)
    master_events.worker_report.fire(client_id="w1", data=report)

    timeline = [TimelineEntry(start_ts=50.0, plan=PLAN, offered_rps=None)]
    args = {
        "scenario": "s",
        "start_ts": 50.0,
        "end_ts": 52.9,
        "timeline": timeline,
        "users_by_second": {51: 7},
    }
    assert master.timeseries(**args) == local.timeseries(**args)
    points = local.timeseries(**args)
    totals = [(p.ts, p.rps, p.users, p.step, p.p95_ms) for p in points if p.name == TOTAL]
    assert totals == [(50.0, 1.0, 0, 3, 10.0), (51.0, 1.0, 7, 3, 44.0), (52.0, 1.0, 0, 3, 47.0)]
    assert "w1" in master.worker_cpu
