"""The report in a real browser: headless Chromium over the DevTools protocol.

Checks what a reader's browser would do with the file: no console errors, no
request other than the file itself (so none can fail), no horizontal scrolling
on a phone-sized screen. Screenshots go to the `artifacts_dir` fixture's folder
($HARNESS_TEST_ARTIFACTS, which .ci/run sets: report.png at desktop width,
report-phone.png at 390 px, report.pdf) for people to look at.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.capacity.verdict import judge_run
from harness.report import render_report
from harness.results import RunStatus, RunStore
from tests.unit.results_synthetic import (
    CPU_WARNING,
    AppModel,
    synthetic_load,
    synthetic_meta,
    synthetic_stress,
)

websocket = pytest.importorskip("websocket", reason="websocket-client (the dev extra) talks to Chromium")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; .ci/run installs it)"
)


class DevTools:
    """A minimal DevTools protocol client: commands with ids, events collected while waiting."""

    def __init__(self, url: str) -> None:
        self.socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
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
            except websocket.WebSocketTimeoutException:
                return

    def of(self, *methods: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("method") in methods]


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full report (load, stress with a CPU warning and errors) rendered from a run directory."""
    app = AppModel()
    run = RunStore(tmp_path_factory.mktemp("reports")).create(
        "harness-demo", synthetic_meta(cpu_warnings=[CPU_WARNING])
    )
    run.add_scenario(synthetic_load(app), {"name": "expected-load", "kind": "load"})
    run.add_scenario(synthetic_stress(app, cpu_warning=True))
    run.finish(RunStatus.COMPLETE, judge=judge_run, test_duration_s=900.0)
    return render_report(run.path).html


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


def test_the_report_loads_without_errors_or_requests_and_is_screenshotted(
    chromium: DevTools, report_file: Path, artifacts_dir: Path
) -> None:
    url = report_file.resolve().as_uri()
    session = open_page(chromium, url, width=1200)
    errors = [
        e for e in chromium.of("Runtime.consoleAPICalled") if e["params"]["type"] in {"error", "assert"}
    ]
    errors += chromium.of("Runtime.exceptionThrown")
    errors += [e for e in chromium.of("Log.entryAdded") if e["params"]["entry"]["level"] == "error"]
    assert errors == []
    assert chromium.of("Network.loadingFailed") == []
    requested = {e["params"]["request"]["url"] for e in chromium.of("Network.requestWillBeSent")}
    assert requested <= {url}
    charts = chromium.send(
        "Runtime.evaluate",
        session,
        expression="document.querySelectorAll('svg.chart').length",
        returnByValue=True,
    )
    assert charts["result"]["value"] == 6
    screenshot(chromium, session, 1200, artifacts_dir / "report.png")
    assert (artifacts_dir / "report.png").stat().st_size > 10_000


def test_the_report_prints(chromium: DevTools, report_file: Path, artifacts_dir: Path) -> None:
    session = open_page(chromium, report_file.resolve().as_uri(), width=1200)
    pdf = base64.b64decode(chromium.send("Page.printToPDF", session, printBackground=True)["data"])
    assert pdf.startswith(b"%PDF")
    (artifacts_dir / "report.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages >= 3  # the whole report, on A4/Letter pages


def test_on_a_phone_the_page_does_not_scroll_sideways(
    chromium: DevTools, report_file: Path, artifacts_dir: Path
) -> None:
    session = open_page(chromium, report_file.resolve().as_uri(), width=390)
    overflow = chromium.send(
        "Runtime.evaluate",
        session,
        expression="document.documentElement.scrollWidth - document.documentElement.clientWidth",
        returnByValue=True,
    )
    assert overflow["result"]["value"] <= 0
    screenshot(chromium, session, 390, artifacts_dir / "report-phone.png")
