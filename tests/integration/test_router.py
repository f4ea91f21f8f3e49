"""The emulator's router over loopback: random spread, forwarded headers, Heroku H codes, log lines."""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.integration.helpers import DEMO_DIR, ECHO_APP
from tests.integration.runtime_driver import RuntimeProcess

ROUTER_OK = re.compile(
    r"heroku\[router\]: at=info method=GET path=\"/search\?q=a\" host=127\.0\.0\.1:\d+ "
    r"request_id=[0-9a-f-]{36} fwd=\"127\.0\.0\.1\" dyno=web\.[123] connect=\d+ms service=\d+ms "
    r"status=200 bytes=\d+ protocol=http$"
)


def _error_line(code: str, desc: str, *, at: str = "error", dyno: str = "") -> re.Pattern[str]:
    fields = (
        "dyno= connect= service= status=503 bytes="
        if not dyno
        else f"dyno={dyno} connect=\\d+ms service=\\d+ms status=503 bytes=0"
    )
    return re.compile(
        rf"heroku\[router\]: at={at} code={code} desc=\"{desc}\" method=GET path=\"[^\"]*\" "
        rf"host=127\.0\.0\.1:\d+ request_id=\S+ fwd=\"127\.0\.0\.1\" {fields} protocol=http$"
    )


def _router_lines(runtime: RuntimeProcess) -> list[str]:
    return runtime.call("logs", source="heroku", dyno="router")


def _get_many(url: str, n: int, concurrency: int, timeout_s: float = 20.0) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=concurrency)
    with httpx.Client(timeout=timeout_s, limits=limits) as client, ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(lambda _: client.get(url), range(n)))


@pytest.fixture
def demo() -> Iterator[RuntimeProcess]:
    runtime = RuntimeProcess(DEMO_DIR, shutdown_grace_s=1.0)
    try:
        yield runtime
    finally:
        runtime.close()


@pytest.fixture(params=["asyncio", "uvloop"])
def demo_any_loop(request: pytest.FixtureRequest) -> Iterator[RuntimeProcess]:
    """The demo app under both event loops the emulator may run on."""
    runtime = RuntimeProcess(DEMO_DIR, loop=request.param, shutdown_grace_s=1.0)
    try:
        yield runtime
    finally:
        runtime.close()


@pytest.fixture
def echo(tmp_path: Path) -> Iterator[RuntimeProcess]:
    (tmp_path / "app.py").write_text(textwrap.dedent(ECHO_APP))
    (tmp_path / "Procfile").write_text("web: python app.py\n")
    runtime = RuntimeProcess(tmp_path)
    runtime.call("formation", type="web", quantity=1)
    runtime.call("wait", type="web", count=1)
    try:
        yield runtime
    finally:
        runtime.close()


def test_requests_spread_fairly_over_up_dynos(demo: RuntimeProcess) -> None:
    demo.call("formation", type="web", quantity=3, env={"DEMO_SERVICE_MS_SEARCH": "1", "DEMO_SLOTS": "16"})
    demo.call("wait", type="web", count=3)
    responses = _get_many(demo.web_url + "search?q=a", 300, 16)
    assert {r.status_code for r in responses} == {200}
    shares = Counter(r.headers["X-Dyno"] for r in responses)
    assert set(shares) == {"web.1", "web.2", "web.3"}
    assert all(0.20 <= count / 300 <= 0.47 for count in shares.values()), shares
    lines = [line for line in _router_lines(demo) if "/search" in line]
    assert len(lines) == 300
    assert all(ROUTER_OK.search(line) for line in lines), lines[0]


def test_forwarded_headers_and_request_id(echo: RuntimeProcess) -> None:
    kept = "abcdefghij-0123456789+/="
    seen = httpx.get(echo.web_url, headers={"X-Request-Id": kept, "X-Forwarded-For": "10.1.2.3"}).json()
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["x-request-id"] == kept
    assert headers["x-forwarded-for"] == "10.1.2.3, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-port"] == echo.web_url.rsplit(":", 1)[1].strip("/")
    assert headers["x-request-start"].isdigit() and len(headers["x-request-start"]) == 13
    assert "heroku-router" in headers["via"]
    replaced = httpx.get(echo.web_url, headers={"X-Request-Id": "too-short"}).json()["headers"]
    new_id = {k.lower(): v for k, v in replaced.items()}["x-request-id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", new_id)
    assert f"request_id={kept} " in _router_lines(echo)[0]


def test_h12_request_timeout(demo: RuntimeProcess) -> None:
    demo.call("settings", router_timeout_s=1.0)
    demo.call("formation", type="web", quantity=1, env={"DEMO_SERVICE_MS_SEARCH": "3000"})
    demo.call("wait", type="web", count=1)
    response = httpx.get(demo.web_url + "search?q=a", timeout=10)
    assert response.status_code == 503
    assert "Application error" in response.text
    assert _error_line("H12", "Request timeout", dyno="web.1").search(_router_lines(demo)[-1])


def test_h14_no_web_dynos(demo: RuntimeProcess) -> None:
    demo.call("formation", type="web", quantity=0)
    assert httpx.get(demo.web_url, timeout=10).status_code == 503
    assert _error_line("H14", "No web processes running").search(_router_lines(demo)[-1])


def test_h80_maintenance(demo: RuntimeProcess) -> None:
    demo.call("formation", type="web", quantity=1)
    demo.call("wait", type="web", count=1)
    demo.call("maintenance", on=True)
    assert httpx.get(demo.web_url, timeout=10).status_code == 503
    assert _error_line("H80", "Maintenance mode", at="info").search(_router_lines(demo)[-1])
    demo.call("maintenance", on=False)
    assert httpx.get(demo.web_url, timeout=10).status_code == 200


def test_h11_backlog_too_deep(demo: RuntimeProcess) -> None:
    demo.call("settings", active_per_dyno=1, backlog_per_dyno=2)
    demo.call("formation", type="web", quantity=1, env={"DEMO_SERVICE_MS_SEARCH": "400"})
    demo.call("wait", type="web", count=1)
    statuses = Counter(r.status_code for r in _get_many(demo.web_url + "search?q=a", 10, 10))
    # One request active and two in the backlog are served; the other seven arrive while both are full.
    assert statuses[200] >= 3 and statuses[503] >= 1, statuses
    h11 = [line for line in _router_lines(demo) if "code=H11" in line]
    assert len(h11) == statuses[503]
    assert _error_line("H11", "Backlog too deep").search(h11[0])


def test_h10_crashed_and_not_restarted(demo_any_loop: RuntimeProcess) -> None:
    demo = demo_any_loop
    demo.call("settings", restart_crashed=False)
    demo.call("formation", type="web", quantity=1)
    demo.call("wait", type="web", count=1)
    demo.call("crash", dyno="web.1")
    demo.call("wait", type="web", count=1, state="crashed")
    assert httpx.get(demo.web_url, timeout=10).status_code == 503
    assert _error_line("H10", "App crashed").search(_router_lines(demo)[-1])


def test_h20_when_no_dyno_comes_up(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: sleep 30\n")
    runtime = RuntimeProcess(tmp_path, router_boot_wait_s=0.5)
    try:
        runtime.call("formation", type="web", quantity=1)
        assert httpx.get(runtime.web_url, timeout=10).status_code == 503
        assert _error_line("H20", "App boot timeout").search(_router_lines(runtime)[-1])
    finally:
        runtime.close()


def test_request_waits_for_a_booting_dyno(demo_any_loop: RuntimeProcess) -> None:
    demo = demo_any_loop
    demo.call("formation", type="web", quantity=1)
    response = httpx.get(demo.web_url + "health", timeout=20)  # sent while web.1 is still starting
    assert response.status_code == 200
    assert response.headers["X-Dyno"] == "web.1"


def test_h13_connection_closed_without_response(echo: RuntimeProcess) -> None:
    response = httpx.get(echo.web_url + "close", timeout=10)
    assert response.status_code == 503
    assert _error_line("H13", "Connection closed without response", dyno="web.1").search(
        _router_lines(echo)[-1]
    )


def test_post_body_and_status_pass_through(demo: RuntimeProcess) -> None:
    demo.call("formation", type="web", quantity=1)
    demo.call("wait", type="web", count=1)
    response = httpx.post(demo.web_url + "checkout", json={"items": [1, 2]}, timeout=10)
    assert response.status_code == 201
    assert response.json()["status"] == "confirmed"
    assert httpx.get(demo.web_url + "nope", timeout=10).status_code == 404


@pytest.mark.parametrize("framing", ["chunked", "close-delimited"])
def test_bodies_without_length_are_streamed_through(echo: RuntimeProcess, framing: str) -> None:
    expected = b"".join(f"part {i}\n".encode() * 1000 for i in range(3))
    with httpx.Client(timeout=10) as client:
        response = client.get(echo.web_url + ("stream/chunked" if framing == "chunked" else "stream/plain"))
        assert response.status_code == 200
        assert response.content == expected
        assert client.get(echo.web_url).status_code == 200  # the connection (or a new one) still works
    line = [line for line in _router_lines(echo) if "/stream" in line][-1]
    assert f"status=200 bytes={len(expected)} protocol=http" in line


def test_interim_responses_are_skipped(echo: RuntimeProcess) -> None:
    response = httpx.get(echo.web_url + "interim", timeout=10)
    assert response.status_code == 200
    assert response.json()["env"]["DYNO"] == "web.1"


def test_head_request_gets_headers_only(demo: RuntimeProcess) -> None:
    demo.call("formation", type="web", quantity=1)
    demo.call("wait", type="web", count=1)
    with httpx.Client(timeout=10) as client:
        head = client.head(demo.web_url + "health")
        assert head.status_code == 200 and head.content == b""
        assert client.get(demo.web_url + "health").json()["status"] == "ok"  # same keep-alive connection


def test_h27_client_gave_up(demo: RuntimeProcess) -> None:
    demo.call("formation", type="web", quantity=1, env={"DEMO_SERVICE_MS_SEARCH": "800"})
    demo.call("wait", type="web", count=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(demo.web_url + "search?q=a", timeout=httpx.Timeout(10, read=0.2))
    line = demo.call("wait_log", text="code=H27")
    assert 'sock=client at=warning code=H27 desc="Client Request Interrupted"' in line
    assert "dyno=web.1" in line and "status=499" in line


REFUSING_APP = r'''
"""web.1 accepts the boot probe, then stops listening (connections refused); other dynos serve."""
import os, runpy, socket, time

if os.environ["DYNO"] == "web.1":
    listener = socket.create_server(("127.0.0.1", int(os.environ["PORT"])))
    probe, _ = listener.accept()
    probe.close()
    listener.close()
    print("web.1 stopped listening", flush=True)
    time.sleep(600)
else:
    runpy.run_path("echo.py", run_name="__main__")
'''


def test_refused_connections_retry_another_dyno_then_h21(tmp_path: Path) -> None:
    (tmp_path / "echo.py").write_text(textwrap.dedent(ECHO_APP))
    (tmp_path / "app.py").write_text(textwrap.dedent(REFUSING_APP))
    (tmp_path / "Procfile").write_text("web: python app.py\n")
    runtime = RuntimeProcess(tmp_path)
    try:
        runtime.call("formation", type="web", quantity=2)
        runtime.call("wait", type="web", count=2)
        runtime.call("wait_log", text="web.1 stopped listening")
        served_by = {httpx.get(runtime.web_url, timeout=10).json()["env"]["DYNO"] for _ in range(12)}
        assert served_by == {"web.2"}
        assert not [line for line in _router_lines(runtime) if "code=H21" in line]

        runtime.call("formation", type="web", quantity=1)
        runtime.call("wait", type="web", count=1)
        assert httpx.get(runtime.web_url, timeout=10).status_code == 503
        assert _error_line("H21", "Backend connection refused", dyno="web.1").search(
            _router_lines(runtime)[-1]
        )
    finally:
        runtime.close()
