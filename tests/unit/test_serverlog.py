"""Parsing Heroku's log lines: router requests, runtime metrics, dyno events, and odd lines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness.emulator.dynos import MetricsSample, format_metrics
from harness.emulator.logs import format_line
from harness.serverlog import (
    DynoEvent,
    EventKind,
    MetricSample,
    Odd,
    Other,
    RouterRequest,
    parse_line,
    record_from_json,
    record_to_json,
)

STAMP = "2024-10-17T22:23:22.209776+00:00"
TS = datetime(2024, 10, 17, 22, 23, 22, 209776, tzinfo=UTC).timestamp()


def test_router_success_line() -> None:
    line = (
        f'{STAMP} heroku[router]: at=info method=GET path="/products/7?x=1" host=myapp.herokuapp.com '
        'request_id=8601b555-6a83-4c12-8269-97c8e32cdb22 fwd="204.204.204.204" dyno=web.1 connect=1ms '
        "service=18ms status=200 bytes=13 protocol=https"
    )
    assert parse_line(line) == RouterRequest(
        ts=TS,
        method="GET",
        path="/products/7?x=1",
        dyno="web.1",
        connect_ms=1.0,
        service_ms=18.0,
        status=200,
        bytes=13,
        code=None,
        request_id="8601b555-6a83-4c12-8269-97c8e32cdb22",
    )


def test_router_error_lines_keep_the_code_and_empty_fields() -> None:
    h12 = (
        f'{STAMP} heroku[router]: at=error code=H12 desc="Request timeout" method=GET path="/" '
        'host=a.herokuapp.com request_id=abc fwd="1.2.3.4" dyno=web.2 connect=0ms service=30000ms '
        "status=503 bytes=0 protocol=https"
    )
    parsed = parse_line(h12)
    assert isinstance(parsed, RouterRequest)
    assert (parsed.code, parsed.dyno, parsed.service_ms, parsed.status) == ("H12", "web.2", 30000.0, 503)
    h11 = (
        f'{STAMP} heroku[router]: at=error code=H11 desc="Backlog too deep" method=GET path="/" '
        'host=a request_id=abc fwd="1.2.3.4" dyno= connect= service= status=503 bytes= protocol=http'
    )
    parsed = parse_line(h11)
    assert isinstance(parsed, RouterRequest)
    assert (parsed.code, parsed.dyno, parsed.connect_ms, parsed.service_ms, parsed.bytes) == (
        "H11",
        None,
        None,
        None,
        None,
    )


def test_sock_prefix_and_quoted_spaces() -> None:
    line = (
        f'{STAMP} heroku[router]: sock=client at=warning code=H27 desc="Client Request Interrupted" '
        'method=POST path="/a b" host=x request_id=r fwd="1.1.1.1" dyno=web.1 connect=0ms service=5ms '
        "status=499 bytes=0 protocol=http"
    )
    parsed = parse_line(line)
    assert isinstance(parsed, RouterRequest)
    assert (parsed.code, parsed.path, parsed.status) == ("H27", "/a b", 499)


def test_runtime_metrics_as_the_emulator_writes_them() -> None:
    sample = MetricsSample(load_avg=(0.5, 0.25, 0.1), rss_mb=123.4, swap_mb=0.0, pgpgin=1, pgpgout=2)
    load_line, memory_line = (
        format_line("heroku", "web.2", m) for m in format_metrics("web.2", "heroku.x.y", sample, 512.0)
    )
    load, memory = parse_line(load_line), parse_line(memory_line)
    assert isinstance(load, MetricSample) and isinstance(memory, MetricSample)
    assert (load.dyno, load.load_avg_1m, load.memory_rss_mb) == ("web.2", 0.5, None)
    assert (memory.memory_rss_mb, memory.memory_quota_mb, memory.memory_swap_mb) == (123.4, 512.0, 0.0)


def test_heroku_documented_metrics_line() -> None:
    line = (
        f"{STAMP} heroku[web.1]: source=web.1 dyno=heroku.2808254.d97d0ea7 sample#memory_total=21.00MB "
        "sample#memory_rss=21.22MB sample#memory_cache=0.00MB sample#memory_swap=0.00MB "
        "sample#memory_pgpgin=348836pages sample#memory_pgpgout=343403pages"
    )
    parsed = parse_line(line)
    assert isinstance(parsed, MetricSample)
    assert (parsed.memory_rss_mb, parsed.memory_quota_mb, parsed.memory_total_mb) == (21.22, None, 21.0)


@pytest.mark.parametrize(
    ("message", "kind", "field", "value"),
    [
        ("State changed from up to crashed", EventKind.CRASH, "previous", "up"),
        ("State changed from starting to up", EventKind.STATE, "state", "up"),
        ("Process exited with status 137", EventKind.EXIT, "status", 137),
        ("Error R14 (Memory quota exceeded)", EventKind.R14, "detail", "Error R14 (Memory quota exceeded)"),
        ("Error R15 (Memory quota vastly exceeded)", EventKind.R15, "dyno", "web.3"),
        ("Error R10 (Boot timeout) -> Web process failed to bind", EventKind.R10, "dyno", "web.3"),
        ("Error R99 (Platform error)", EventKind.ERROR, "dyno", "web.3"),
        ("Error L10 (output buffer overflow): 500 messages dropped", EventKind.L10, "dyno", "web.3"),
        ("Process running mem=1028M(200.9%)", EventKind.MEMORY, "memory_percent", 200.9),
    ],
)
def test_dyno_manager_lines(message: str, kind: EventKind, field: str, value: object) -> None:
    parsed = parse_line(f"{STAMP} heroku[web.3]: {message}")
    assert isinstance(parsed, DynoEvent)
    assert parsed.kind is kind and getattr(parsed, field) == value


def test_app_output_and_other_platform_lines_are_other() -> None:
    assert parse_line(f"{STAMP} app[web.1]: GET / 200") == Other("app")
    assert parse_line(f"{STAMP} heroku[web.1]: Starting process with command `x`") == Other("heroku")


@pytest.mark.parametrize(
    ("line", "platform"),
    [
        ("garbage without structure", False),
        ("", False),
        ("yesterday heroku[router]: at=info method=GET", True),
        (f"{STAMP} heroku[router]: at=info desc=nothing", True),
        (f'{STAMP} heroku[router]: at=info method=GET path="/" service=fast status=200', True),
        (f'{STAMP} heroku[router]: at=info method=GET path="/" status=ok', True),
        (f"{STAMP} heroku[web.1]: source=web.1 sample#load_avg_1m=high", True),
        (f"{STAMP} app[web.1]\x00\x01", False),
    ],
)
def test_odd_lines_never_raise(line: str, platform: bool) -> None:
    parsed = parse_line(line)
    assert isinstance(parsed, Odd) and parsed.why
    assert parsed.platform is platform


def test_records_round_trip_through_json() -> None:
    records = [
        RouterRequest(
            ts=TS, method="GET", path="/", dyno=None, connect_ms=None, service_ms=None, status=503, bytes=None
        ),
        MetricSample(ts=TS, dyno="web.1", load_avg_1m=1.5),
        DynoEvent(ts=TS, dyno="web.1", kind=EventKind.CRASH, state="crashed", previous="up"),
    ]
    for record in records:
        data = record_to_json(record)
        assert "None" not in str(data.values())
        assert record_from_json(data) == record
    assert record_to_json(records[2])["event"] == "crash"
    assert record_from_json({"kind": "nope"}) is None
    assert record_from_json({"kind": "router", "ts": 1.0}) is None
