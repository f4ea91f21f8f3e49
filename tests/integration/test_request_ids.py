"""Harness's users send an X-Request-Id on every request and tape what they saw of it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from locust import FastHttpUser, HttpUser, task
from locust.env import Environment
from locust.event import Events

from harness.load.locustfile import prepare_user_classes
from harness.load.request_ids import REQUEST_ID_KEY, RequestTape


class _Echo(BaseHTTPRequestHandler):
    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        _Echo.seen.append(self.headers.get("X-Request-Id"))
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Echo.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Fast(FastHttpUser):
    @task
    def get(self) -> None:
        self.client.get("/")


class Plain(HttpUser):
    @task
    def get(self) -> None:
        self.client.get("/")


class OwnId(FastHttpUser):
    @task
    def get(self) -> None:
        self.client.get("/", headers={"X-Request-Id": "mine-0123456789abcdefghij"})


@pytest.mark.parametrize("user_class", [Fast, Plain, OwnId])
def test_every_request_carries_an_id_and_is_taped(echo: str, user_class: type[FastHttpUser]) -> None:
    (prepared,) = prepare_user_classes([type(user_class.__name__, (user_class,), {"host": echo})], 5.0)
    env = Environment(user_classes=[prepared], events=Events(), host=echo)
    tape = RequestTape(clock=lambda: 1000.5)
    tape.attach(env.events)
    try:
        user = prepared(env)
        for _ in range(3):
            user.get()
        user.on_stop()
    finally:
        tape.detach()
    records = tape.drain()
    sent = _Echo.seen
    assert len(sent) == 3 and all(sent)
    if user_class is OwnId:
        assert set(sent) == {"mine-0123456789abcdefghij"}
    else:
        assert len(set(sent)) == 3 and all(len(s or "") == 36 for s in sent)  # a fresh uuid each
    assert [r[1] for r in records] == sent
    assert all(
        r[0] == 1000.5 and r[2] == "GET" and r[3] == "/" and r[4] >= 0 and r[5] == 200 for r in records
    )


def test_a_worker_ships_its_tape_to_the_master_and_the_rate_is_bounded() -> None:
    worker_events, master_events = Events(), Events()
    worker = RequestTape(clock=lambda: 5.0, per_second=2)
    master = RequestTape(clock=lambda: 5.0)
    worker.attach(worker_events, worker=True)
    master.attach(master_events, master=True)
    try:
        for n in range(3):
            worker_events.request.fire(
                request_type="GET",
                name="/x",
                response_time=10.0 + n,
                response_length=1,
                response=None,
                context={REQUEST_ID_KEY: f"id-{n}"},
                exception=None,
            )
        worker_events.request.fire(
            request_type="GET", name="/x", response_time=1.0, response_length=1, context={}, exception=None
        )
        data: dict[str, object] = {}
        worker_events.report_to_master.fire(client_id="w1", data=data)
        master_events.worker_report.fire(client_id="w1", data=data)
    finally:
        worker.detach()
        master.detach()
    assert worker.drain() == []  # a worker keeps nothing itself
    assert [(r[1], r[4]) for r in master.drain()] == [("id-0", 10.0), ("id-1", 11.0)]
    assert worker.skipped == 1
