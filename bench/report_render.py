"""What a big report costs: a synthetic 1-hour run at 1-second resolution with 20 endpoints.

Builds the run with the test suite's synthetic app model (a 30-minute load
hold in 60 s windows, then a 30-minute breaking-point search in 180 s steps),
writes it through `RunStore` as the pipeline would, then renders the report
from the run directory alone and prints:

- rows: timeseries.csv rows (seconds × (endpoints + total)) and steps;
- write: `add_scenario` time for both scenarios (s);
- render: `render_report` wall time, best and median of `--repeat` renders, and its CPU time (s), aim < 3 s;
- size: report.html size (MB), aim < 2 MB, and the largest chart (kB).

    .venv/bin/python bench/report_render.py [--endpoints 20] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the synthetic model lives with the tests

from harness.capacity.verdict import judge_run
from harness.measurements import LevelMode
from harness.report import render_report
from harness.results import LevelInfo, RunStatus, RunStore
from tests.unit.results_synthetic import (
    CPU_WARNING,
    START_TS,
    AppModel,
    synthetic_load,
    synthetic_meta,
    synthetic_stress,
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="write the run under DIR and keep it")
    args = parser.parse_args()

    started = time.perf_counter()
    app = AppModel.with_endpoints(args.endpoints, capacity_rps=800.0)
    load = synthetic_load(app, offered_rps=300.0, hold_s=1800.0, window_s=60.0)
    stress = synthetic_stress(
        app, step_hold_s=180.0, start_ts=START_TS + 1810, start_rps=225.0, bisections=4, recovery_rps=300.0
    )
    built_s = time.perf_counter() - started

    root = args.keep or Path(tempfile.mkdtemp(prefix="report-bench-"))
    meta = synthetic_meta(cpu_warnings=[CPU_WARNING]).model_copy(
        update={"expected_peak": LevelInfo(mode=LevelMode.ARRIVAL_RATE, value=300.0)}
    )
    run = RunStore(root).create("harness-demo", meta)
    started = time.perf_counter()
    run.add_scenario(load)
    run.add_scenario(stress)
    write_s = time.perf_counter() - started
    run.finish(RunStatus.COMPLETE, judge=judge_run, test_duration_s=3600.0)

    timings, cpu = [], []
    for _ in range(args.repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        rendered = render_report(run.path)
        timings.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)

    html = rendered.html.read_text()
    charts = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    seconds = len({p.ts for p in load.timeseries}) + len({p.ts for p in stress.timeseries})
    print(
        f"run: {seconds} s of 1-second points, {args.endpoints} endpoints, {len(stress.steps)} stress steps"
    )
    print(f"rows: timeseries.csv {len(load.timeseries) + len(stress.timeseries):,}, steps.csv "
          f"{len(load.steps) + len(stress.steps)}")  # fmt: skip
    print(f"build (synthetic model): {built_s:.2f} s; write (add_scenario ×2): {write_s:.2f} s")
    print(
        f"render: best {min(timings):.2f} s, median {statistics.median(timings):.2f} s wall "
        f"over {args.repeat}; "
        f"CPU best {min(cpu):.2f} s (wall time grows when other processes share the cores)"
    )
    print(f"report.html: {len(html.encode()) / 1e6:.2f} MB, {len(charts)} charts, largest chart "
          f"{max(len(c) for c in charts) / 1e3:.0f} kB")  # fmt: skip
    print(f"run directory: {run.path} ({sum(p.stat().st_size for p in run.path.iterdir()) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
