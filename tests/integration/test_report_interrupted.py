"""A run directory whose writer is SIGKILLed mid-run is readable, marked incomplete, and re-renders."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.report import render_report
from harness.results import RunDir, RunStatus, RunStore

ROOT = Path(__file__).resolve().parents[2]
MIN_EVENTS = 40

# The writer: one scenario recorded, then it keeps rewriting run.json, appending events and CSV rows
# as fast as it can, so the kill lands in the middle of some write.
WRITER = textwrap.dedent(
    """
    import sys
    from harness.results import RunStore
    from tests.unit.results_synthetic import AppModel, synthetic_load, synthetic_meta, synthetic_stress

    app = AppModel()
    run = RunStore(sys.argv[1]).create("harness-demo", synthetic_meta())
    run.add_scenario(synthetic_load(app))
    print(run.path, flush=True)
    n = 0
    while True:
        n += 1
        run.event("step_started", n=n)
        run.update(test_duration_s=float(n))
        if n % 5 == 0:
            run.add_scenario(synthetic_stress(app, name=f"stress-{n}"))
    """
)


@pytest.fixture(scope="module")
def killed_writer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Start the writer, let it write for a while, SIGKILL it; yield its run directory."""
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path_factory.mktemp("killed") / "reports")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        run_dir = Path(process.stdout.readline().strip())
        assert run_dir.is_dir(), "the writer did not start"
        events = run_dir / "events.jsonl"
        for _ in range(600):  # wait (≤ 60 s) until it has been writing for a while
            if events.exists() and events.read_text().count("\n") >= MIN_EVENTS:
                break
            time.sleep(0.1)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        yield run_dir
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_a_killed_writer_leaves_a_readable_incomplete_run(killed_writer: Path) -> None:
    run = RunDir.open(killed_writer)
    assert run.record.status == RunStatus.INCOMPLETE
    assert "stopped before finishing" in (run.record.failure or "")
    assert run.record.scenarios[0].name == "expected-load"
    assert len(run.events) >= MIN_EVENTS
    recorded = {s.name for s in run.record.scenarios}
    # Each CSV parses, and every scenario run.json lists has its rows (CSVs are written first).
    for frame in (run.timeseries, run.steps, run.endpoints):
        assert recorded <= set(frame["scenario"])
    assert not run.errors.empty


def test_a_killed_run_re_renders_with_the_incomplete_banner(killed_writer: Path) -> None:
    rendered = render_report(killed_writer)
    html = rendered.html.read_text()
    assert "Incomplete run: the harness process (pid" in html
    assert rendered.summary["status"] == "incomplete" and rendered.summary["passed"] is False
    assert RunStore(killed_writer.parent).history()[0].verdict == "incomplete"
