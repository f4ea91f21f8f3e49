"""The log stream against the emulator: router lines with our request ids, a real drop and reconnect."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from harness.emulator import EmulatorProcess
from harness.platform.auth import ApiToken
from harness.platform.heroku import HerokuClient
from harness.platform.logsession import LogStream, StreamOptions
from harness.results.server import ServerLogWriter, read_server_log
from harness.serverlog import MetricSample, RouterRequest, parse_line
from tests.integration.helpers import plain_http
from tests.integration.tcp_proxy import CuttableProxy

APP = "harness-demo"
WAIT_S = 30.0


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Lines:
    """Collects streamed lines (the stream's thread appends, the test reads)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.gaps: list[tuple[float, float]] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def add(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)

    def router(self) -> list[RouterRequest]:
        with self._lock:
            parsed = [parse_line(line) for line in self.lines]
        return [p for p in parsed if isinstance(p, RouterRequest)]


def request_ids(url: str, n: int) -> list[str]:
    """`n` GETs of the app, each with its own X-Request-Id; the ids sent."""
    sent = []
    with httpx.Client(timeout=10) as http:
        url = plain_http(url)
        for _ in range(n):
            rid = str(uuid.uuid4())
            assert http.get(url, headers={"X-Request-Id": rid}).status_code == 200
            sent.append(rid)
    return sent


@pytest.fixture
def client(emulator: EmulatorProcess) -> Iterator[HerokuClient]:
    with HerokuClient(ApiToken(emulator.token), emulator.api_url) as api:
        yield api


def test_stream_delivers_router_lines_and_metrics(emulator: EmulatorProcess, client: HerokuClient) -> None:
    seen = Lines()
    with LogStream(client, APP, seen.add, on_error=seen.errors.append) as stream:
        assert stream.wait_connected(WAIT_S), seen.errors
        sent = request_ids(emulator.web_url(APP), 5)
        wait_for("our 5 router lines", lambda: {r.request_id for r in seen.router()} >= set(sent))
        wait_for(
            "a runtime-metrics sample",
            lambda: any(isinstance(parse_line(line), MetricSample) for line in list(seen.lines)),
        )
    ours = [r for r in seen.router() if r.request_id in sent]
    assert len(ours) == 5  # each line once
    assert all(r.status == 200 and r.dyno == "web.1" and r.service_ms is not None for r in ours)
    assert stream.sessions == 1 and stream.reconnects == 0 and not seen.errors


def test_a_dropped_stream_reconnects_and_loses_no_line(emulator: EmulatorProcess, tmp_path: Path) -> None:
    api_port = int(emulator.api_url.rsplit(":", 1)[1])
    with CuttableProxy(api_port) as proxy:
        # The logplex URL is built from the API's origin, so it comes through the proxy too.
        client = HerokuClient(ApiToken(emulator.token), f"http://127.0.0.1:{proxy.port}")
        writer = ServerLogWriter(tmp_path)
        options = StreamOptions(backoff_s=0.05)
        stream = LogStream(client, APP, writer.feed, on_gap=writer.note_gap, options=options)
        with client, stream:
            assert stream.wait_connected(WAIT_S)
            before = request_ids(emulator.web_url(APP), 3)
            wait_for("the first lines", lambda: writer.status.router >= 3)
            assert proxy.cut() > 0
            during = request_ids(emulator.web_url(APP), 3)  # sent while the stream is (maybe) down
            wait_for("a reconnect", lambda: stream.reconnects >= 1)
            after = request_ids(emulator.web_url(APP), 3)
            wanted = set(before + during + after)
            wait_for("every line", lambda: _ids(tmp_path, writer) >= wanted)
        writer.close()
    log = read_server_log(tmp_path)
    assert log is not None
    ours = [r.request_id for r in log.router if r.request_id in wanted]
    assert sorted(ours) == sorted(wanted)  # nothing lost, nothing twice (backlog de-duplicated)
    assert log.status.reconnects >= 1 and log.status.gaps[0].end_ts >= log.status.gaps[0].start_ts
    assert stream.sessions >= 2


def _ids(path: Path, writer: ServerLogWriter) -> set[str | None]:
    writer.flush()
    log = read_server_log(path)
    return {r.request_id for r in log.router} if log else set()


def test_unknown_app_is_reported_and_bounded(emulator: EmulatorProcess, client: HerokuClient) -> None:
    errors: list[str] = []
    options = StreamOptions(backoff_s=0.01, max_backoff_s=0.02, max_failures=3)
    stream = LogStream(client, "no-such-app", lambda line: None, on_error=errors.append, options=options)
    with stream:
        wait_for("the stream to give up", lambda: stream.failed)
    assert len(errors) == 3 and "could not be opened" in errors[0]
    assert emulator.token not in " ".join(errors)


def test_a_malformed_line_is_counted_and_the_stream_goes_on(
    emulator: EmulatorProcess, client: HerokuClient, tmp_path: Path
) -> None:
    writer = ServerLogWriter(tmp_path)
    with LogStream(client, APP, writer.feed) as stream:
        assert stream.wait_connected(WAIT_S)
        logged = emulator.log_line(APP, 'at=info method=GET path="/" service=fast status=200')
        metrics = emulator.log_line(APP, "sample#load_avg_1m=lots", dyno="web.1")
        sent = request_ids(emulator.web_url(APP), 3)
        wait_for("the lines after the odd ones", lambda: _ids(tmp_path, writer) >= set(sent))
    writer.close()
    log = read_server_log(tmp_path)
    assert log is not None and log.status.odd == 2
    assert [e.line for e in log.status.odd_examples] == [logged, metrics]
    assert "unreadable service=" in log.status.odd_examples[0].why
