"""The emulator's dyno manager with real processes: scaling, crashes, R10, restarts, logs, cleanup.

The runtime runs in a driver process (tests/integration/runtime_driver.py), not
under this process's gevent patch; requests go to its router over loopback.
"""

from __future__ import annotations

import os
import re
import signal
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.integration.helpers import DEMO_DIR, ECHO_APP
from tests.integration.runtime_driver import RuntimeProcess

LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 (app|heroku)\[(web\.\d+|worker\.\d+|router)\]: \S"
)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(pids: list[int], timeout_s: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and [p for p in pids if _alive(p)]:
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


@pytest.fixture
def echo_app(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(textwrap.dedent(ECHO_APP))
    (tmp_path / "Procfile").write_text(
        "# a tiny app that is not the demo app\n"
        "web: python app.py\n"
        "worker: python -c 'import time; time.sleep(600)'\n"
    )
    return tmp_path


@pytest.fixture
def demo() -> Iterator[RuntimeProcess]:
    runtime = RuntimeProcess(DEMO_DIR, shutdown_grace_s=2.0)
    try:
        yield runtime
    finally:
        runtime.close()


def test_scale_web_one_three_zero_leaves_no_processes(demo: RuntimeProcess) -> None:
    demo.call("formation", type="web", quantity=1)
    first = demo.call("wait", type="web", count=1)
    demo.call("formation", type="web", quantity=3)
    three = demo.call("wait", type="web", count=3)
    assert [d["name"] for d in three] == ["web.1", "web.2", "web.3"]
    assert three[0]["pid"] == first[0]["pid"], "scaling up must not restart running dynos"
    assert len({d["port"] for d in three}) == 3
    pids = [d["pid"] for d in three]
    assert all(_alive(p) for p in pids)

    demo.call("formation", type="web", quantity=0)
    assert demo.call("wait", type="web", count=0) == []
    assert _wait_gone(pids) == []
    logs = demo.call("logs", source="heroku", dyno="web.3")
    assert any("Stopping all processes with SIGTERM" in line for line in logs)
    assert logs[-1].endswith("State changed from up to down")


def test_close_ends_every_process_and_sigkill_of_the_emulator_too(echo_app: Path) -> None:
    runtime = RuntimeProcess(echo_app)
    runtime.call("formation", type="web", quantity=2)
    runtime.call("formation", type="worker", quantity=1)
    pids = [d["pid"] for d in runtime.call("wait", type="web", count=2)]
    pids += [d["pid"] for d in runtime.call("wait", type="worker", count=1)]
    runtime.close()
    assert _wait_gone(pids) == []

    killed = RuntimeProcess(echo_app)
    try:
        killed.call("formation", type="web", quantity=2)
        orphans = [d["pid"] for d in killed.call("wait", type="web", count=2)]
        os.kill(killed.process.pid, signal.SIGKILL)  # the emulator dies without cleaning up
        killed.process.wait()
        assert _wait_gone(orphans) == [], "dynos must die with the emulator (PR_SET_PDEATHSIG)"
    finally:
        killed.closed = True


def test_non_demo_app_runs_as_dynos_with_heroku_environment(echo_app: Path) -> None:
    runtime = RuntimeProcess(echo_app)
    try:
        runtime.call(
            "formation", type="web", quantity=1, size="standard-2x", version=3, env={"GREETING": "hi"}
        )
        runtime.call("formation", type="worker", quantity=1)
        runtime.call("wait", type="web", count=1)
        worker = runtime.call("wait", type="worker", count=1)
        assert worker[0]["port"] is None
        env = httpx.get(runtime.web_url, timeout=10).json()["env"]
        assert env["DYNO"] == "web.1"
        assert env["DYNO_SIZE"] == "Standard-2X"
        assert env["WEB_CONCURRENCY"] == "4"
        assert env["HEROKU_RELEASE_VERSION"] == "v3"
        assert env["GREETING"] == "hi"
        assert env["PORT"] == str(runtime.call("dynos")[0]["port"])
        runtime.call("wait_log", text="app[web.1]: echo app booting")
    finally:
        runtime.close()


def test_size_change_restarts_the_type_on_the_new_size(echo_app: Path) -> None:
    runtime = RuntimeProcess(echo_app)
    try:
        runtime.call("formation", type="web", quantity=1, size="Standard-1X")
        before = runtime.call("wait", type="web", count=1)[0]
        runtime.call("formation", type="web", quantity=1, size="Performance-M")
        runtime.call("wait_log", text="Restarting")
        after = runtime.call("wait", type="web", count=1)[0]
        assert after["size"] == "Performance-M"
        assert after["pid"] != before["pid"]
        env = httpx.get(runtime.web_url, timeout=10).json()["env"]
        assert (env["DYNO_SIZE"], env["WEB_CONCURRENCY"]) == ("Performance-M", "5")
        assert _wait_gone([before["pid"]]) == []
    finally:
        runtime.close()


def test_restart_runs_new_processes_on_the_new_release(demo: RuntimeProcess) -> None:
    demo.call("formation", type="web", quantity=2)
    before = demo.call("wait", type="web", count=2)
    demo.call("restart", version=2, env={"DEMO_SLOWDOWN": "2"}, dyno_name="web.2")
    demo.call("wait_log", text="heroku[web.2]: Restarting")
    after = demo.call("wait", type="web", count=2)
    assert after[0]["pid"] == before[0]["pid"] and after[0]["release"] == 1
    assert after[1]["pid"] != before[1]["pid"] and after[1]["release"] == 2

    demo.call("restart", version=3, env={})
    demo.call("wait_log", text="heroku[web.1]: Restarting")
    final = demo.call("wait", type="web", count=2)
    assert {d["release"] for d in final} == {3}
    response = httpx.get(demo.web_url + "health", timeout=10)
    assert response.headers["X-Release"] == "v3"
    assert _wait_gone([d["pid"] for d in before]) == []


def test_crashed_dyno_is_restarted_and_logged_like_heroku(demo: RuntimeProcess) -> None:
    demo.call("formation", type="web", quantity=1)
    before = demo.call("wait", type="web", count=1)[0]
    demo.call("crash", dyno="web.1")
    demo.call("wait_log", text="heroku[web.1]: State changed from up to crashed")
    after = demo.call("wait", type="web", count=1)[0]
    assert after["pid"] != before["pid"]
    assert after["id"] == before["id"], "a crash restart keeps the dyno"
    lines = demo.call("logs", dyno="web.1")
    messages = [line.split(": ", 1)[1] for line in lines]
    crash_at = messages.index("Process exited with status 137")
    assert messages[crash_at + 1 : crash_at + 4] == [
        "State changed from up to crashed",
        "State changed from crashed to starting",
        "Starting process with command `python -m harness.emulator.demo_app`",
    ]
    assert all(LOG_LINE.match(line) for line in demo.call("logs")), "every line in Heroku's format"


def test_failed_boots_crash_then_recover(demo: RuntimeProcess) -> None:
    demo.call("fail_next_boots", n=1)
    demo.call("formation", type="web", quantity=1)
    demo.call("wait_log", text="heroku[web.1]: Process exited with status 1")
    demo.call("wait", type="web", count=1)
    messages = [line.split(": ", 1)[1] for line in demo.call("logs", dyno="web.1")]
    assert "State changed from starting to crashed" in messages


def test_boot_timeout_is_r10_and_crashed(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: sleep 30\n")
    runtime = RuntimeProcess(tmp_path, boot_timeout_s=1.0, restart_crashed=False)
    try:
        runtime.call("formation", type="web", quantity=1)
        line = runtime.call("wait_log", text="Error R10")
        assert line.endswith(
            "heroku[web.1]: Error R10 (Boot timeout) -> "
            "Web process failed to bind to $PORT within 1 seconds of launch"
        )
        crashed = runtime.call("wait", type="web", count=1, state="crashed")
        assert not _alive(crashed[0]["pid"])
    finally:
        runtime.close()


def test_stubborn_process_gets_r12_then_sigkill(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("worker: trap '' TERM; while true; do sleep 0.1; done\n")
    runtime = RuntimeProcess(tmp_path, shutdown_grace_s=0.5)
    try:
        runtime.call("formation", type="worker", quantity=1)
        pid = runtime.call("wait", type="worker", count=1)[0]["pid"]
        runtime.call("formation", type="worker", quantity=0)
        runtime.call("wait_log", text="Error R12 (Exit timeout)")
        runtime.call("wait_log", text="heroku[worker.1]: State changed from up to down")
        assert _wait_gone([pid]) == []
    finally:
        runtime.close()


def test_runtime_metrics_are_logged_per_dyno(echo_app: Path) -> None:
    runtime = RuntimeProcess(echo_app, metrics_interval_s=0.2)
    try:
        runtime.call("formation", type="web", quantity=1)
        runtime.call("wait", type="web", count=1)
        line = runtime.call("wait_log", text="sample#memory_rss=")
        assert re.search(
            r"heroku\[web\.1\]: source=web\.1 dyno=heroku\.app-id-1\.[0-9a-f-]{36} "
            r"sample#memory_total=[\d.]+MB "
            r"sample#memory_rss=[\d.]+MB .*sample#memory_quota=512\.00MB$",
            line,
        )
        load = runtime.call("wait_log", text="sample#load_avg_1m=")
        assert "sample#load_avg_5m=" in load and "sample#load_avg_15m=" in load
    finally:
        runtime.close()


def test_close_while_dynos_boot_leaves_no_processes(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: sleep 0.3; exec python -m http.server $PORT --bind 127.0.0.1\n")
    runtime = RuntimeProcess(tmp_path)
    runtime.call("formation", type="web", quantity=3)
    runtime.call("wait_log", text="heroku[web.3]: Starting process")
    children = [p.pid for p in psutil.Process(runtime.process.pid).children(recursive=True)]
    assert children, "the dynos' processes exist while they boot"
    runtime.close()
    assert _wait_gone(children) == []
