"""server.jsonl / server.json / requests.csv: written bounded, counted, read back."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from harness.results.server import (
    SERVER_JSON,
    SERVER_JSONL,
    ClientRequest,
    ServerLogWriter,
    read_client_requests,
    read_server_log,
    write_client_requests,
)
from harness.serverlog import EventKind

STAMP = "2026-01-02T03:04:05.000000+00:00"


def router(n: int, service: int = 20, code: str = "") -> str:
    coded = f'at=error code={code} desc="x" ' if code else "at=info "
    return (
        f'{STAMP} heroku[router]: {coded}method=GET path="/p/{n}" host=h request_id=id-{n:020d} '
        f'fwd="127.0.0.1" dyno=web.{n % 2 + 1} connect=0ms service={service}ms status=200 bytes=5 '
        "protocol=http"
    )


def test_lines_are_parsed_counted_and_read_back(tmp_path: Path) -> None:
    with ServerLogWriter(tmp_path) as writer:
        writer.feed_many([router(1), router(2, code="H12", service=5000)])
        writer.feed(f"{STAMP} heroku[web.1]: source=web.1 dyno=heroku.a.b sample#load_avg_1m=0.70")
        writer.feed(f"{STAMP} heroku[web.1]: State changed from up to crashed")
        writer.feed(f"{STAMP} app[web.1]: DATABASE_URL=postgres://secret@db")
        writer.feed(f"{STAMP} heroku[web.1]: Starting process with command `x`")
        writer.feed("this is not a log line SECRET=hunter2")
        writer.feed(f"{STAMP} heroku[router]: at=info method=GET status=200")
    log = read_server_log(tmp_path)
    assert log is not None
    status = log.status
    assert (status.lines, status.router, status.metrics, status.dyno_events) == (8, 2, 1, 1)
    assert (status.app_lines, status.other, status.odd, status.dropped) == (1, 1, 2, 0)
    assert status.ended_ts is not None
    assert [r.code for r in log.router] == [None, "H12"]
    assert log.router[1].service_ms == 5000.0
    assert log.metrics[0].load_avg_1m == 0.7
    assert log.events[0].kind is EventKind.CRASH
    # Only platform lines are quoted; app output and unknown lines never reach the run directory.
    examples = status.odd_examples
    assert examples[0].line is None and "not a Heroku log line" in examples[0].why
    assert examples[1].line is not None and "heroku[router]" in examples[1].line
    stored = (tmp_path / SERVER_JSONL).read_text() + (tmp_path / SERVER_JSON).read_text()
    assert "secret" not in stored.lower() and "hunter2" not in stored


def test_router_records_stop_at_the_size_limit_but_metrics_go_on(tmp_path: Path) -> None:
    with ServerLogWriter(tmp_path, max_bytes=2_000) as writer:
        for n in range(100):
            writer.feed(router(n))
        writer.feed(f"{STAMP} heroku[web.1]: source=web.1 sample#memory_rss=10.00MB")
    log = read_server_log(tmp_path)
    assert log is not None
    assert 0 < len(log.router) < 100
    assert log.status.dropped == 100 - len(log.router)
    assert log.status.dropped_from_ts is not None
    assert len(log.metrics) == 1
    assert (tmp_path / SERVER_JSONL).stat().st_size <= 2_000 + 200


def test_status_is_on_disk_while_streaming_and_a_cut_line_is_skipped(tmp_path: Path) -> None:
    now = [1000.0]
    writer = ServerLogWriter(tmp_path, flush_s=1.0, clock=lambda: now[0])
    writer.feed(router(1))
    now[0] += 2
    writer.feed(router(2))
    on_disk = json.loads((tmp_path / SERVER_JSON).read_text())
    assert on_disk["router"] == 2 and on_disk["ended_ts"] is None
    writer.note_gap(1001.0, 1002.5)
    writer.note_error("log session refused: 403 forbidden")
    writer.close()
    writer.close()
    with open(tmp_path / SERVER_JSONL, "a") as f:
        f.write('{"kind":"router","ts":1')  # killed mid-write
    log = read_server_log(tmp_path)
    assert log is not None
    assert len(log.router) == 2 and log.unreadable == 1
    assert log.status.reconnects == 1 and log.status.gaps[0].end_ts == 1002.5
    assert log.status.error == "log session refused: 403 forbidden"


def test_no_stream_reads_as_none(tmp_path: Path) -> None:
    assert read_server_log(tmp_path) is None
    assert read_client_requests(tmp_path) == []


def test_client_requests_round_trip(tmp_path: Path) -> None:
    rows = [
        ClientRequest(
            ts=1.5, request_id="a" * 32, method="GET", name="/p/[id]", response_time_ms=12.3, status=200
        ),
        ClientRequest(
            ts=2.0, request_id="b" * 32, method="POST", name="/x", response_time_ms=5.0, status=None
        ),
    ]
    assert write_client_requests(tmp_path, rows[:1]) == 1
    assert write_client_requests(tmp_path, rows[1:]) == 1
    with open(tmp_path / "requests.csv", "a") as f:
        f.write("not,a,row\n")
    assert read_client_requests(tmp_path) == rows


def test_only_steps_that_judge_capacity_can_be_the_diagnosed_one(tmp_path: Path) -> None:
    """A recovery after the overload, a warm-up, or a step the search ignored and re-ran (a lagging
    generator) breaks for reasons other than the app's capacity: it is never the focus."""
    from harness.server_capture import step_spans
    from tests.unit.server_synthetic import synthetic_run

    run = synthetic_run(tmp_path / "reports")
    steps_csv = run.path / "steps.csv"
    with steps_csv.open(newline="") as f:
        rows = list(csv.DictReader(f))
    probes = [r for r in rows if r["kind"] == "probe"]
    probes[0]["ok"], probes[0]["note"] = "False", "ignored: generator lagging (scheduling lag p99 31 ms)"
    for row in rows:
        if row["kind"] == "recovery":
            row["ok"] = "False"
    with steps_csv.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    spans = step_spans(type(run).open(run.path))
    assert {s.ok for s in spans if s.kind == "recovery"} == {None}
    first_probe = next(s for s in spans if s.kind == "probe")
    assert first_probe.ok is None
    assert any(s.ok is False for s in spans if s.kind in ("probe", "bisect"))
