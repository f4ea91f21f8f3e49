"""Runtime metrics are each dyno's own (its process tree's CPU and memory), with R14/R15 past the quota."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import httpx
import pytest

from harness.serverlog import DynoEvent, EventKind, MetricSample, parse_line
from tests.integration.helpers import DEMO_DIR
from tests.integration.runtime_driver import RuntimeProcess

# A web process that binds $PORT, then either burns CPU or holds MEMORY_MB of touched memory.
WEB = textwrap.dedent(
    """\
    import os, socket, time
    s = socket.socket(); s.bind(("127.0.0.1", int(os.environ["PORT"]))); s.listen()
    hold = b"x" * (int(os.environ.get("MEMORY_MB", "0")) * 1_000_000)
    while True:
        if os.environ.get("BURN"):
            sum(range(10_000))
        else:
            time.sleep(0.05)
    """
)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "web.py").write_text(WEB)
    (tmp_path / "Procfile").write_text("web: exec python web.py\n")
    return tmp_path


def samples(runtime: RuntimeProcess, dyno: str = "web.1") -> list[MetricSample]:
    parsed = [parse_line(line) for line in runtime.call("logs", source="heroku", dyno=dyno)]
    return [p for p in parsed if isinstance(p, MetricSample)]


def loads(runtime: RuntimeProcess, at_least: int, timeout_s: float = 30.0) -> list[float]:
    """The dyno's load_avg_1m samples, once there are `at_least` of them."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [s.load_avg_1m for s in samples(runtime) if s.load_avg_1m is not None]
        if len(found) >= at_least:
            return found
        time.sleep(0.1)
    raise AssertionError(f"fewer than {at_least} load samples in {timeout_s} s")


def test_load_average_is_the_dynos_own(app: Path) -> None:
    idle = RuntimeProcess(app, metrics_interval_s=0.5)
    busy = RuntimeProcess(app, metrics_interval_s=0.5)
    try:
        idle.call("formation", type="web", quantity=1)
        busy.call("formation", type="web", quantity=1, env={"BURN": "1"})
        idle.call("wait", type="web", count=1)
        busy.call("wait", type="web", count=1)
        burning = loads(busy, 12)
        resting = loads(idle, 12)
    finally:
        busy.close()
        idle.close()
    # A busy loop keeps (up to) one core busy: its 1-minute average climbs from 0 towards 1, as the
    # kernel's would inside the dyno (6 s in: at most 1 - e^-0.1 = 0.095); the idle dyno next to it
    # stays at 0 whatever the machine's load.
    assert burning == sorted(burning) and 0.01 < burning[-1] < 0.11
    assert max(resting) <= 0.01


def test_r14_over_the_quota_and_r15_kills_at_twice_it(app: Path) -> None:
    runtime = RuntimeProcess(app, metrics_interval_s=0.3, restart_crashed=False)
    try:
        runtime.call("formation", type="web", quantity=1, env={"MEMORY_MB": "560"})
        runtime.call("wait", type="web", count=1)
        runtime.call("wait_log", text="Error R14 (Memory quota exceeded)", timeout_s=20)
        memory = [s for s in samples(runtime) if s.memory_rss_mb is not None]
        assert memory[-1].memory_rss_mb is not None and memory[-1].memory_rss_mb > 512
        assert memory[-1].memory_quota_mb == 512.0
        runtime.call("restart", version=2, env={"MEMORY_MB": "1100"})
        runtime.call("wait_log", text="Error R15 (Memory quota vastly exceeded)", timeout_s=30)
        runtime.call("wait", type="web", count=1, state="crashed", timeout_s=20)
        events = [parse_line(line) for line in runtime.call("logs", source="heroku", dyno="web.1")]
    finally:
        runtime.close()
    kinds = [e.kind for e in events if isinstance(e, DynoEvent)]
    assert EventKind.R14 in kinds and EventKind.MEMORY in kinds
    after_r15 = kinds[kinds.index(EventKind.R15) :]
    assert EventKind.EXIT in after_r15 and EventKind.CRASH in after_r15


def test_leaking_demo_app_grows_per_request_into_r14() -> None:
    runtime = RuntimeProcess(DEMO_DIR, metrics_interval_s=0.3, restart_crashed=False)
    try:
        runtime.call("formation", type="web", quantity=1, env={"DEMO_LEAK_KB": "4096"})
        runtime.call("wait", type="web", count=1)
        before = _rss(runtime)
        with httpx.Client(base_url=runtime.web_url, timeout=10) as http:
            for _ in range(30):
                assert http.get("/").status_code == 200
            time.sleep(1.0)
            middle = _rss(runtime)
            for _ in range(120):  # 150 x 4 MB: past the 512 MB quota
                assert http.get("/").status_code == 200
        runtime.call("wait_log", text="Error R14 (Memory quota exceeded)", timeout_s=20)
        after = _rss(runtime)
    finally:
        runtime.close()
    assert before + 100 < middle < after and after > 512


def _rss(runtime: RuntimeProcess) -> float:
    """The latest memory_rss sample of web.1 taken after now (waits for the next one)."""
    seen = len(samples(runtime))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        memory = [s for s in samples(runtime)[seen:] if s.memory_rss_mb is not None]
        if memory and memory[-1].memory_rss_mb is not None:
            return memory[-1].memory_rss_mb
        time.sleep(0.05)
    raise AssertionError("no memory sample")
