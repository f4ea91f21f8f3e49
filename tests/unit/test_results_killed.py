"""A run killed mid-scenario keeps every second measured so far and says where it stopped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.results import RunDir, RunStatus, RunStore
from tests.unit.results_synthetic import AppModel, synthetic_load, synthetic_meta


def test_seconds_appended_while_running_survive_a_kill_and_are_replaced_at_the_end(tmp_path: Path) -> None:
    run = RunStore(tmp_path / "reports").create("harness-demo", synthetic_meta())
    result = synthetic_load(AppModel(), hold_s=10, window_s=5)
    first, rest = result.timeseries[:4], result.timeseries[4:]
    run.event("phase", phase="load", detail="load scenario expected-load")
    run.append_timeseries(first)
    run.append_timeseries(rest[:3])
    dead = int(
        subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
        ).stdout
    )
    data = json.loads((run.path / "run.json").read_text())
    data["writer"]["pid"] = dead  # as if `kill -9` had stopped the writer here
    killed = tmp_path / "killed"
    killed.mkdir()
    for name in ("timeseries.csv", "events.jsonl", "steps.csv", "endpoints.csv", "errors.csv"):
        (killed / name).write_bytes((run.path / name).read_bytes())
    (killed / "run.json").write_text(json.dumps(data))
    read = RunDir.open(killed)
    assert read.record.status == RunStatus.INCOMPLETE
    assert "during the load phase (load scenario expected-load)" in (read.record.failure or "")
    assert len(read.timeseries) == 7  # every second handed over before the kill
    run.add_scenario(result)  # the scenario ends normally: its final series replaces the partial one
    assert len(RunDir.open(run.path).timeseries) == len(result.timeseries)
