"""Does one multi-formation `harness run` find the demo app's known scaling, and recommend the right count?

Runs the real CLI (`python -m harness run`, embedded emulator) over 1, 2, 3, 4
Standard-1X dynos on `/search` made slow (`DEMO_SERVICE_MS_SEARCH`, default
100 ms: 4 slots / 0.1 s = 40 req/s per dyno, so the generator stays far from
its own limit on a shared machine), then reads the run's summary.json and
prints per formation the measured capacity, its interval, the efficiency
X(n) / (n · X(1)) and the ground truth, then the recommendation next to what
the linear model from one dyno predicts (ceil(peak × headroom / X(1))).

- Without `--shared-cap` the app is linear by construction: every efficiency
  should be within 15 % of 100 % and the recommendation the linear model's.
- With `--shared-cap R` (`DEMO_SHARED_CAP_RPS`: all dynos together serve at most
  R req/s) the report must say where scaling stops, and recommend no more dynos.

The stress SLO's p95 limit (`--p95-ms`, default 1,000 ms: ten service times)
puts the breaking point at saturation, where the truth column (raw capacity)
applies. A limit close to the service time breaks earlier, and more so with
more dynos: the router picks a dyno at random, so each dyno's queue rises at
a lower utilisation than one dyno fed evenly. Minutes per run.

    .venv/bin/python bench/planning_truth.py [--dynos 1,2,3,4] [--peak 60] [--p95-ms 1000]
        [--shared-cap 60] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SLOTS = 4  # a Standard-1X dyno of the demo app: 2 × WEB_CONCURRENCY
HEADROOM = 1.25
PROFILE = """
version: 1
target:
  app: harness-demo
  platform: auto
  formations: {formations}
  emulator:
    config_vars: {config_vars}
load_generator:
  request_timeout_s: 10
locustfiles:
  search: {{path: {repo}/locustfiles/search_only.py}}
expected_peak: {{rps: {peak}}}
required_headroom: {headroom}
reports_dir: {reports}
scenarios:
  - name: breaking-point
    kind: stress
    locustfile: search
    start: {{rps: 10}}
    max: {{rps: 400}}
    growth: 2.0
    tolerance: 0.1
    ramp_s: 1
    step_hold_s: 3
    confirm_hold_s: 4
    slo: {{p95_ms: {p95_ms}, error_ratio: 0.01}}
    recovery: {{level: {{rps: 10}}, window_s: 1, limit_s: 6}}
"""


def _profile(work: Path, args: argparse.Namespace, dynos: list[int]) -> Path:
    variables = {"DEMO_SERVICE_MS_SEARCH": str(args.service_ms)}
    if args.shared_cap:
        variables |= {
            "DEMO_SHARED_CAP_RPS": str(args.shared_cap),
            "DEMO_SHARED_LOCK": str(work / "shared.lock"),
        }
    path = work / "scenarios.yaml"
    path.write_text(
        PROFILE.format(
            formations=json.dumps([{"quantity": n, "size": "Standard-1X"} for n in dynos]),
            config_vars=json.dumps(variables),
            repo=REPO,
            peak=args.peak,
            headroom=HEADROOM,
            p95_ms=args.p95_ms,
            reports=work / "reports",
        )
    )
    return path


def _run(work: Path, scenarios: Path) -> tuple[int, float, Path]:
    """`harness run` as a user runs it; its output is shown when it wrote no report."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEROKU_", "HARNESS_"))}
    env.update(HARNESS_STATE_DIR=str(work / "state"), NETRC=str(work / "no-netrc"))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--scenarios", str(scenarios), "-q"],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    [run_dir] = [p for p in (work / "reports").iterdir() if p.is_dir()]
    if not (run_dir / "summary.json").exists():
        sys.exit(
            f"harness run wrote no report (exit {done.returncode}):\n{done.stdout}\n{done.stderr[-4000:]}"
        )
    return done.returncode, time.monotonic() - started, run_dir


def _truth(n: int, args: argparse.Namespace) -> float:
    raw = n * SLOTS / (args.service_ms / 1000)
    return min(raw, args.shared_cap) if args.shared_cap else raw


def _print(summary: dict[str, Any], args: argparse.Namespace) -> bool:
    plan = summary["capacity_plan"]
    [size] = plan["sizes"]
    rows = size["formations"]
    print(f"{'dynos':>5}  {'measured req/s':>14}  {'interval':>13}  {'efficiency':>10}  {'raw truth':>9}")
    for row in rows:
        p, e = row["point"], row["efficiency"]
        eff = f"{e['efficiency'] * 100:.0f} %" if e else "n/a"
        interval = f"{p['low_rps']:.1f}–{p['high_rps']:.1f}"
        print(
            f"{p['dynos']:>5}  {p['rps']:>14.1f}  {interval:>13}  {eff:>10}  {_truth(p['dynos'], args):>9.0f}"
        )
    for sentence in [*([size["stop"]["sentence"]] if size["stop"] else []), size["fit_note"]]:
        print(f"  {sentence}")
    if size["fit"]:
        fit = size["fit"]
        print(f"  USL fit: gamma {fit['gamma']:.1f}, alpha {fit['alpha']:.3f}, beta {fit['beta']:.4f}")
    advice = plan["recommendation"]
    print(f"recommendation: {advice['sentence']}")
    one = next(r["point"] for r in rows if r["point"]["dynos"] == 1)
    linear = math.ceil(args.peak * HEADROOM / one["rps"])
    chosen = advice["choice"]["dynos"] if advice["choice"] else None
    print(f"linear model from one dyno predicts {linear} dynos; recommended {chosen}")
    efficiencies = [r["efficiency"]["efficiency"] for r in rows if r["efficiency"]]
    if args.shared_cap:
        stop = size["stop"]
        top = max((c["dynos"] for c in advice["candidates"]), default=0)
        print(f"scaling stops at {stop['useful_dynos'] if stop else '?'} dynos; candidates up to {top}")
        return bool(stop and stop["stopped"] and top <= stop["useful_dynos"])
    within = all(abs(e - 1) <= 0.15 for e in efficiencies)
    print(f"every efficiency within 15 % of ideal: {within}")
    return within and chosen == linear


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dynos", default="1,2,3,4", help="the formations, comma-separated counts")
    parser.add_argument("--peak", type=float, default=60.0, help="expected peak, req/s (headroom 1.25)")
    parser.add_argument("--shared-cap", type=float, default=None, help="DEMO_SHARED_CAP_RPS")
    parser.add_argument("--service-ms", type=float, default=100.0, help="DEMO_SERVICE_MS_SEARCH")
    parser.add_argument("--p95-ms", type=float, default=1000.0, help="the stress SLO's p95 limit, ms")
    parser.add_argument("--keep", type=Path, default=None, help="keep the run directory under DIR")
    args = parser.parse_args()
    dynos = [int(n) for n in args.dynos.split(",")]
    with tempfile.TemporaryDirectory(dir=args.keep) as tmp:
        work = Path(tmp)
        before = os.getloadavg()
        code, wall, run_dir = _run(work, _profile(work, args, dynos))
        after = os.getloadavg()
        summary = json.loads((run_dir / "summary.json").read_text())
        print(f"harness run over {dynos} dynos: exit {code}, wall {wall:.0f} s")
        print(f"load average before {before[0]:.2f} {before[1]:.2f}, after {after[0]:.2f} {after[1]:.2f}")
        cost = summary["test_cost"]
        print(f"test cost: {cost['dyno_hours']:.3f} dyno-hours, ${cost['usd']:.4f}")
        ok = _print(summary, args)
        if args.keep:
            kept = args.keep / run_dir.name
            os.replace(run_dir, kept)
            print(f"run directory kept: {kept}")
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
