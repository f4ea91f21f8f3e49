"""How often `harness ab` gets the answer right: power on a real 15 % regression, false alarms on none.

Starts an emulator it owns, makes three releases of the demo app —
v1 (as shipped), v2 (`DEMO_SLOWDOWN` 1/0.85: 15 % less capacity, a config-var
release) and v3 (a rollback to v1: the same code and config under another
number) — and runs `harness ab` (the real CLI, as a subprocess) with a short
stress scenario on `/search`:

- `--regressions` times v1 against v2: each must say *regressed*, with the measured
  change of the breaking point close to −15 %;
- `--same` times v1 against v3: at most one in ten may say regressed or improved.

For each comparison it prints the gate outcome, the breaking-point change with its
interval and the wall time. Too slow for CI (minutes per comparison); the CI suite
runs a 2 + 2 version (`tests/integration/test_ab.py`).

    .venv/bin/python bench/compare_power.py [--repeats 6] [--regressions 1] [--same 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from harness.emulator import EmulatorProcess

REPO = Path(__file__).resolve().parents[1]
ACCEPT = "application/vnd.heroku+json; version=3"
PROFILE = """
version: 1
target:
  app: harness-demo
  formations: [{{quantity: 1, size: Standard-1X}}]
locustfiles:
  search: {{path: {repo}/locustfiles/search_only.py}}
expected_peak: {{rps: 40}}
reports_dir: {reports}
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


def _api(emulator: EmulatorProcess, method: str, path: str, body: object = None) -> object:
    headers = {"Accept": ACCEPT, "Authorization": f"Bearer {emulator.token}"}
    response = httpx.request(method, f"{emulator.api_url}{path}", headers=headers, json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def _releases(emulator: EmulatorProcess) -> None:
    _api(emulator, "PATCH", "/apps/harness-demo/config-vars", {"DEMO_SLOWDOWN": f"{1 / 0.85:.4f}"})  # v2
    releases = _api(emulator, "GET", "/apps/harness-demo/releases")
    assert isinstance(releases, list)
    v1 = next(r for r in releases if r["version"] == 1)
    _api(emulator, "POST", "/apps/harness-demo/releases", {"release": v1["id"]})  # v3 = v1's slug and config


def _ab(emulator: EmulatorProcess, work: Path, base: str, new: str, repeats: int) -> dict[str, object]:
    reports = work / f"reports-{base}-{new}-{time.time_ns()}"
    scenarios = work / "scenarios.yaml"
    scenarios.write_text(PROFILE.format(repo=REPO, reports=reports))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEROKU_", "HARNESS_"))}
    env.update(HEROKU_API_URL=emulator.api_url, HEROKU_API_KEY=emulator.token, HARNESS_STATE_DIR=str(work))
    started = time.monotonic()
    args = [sys.executable, "-m", "harness", "ab", "--base", base, "--new", new, "--repeat", str(repeats)]
    done = subprocess.run(
        [*args, "--scenarios", str(scenarios), "-q"], env=env, capture_output=True, text=True, timeout=3600
    )
    wall = time.monotonic() - started
    series = sorted({json.loads((d / "run.json").read_text())["series_id"] for d in reports.iterdir()})
    compare = subprocess.run(
        [sys.executable, "-m", "harness", "compare", series[0], series[1], "--reports-dir", str(reports),
         "--format", "json"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    data = json.loads(compare.stdout)
    point = next(m for m in data["metrics"] if m["metric"] == "breaking point")
    return {"exit": done.returncode, "outcome": point["outcome"], "change": point["change"], "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=6, help="repeats a side")
    parser.add_argument("--regressions", type=int, default=1, help="v1 vs v2 comparisons")
    parser.add_argument("--same", type=int, default=10, help="v1 vs v3 (same code) comparisons")
    args = parser.parse_args()
    emulator = EmulatorProcess.start()
    try:
        _releases(emulator)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            rows = [("v1", "v2", "15 % regression")] * args.regressions + [
                ("v1", "v3", "same code")
            ] * args.same
            wrong = 0
            for base, new, kind in rows:
                r = _ab(emulator, work, base, new, args.repeats)
                c = r["change"] or {}
                shown = (
                    f"{c['ratio'] * 100:+.1f} % ({c['low'] * 100:+.1f} … {c['high'] * 100:+.1f} %)"
                    if c
                    else "n/a"
                )
                print(f"{kind:>16}: {base} vs {new}  {r['outcome']:<22} breaking point {shown}  "
                      f"{r['wall_s']:.0f} s  exit {r['exit']}", flush=True)  # fmt: skip
                if kind == "same code" and r["outcome"] in {"regressed", "improved"}:
                    wrong += 1
            if args.same:
                print(f"same-code comparisons called different: {wrong} of {args.same}")
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
