"""Headless Chromium over the DevTools protocol, for the tests that open reports in a real browser.

`chromium` (a module-scoped fixture, registered in conftest.py) starts one
browser per test module on a free DevTools port and stops it by PID;
`open_page` loads a URL in a new tab with console, log and network events on,
so a test can assert that a report loads without errors and requests nothing.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "CHROMIUM",
    "DevTools",
    "chromium",
    "evaluate",
    "needs_chromium",
    "open_page",
    "page_errors",
    "screenshot",
]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; .ci/run installs it)"
)


class DevTools:
    """A minimal DevTools protocol client: commands with ids, events collected while waiting."""

    def __init__(self, url: str) -> None:
        self.websocket = pytest.importorskip("websocket", reason="websocket-client (the dev extra) is needed")
        self.socket = self.websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.events: list[dict[str, Any]] = []
        self.next_id = 0

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        self.socket.settimeout(60)  # drain() and wait_for() leave shorter timeouts behind
        while True:
            reply = json.loads(self.socket.recv())
            if reply.get("id") == self.next_id:
                assert "error" not in reply, reply
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def wait_for(self, method: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(e.get("method") == method for e in self.events):
            assert time.monotonic() < deadline, f"no {method} within {timeout_s} s"
            self.socket.settimeout(max(0.1, deadline - time.monotonic()))
            self.events.append(json.loads(self.socket.recv()))

    def drain(self, seconds: float) -> None:
        """Collect whatever arrives in the next `seconds` (late console messages, requests)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.socket.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                self.events.append(json.loads(self.socket.recv()))
            except self.websocket.WebSocketTimeoutException:
                return

    def of(self, *methods: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("method") in methods]


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    log = open(profile.parent / "chromium.log", "wb")  # noqa: SIM115 - closed in finally
    assert CHROMIUM is not None
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=log,
        stderr=log,
    )
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (active.exists() and len(active.read_text().splitlines()) >= 2):
            assert process.poll() is None, f"chromium exited with {process.returncode}"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port within 60 s"
            time.sleep(0.1)
        port, path = active.read_text().splitlines()[:2]
        client = DevTools(f"ws://127.0.0.1:{port}{path}")
        yield client
        client.socket.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, 9)
            process.wait(timeout=10)
        log.close()


def open_page(client: DevTools, url: str, width: int) -> str:
    """A new tab with console, log and network events on, sized `width`, loaded from `url`."""
    target = client.send("Target.createTarget", url="about:blank")["targetId"]
    session = client.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Runtime", "Log", "Network", "Page"):
        client.send(f"{domain}.enable", session)
    client.send(
        "Emulation.setDeviceMetricsOverride",
        session,
        width=width,
        height=900,
        deviceScaleFactor=1,
        mobile=width < 600,
    )
    client.events.clear()
    client.send("Page.navigate", session, url=url)
    client.wait_for("Page.loadEventFired")
    client.drain(1.0)
    return str(session)


def screenshot(client: DevTools, session: str, width: int, path: Path) -> None:
    height = int(client.send("Page.getLayoutMetrics", session)["cssContentSize"]["height"])
    client.send(
        "Emulation.setDeviceMetricsOverride",
        session,
        width=width,
        height=min(height, 16000),
        deviceScaleFactor=1,
        mobile=width < 600,
    )
    data = client.send("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)["data"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(data))


def evaluate(client: DevTools, session: str, expression: str) -> Any:
    """The value of a JavaScript expression in the page."""
    return client.send("Runtime.evaluate", session, expression=expression, returnByValue=True)["result"].get(
        "value"
    )


def page_errors(client: DevTools) -> list[dict[str, Any]]:
    """Console errors, uncaught exceptions and error log entries seen since the page was opened."""
    errors = [e for e in client.of("Runtime.consoleAPICalled") if e["params"]["type"] in {"error", "assert"}]
    errors += client.of("Runtime.exceptionThrown")
    errors += [e for e in client.of("Log.entryAdded") if e["params"]["entry"]["level"] == "error"]
    return errors
