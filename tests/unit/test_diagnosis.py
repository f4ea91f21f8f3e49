"""Correlating router lines with the client's steps, and naming the bottleneck (pure)."""

from __future__ import annotations

from harness.capacity.diagnosis import METRICS_HINT, build_view
from harness.capacity.server_steps import acceptable_load, endpoint_of, percentile
from harness.serverlog import ClientRequest, DynoEvent, EventKind, MetricSample, RouterRequest
from harness.serverview import Bottleneck, Evidence, QueueBasis, StepSpan, StreamSummary

T0 = 1_000_000.0


def span(step: int, start: float, *, level: float, p50: float, ok: bool | None = True) -> StepSpan:
    return StepSpan(
        scenario="stress",
        step=step,
        label=f"probe {step}",
        level=level,
        level_unit="users",
        start_ts=start,
        end_ts=start + 10,
        client_requests=100,
        client_p50_ms=p50,
        client_p95_ms=p50 * 1.5,
        ok=ok,
    )


def requests(
    start: float,
    n: int,
    *,
    service: float,
    client_ms: float | None = None,
    dynos: int = 2,
    code: str | None = None,
    status: int = 200,
    path: str = "/products/7",
    prefix: str = "r",
) -> tuple[list[RouterRequest], list[ClientRequest]]:
    """`n` router lines spread over 10 s from `start`, and the client's view of each (if `client_ms`)."""
    router, client = [], []
    for i in range(n):
        rid = f"{prefix}-{start:.0f}-{i:020d}"
        ts = start + 10 * (i + 0.5) / n
        dyno = None if code == "H11" else f"web.{i % dynos + 1}"
        router.append(
            RouterRequest(
                ts=ts,
                method="GET",
                path=path,
                dyno=dyno,
                connect_ms=None if dyno is None else 1.0,
                service_ms=None if dyno is None else service,
                status=503 if code else status,
                bytes=10,
                code=code,
                request_id=rid,
            )
        )
        if client_ms is not None:
            client.append(
                ClientRequest(
                    ts=ts,
                    request_id=rid,
                    method="GET",
                    name="/products/[id]",
                    response_time_ms=client_ms,
                    status=200,
                )
            )
    return router, client


def metrics(start: float, *, load: float = 0.2, rss: float = 100.0, swap: float = 0.0) -> list[MetricSample]:
    return [
        MetricSample(ts=start + 5, dyno="web.1", load_avg_1m=load),
        MetricSample(
            ts=start + 5, dyno="web.1", memory_rss_mb=rss, memory_swap_mb=swap, memory_quota_mb=512.0
        ),
    ]


def test_percentiles_paths_and_load_limits() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5, 1, 3, 2, 4], 0.5) == 3.0
    assert percentile(list(range(1, 101)), 0.95) == 95.0
    assert endpoint_of("/products/17?x=1") == "/products/:id"
    assert endpoint_of("/orders/0f9a8b7c6d5e/items") == "/orders/:id/items"
    assert endpoint_of("/") == "/"
    assert (acceptable_load("Standard-1X"), acceptable_load("Performance-L"), acceptable_load(None)) == (
        1,
        8,
        1,
    )


def test_router_queueing_measured_on_matched_requests() -> None:
    router, client = requests(T0, 200, service=40.0, client_ms=200.0)
    h11, _ = requests(T0, 20, service=0, code="H11", prefix="h")
    h12, _ = requests(T0, 3, service=5000.0, code="H12", prefix="t")
    lines = router + h11 + h12
    view = build_view([span(1, T0, level=20, p50=200.0, ok=False)], lines, metrics(T0), [], client)
    step = view.steps[0]
    assert step.queue_basis is QueueBasis.MATCHED and step.matched == 200
    assert step.queue_p50_ms == 159.0  # 200 - 1 (connect) - 40 (service)
    assert (step.service_p50_ms, step.connect_p50_ms, step.router_requests) == (40.0, 1.0, 223)
    assert step.codes == {"H11": 20, "H12": 3}
    assert step.per_dyno == {"web.1": 102, "web.2": 101} and step.imbalance == 102 / 101.5
    d = view.diagnosis
    assert d.bottleneck is Bottleneck.ROUTER_QUEUEING and d.evidence is Evidence.STRONG
    assert (
        "20 H11, all on GET /products/:id, 3 H12, all on GET /products/:id" in d.text
        and "159 ms outside the dyno" in d.text
        and "probe 1, 20 users" in d.text
    )
    assert view.matched == 200 and view.metrics_present and view.metrics_hint is None


def test_queueing_falls_back_to_medians_without_request_ids() -> None:
    router, _ = requests(T0, 100, service=50.0)
    view = build_view([span(1, T0, level=5, p50=120.0)], router, [], [], [])
    step = view.steps[0]
    assert step.queue_basis is QueueBasis.PERCENTILES and step.matched == 0
    assert step.queue_p50_ms == 69.0 and step.queue_p95_ms is None


def test_dyno_cpu_with_rising_service_time() -> None:
    low, low_client = requests(T0, 100, service=20.0, client_ms=25.0)
    high, high_client = requests(T0 + 20, 100, service=60.0, client_ms=66.0)
    steps = [span(1, T0, level=5, p50=25.0), span(2, T0 + 20, level=50, p50=66.0, ok=False)]
    view = build_view(
        steps,
        low + high,
        metrics(T0) + metrics(T0 + 20, load=2.6),
        [],
        low_client + high_client,
        dyno_size="Standard-1X",
    )
    d = view.diagnosis
    assert d.bottleneck is Bottleneck.DYNO_CPU and d.evidence is Evidence.STRONG, d.text
    assert (
        d.step == 2
        and "2.60 on web.1, over the 1.0 a Standard-1X carries" in d.text
        and "from 20 ms to 60 ms" in d.text
    )
    assert view.steps[1].load_max == {"web.1": 2.6}


def test_service_time_rising_with_an_idle_cpu_is_waiting_inside_the_dyno_not_cpu() -> None:
    low, low_client = requests(T0, 100, service=40.0, client_ms=44.0)
    high, high_client = requests(T0 + 20, 100, service=460.0, client_ms=466.0)
    steps = [span(1, T0, level=40, p50=44.0), span(2, T0 + 20, level=220, p50=466.0, ok=False)]
    view = build_view(
        steps,
        low + high,
        metrics(T0, load=0.04) + metrics(T0 + 20, load=0.05),
        [],
        low_client + high_client,
        dyno_size="Standard-1X",
    )
    d = view.diagnosis
    assert d.bottleneck is Bottleneck.DYNO_WAIT and d.evidence is Evidence.MODERATE, d.text
    assert "from 40 ms to 460 ms, while the load average stayed at 0.05 (under 1.0)" in d.text
    assert "not CPU" in d.text


def test_memory_from_r14_and_swap() -> None:
    router, client = requests(T0, 100, service=30.0, client_ms=35.0)
    events = [
        DynoEvent(ts=T0 + 3, dyno="web.1", kind=EventKind.MEMORY, memory_mb=530.0, memory_percent=103.5),
        DynoEvent(ts=T0 + 3, dyno="web.1", kind=EventKind.R14, detail="Error R14 (Memory quota exceeded)"),
    ]
    view = build_view(
        [span(1, T0, level=5, p50=35.0)], router, metrics(T0, rss=530.0, swap=18.0), events, client
    )
    d = view.diagnosis
    assert d.bottleneck is Bottleneck.MEMORY and d.evidence is Evidence.STRONG, d.text
    assert "1 R14" in d.text and "swapped up to 18 MB" in d.text and "530 MB of a 512 MB quota" in d.text
    assert view.steps[0].r14 == 1
    assert [e.kind for e in view.events] == ["R14"]
    assert view.dynos[0].memory_max_mb == 530.0 and view.dynos[0].quota_mb == 512.0


def test_app_errors_and_crashes_are_attributed() -> None:
    ok_lines, client = requests(T0, 90, service=30.0, client_ms=35.0)
    errors, err_client = requests(
        T0, 10, service=5.0, client_ms=8.0, status=500, path="/checkout", prefix="e"
    )
    events = [
        DynoEvent(ts=T0 + 4, dyno="web.2", kind=EventKind.CRASH, state="crashed", previous="up"),
        DynoEvent(ts=T0 + 6, dyno="web.2", kind=EventKind.STATE, state="starting", previous="crashed"),
    ]
    view = build_view(
        [span(1, T0, level=5, p50=35.0, ok=False)], ok_lines + errors, [], events, client + err_client
    )
    d = view.diagnosis
    assert d.bottleneck is Bottleneck.APP_ERRORS, d.text
    assert "10 5xx themselves" in d.text and "1 dyno crash (" in d.text
    assert [e.kind for e in view.events] == ["crash", "restart"]
    web2 = next(x for x in view.dynos if x.dyno == "web.2")
    assert (web2.crashes, web2.restarts) == (1, 1)
    assert view.metrics_hint == METRICS_HINT and "log-runtime-metrics" in METRICS_HINT


def test_h12_attributed_to_the_slow_endpoint_by_request_id() -> None:
    fast, fast_client = requests(T0, 50, service=10.0, client_ms=12.0, path="/")
    slow, slow_client = requests(
        T0, 7, service=5000.0, client_ms=5001.0, code="H12", path="/search?q=x", prefix="s"
    )
    for i, c in enumerate(slow_client):
        slow_client[i] = ClientRequest(
            ts=c.ts,
            request_id=c.request_id,
            method="GET",
            name="/search",
            response_time_ms=5001.0,
            status=503,
        )
    view = build_view([span(1, T0, level=5, p50=12.0)], fast + slow, [], [], fast_client + slow_client)
    assert [(c.code, c.endpoint, c.count) for c in view.codes] == [("H12", "GET /search", 7)]
    assert view.diagnosis.bottleneck is Bottleneck.APP_ERRORS  # requests did not wait: the endpoint is slow
    assert "timed out 7 requests (H12, all on GET /search)" in view.diagnosis.text
    assert view.codes[0].service_p50_ms == 5000.0
    # Without the client's records the router path names it.
    bare = build_view([span(1, T0, level=5, p50=12.0)], fast + slow, [], [], [])
    assert [(c.code, c.endpoint) for c in bare.codes] == [("H12", "GET /search")]


def test_healthy_run_names_no_bottleneck_and_thin_data_is_weak() -> None:
    router, client = requests(T0, 100, service=20.0, client_ms=22.0)
    view = build_view([span(1, T0, level=5, p50=22.0)], router, metrics(T0), [], client)
    assert view.diagnosis.bottleneck is Bottleneck.NONE and "No server-side bottleneck" in view.diagnosis.text
    few, few_client = requests(T0, 12, service=40.0, client_ms=200.0)
    thin = build_view(
        [span(1, T0, level=5, p50=200.0)],
        few,
        metrics(T0),
        [],
        few_client,
        stream=StreamSummary(reconnects=1),
    )
    assert thin.diagnosis.bottleneck is Bottleneck.ROUTER_QUEUEING
    assert thin.diagnosis.evidence is Evidence.WEAK
    assert "Only 12 router lines" in thin.diagnosis.text and "evidence is weak" in thin.diagnosis.text
    empty = build_view([span(1, T0, level=5, p50=22.0)], [], [], [], [])
    assert empty.diagnosis.bottleneck is Bottleneck.NONE and "No router lines" in empty.diagnosis.text


def test_focus_is_the_first_broken_step() -> None:
    a, ac = requests(T0, 100, service=20.0, client_ms=22.0)
    b, bc = requests(T0 + 20, 100, service=20.0, client_ms=200.0, prefix="b")
    c, cc = requests(T0 + 40, 100, service=20.0, client_ms=400.0, prefix="c")
    steps = [
        span(1, T0, level=10, p50=22.0),
        span(2, T0 + 20, level=40, p50=200.0, ok=False),
        span(3, T0 + 40, level=20, p50=400.0, ok=False),
    ]
    view = build_view(steps, a + b + c, [], [], ac + bc + cc)
    assert view.diagnosis.step == 3  # the lower broken level (a bisect step)
    assert [s.router_requests for s in view.steps] == [100, 100, 100]
