"""Do bracket repeats agree with full searches, and how much load do they save?

Starts an emulator it owns (the demo app, 1 × Standard-1X) and runs `harness
run --repeat N` twice with the same short stress scenario on `/search`: once
with `repeat_search: full` (every repeat searches from the start level) and
once with `repeat_search: bracket` (repeats 2..N search only around repeat 1's
answer, `capacity/repeat_search.py`). For each it prints the breaking point and
the stress scenario's load time per repeat; then the median load time of
repeats 2..N of bracket over full (the saving), and `harness compare` of the two
series' breaking points (they should not differ: "no significant change" or
"inconclusive", never "regressed"/"improved").

    .venv/bin/python bench/bracket_repeats.py [--repeats 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.emulator import EmulatorProcess

REPO = Path(__file__).resolve().parents[1]
PROFILE = """
version: 1
target:
  app: harness-demo
  formations: [{{quantity: 1, size: Standard-1X}}]
locustfiles:
  search: {{path: {repo}/locustfiles/search_only.py}}
expected_peak: {{rps: 40}}
reports_dir: {reports}
repeat_search: {mode}
scenarios:
  - name: breaking-point
    kind: stress
    locustfile: search
    start: {{rps: 40}}
    max: {{rps: 400}}
    growth: 2.0
    tolerance: 0.05
    ramp_s: 1
    step_hold_s: 3
    confirm_hold_s: 4
    slo: {{p95_ms: 300, error_ratio: 0.01}}
"""


def _series(emulator: EmulatorProcess, work: Path, mode: str, repeats: int) -> tuple[list[dict], str, Path]:
    reports = work / f"reports-{mode}"
    scenarios = work / f"scenarios-{mode}.yaml"
    scenarios.write_text(PROFILE.format(repo=REPO, reports=reports, mode=mode))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEROKU_", "HARNESS_"))}
    env.update(HEROKU_API_URL=emulator.api_url, HEROKU_API_KEY=emulator.token, HARNESS_STATE_DIR=str(work))
    args = [
        sys.executable,
        "-m",
        "harness",
        "run",
        "--repeat",
        str(repeats),
        "--scenarios",
        str(scenarios),
        "-q",
    ]
    subprocess.run(args, env=env, capture_output=True, text=True, timeout=3600, check=False)
    rows = []
    for run_dir in sorted(reports.iterdir()):
        record = json.loads((run_dir / "run.json").read_text())
        stress = next(s for s in record["scenarios"] if s["kind"] == "stress")
        point = record.get("breaking_point") or {}
        rows.append(
            {
                "repeat": record["repeat"],
                "breaking_point": point.get("sustainable_rps"),
                "load_s": point.get("load_time_s") or stress["ended_ts"] - stress["started_ts"],
                "steps": max(0, len((run_dir / "steps.csv").read_text().splitlines()) - 1),
            }
        )
    rows.sort(key=lambda r: r["repeat"])
    return rows, json.loads((next(reports.iterdir()) / "run.json").read_text())["series_id"], reports


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=4, help="repeats per series")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    emulator = EmulatorProcess.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            results = {}
            for mode in ("full", "bracket"):
                started = time.monotonic()
                rows, series, reports = _series(emulator, work, mode, args.repeats)
                results[mode] = (rows, series, reports)
                for r in rows:
                    print(
                        f"{mode:>8} repeat {r['repeat']}: breaking point {r['breaking_point']} req/s, "
                        f"{r['steps']} steps, {r['load_s']:.0f} s of load",
                        flush=True,
                    )
                print(f"{mode:>8}: {time.monotonic() - started:.0f} s in all", flush=True)
            full, bracket = results["full"][0], results["bracket"][0]
            later = statistics.median(b["load_s"] for b in bracket[1:]) / statistics.median(
                f["load_s"] for f in full[1:]
            )
            print(f"repeats 2..{args.repeats}: bracket load time / full load time = {later:.2f} (median)")
            for mode in ("full", "bracket"):
                points = [r["breaking_point"] for r in results[mode][0] if r["breaking_point"]]
                print(
                    f"{mode:>8}: median {statistics.median(points):.1f} req/s, "
                    f"range {min(points)}–{max(points)}"
                )
            both = work / "reports-both"
            both.mkdir()
            for mode in ("full", "bracket"):
                for run_dir in results[mode][2].iterdir():
                    run_dir.rename(both / run_dir.name)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("HEROKU_", "HARNESS_"))}
            compare = subprocess.run(
                [sys.executable, "-m", "harness", "compare", results["full"][1], results["bracket"][1],
                 "--reports-dir", str(both), "--gate", "breaking_point"],
                env=env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            print(compare.stdout.strip())
    finally:
        emulator.stop()
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
