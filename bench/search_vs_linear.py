"""The adaptive breaking-point search against plain linear step ramps, side by side on one target.

Starts the emulator, scales the demo app (default: 2 × Standard-1X with
/search at 34.8 ms, i.e. 229.9 req/s of true capacity, the target of issue
5's reference figures), reads the truth from `GET /api/capacity`, and then, in
one run against the same router:

1. the adaptive search (`harness/capacity/search.py`, arrival-rate mode,
   tolerance 5%), through the same `run_scenario` path as `harness stress`;
2. a linear ramp at the same resolution and the same step length: +tolerance ×
   truth req/s per step, each step judged with the same SLO limits, stopping at
   the first broken step (Locust-style step load, the way it is usually done);
3. the issue's two reference ramps: +12 req/s every 5 s and +50 req/s every 5 s.

For each: load time (ramps included; for the search also its recovery and
cool-down windows) and the estimate's error against the truth. The estimate is
the successful throughput of the last good step (for the search: its confirmed
level). Goal (issue 12): the search needs at most 0.4 of the load time of the
same-resolution ramp, with the same or better accuracy, within ±5%.

    .venv/bin/python bench/search_vs_linear.py [--dynos 2] [--search-ms 34.8] [--tolerance 0.05]
        [--growth 3] [--repeat 2] [--quick] [--steps]

Measured on the 2-core dev machine (shared with other work), `--repeat 2`, means:
adaptive (tolerance 5%, growth 3) 31.3 s of load, |error| 3.9%; linear +11.5 req/s
every 3.5 s 68.3 s, 4.0%; the issue's +12 req/s every 5 s 95.0 s, 3.5%; +50 req/s
every 5 s 27.5 s, 14.5%. Ratio adaptive / same-resolution linear: 0.46. With growth 2
the search needed 39.5 s (ratio 0.59, |error| 4.5%). Every method lands 2-6% under
the model's 229.9 req/s: the emulated app itself sustains about 221 req/s there.
"""

from __future__ import annotations

# Locust (imported below through harness.load) monkey-patches with gevent; patch first (STYLE §8).
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Generator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import httpx  # noqa: E402

from harness.capacity.slo import SloLimits, judge, slo_limits, success_rps  # noqa: E402
from harness.cli.scenario_output import render_result  # noqa: E402
from harness.config import Config, StressScenario, parse_config  # noqa: E402
from harness.emulator import EmulatorProcess  # noqa: E402
from harness.engine import run_scenario, session_options  # noqa: E402
from harness.load.locustfile import load_locustfile, select_user_classes  # noqa: E402
from harness.load.runner import LoadSession, run_steps  # noqa: E402
from harness.measurements import LevelMode, StepKind, StepPlan, StepWindow  # noqa: E402

DEMO = "harness-demo"
ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = """
version: 1
target: {{app: harness-demo, platform: emulator, formations: [{{quantity: 1}}]}}
locustfiles:
  search: {{path: {locustfile}}}
expected_peak: {{rps: {start}}}
scenarios:
  - name: search-stress
    kind: stress
    locustfile: search
    start: {{rps: {start}}}
    max: {{rps: 5000}}
    growth: {growth}
    tolerance: {tolerance}
    ramp_s: {ramp}
    step_hold_s: {hold}
    confirm_hold_s: {confirm}
    saturation_tolerance: 0.05
    slo: {{error_ratio: 0.01, p95_ms: 1000}}
    recovery: {{level: {{rps: {start}}}, window_s: 1, limit_s: 20}}
"""


@dataclass(frozen=True)
class Outcome:
    """One method's answer and its cost."""

    name: str
    load_time_s: float
    estimate_rps: float | None
    steps: int

    def error(self, truth: float) -> float | None:
        """Relative error of the estimate against the truth."""
        return None if self.estimate_rps is None else self.estimate_rps / truth - 1


def linear_ramp(
    *, start: float, step: float, step_s: float, ramp_s: float, limits: SloLimits, max_level: float
) -> Generator[StepPlan, StepWindow, Outcome]:
    """Locust-style step load: +`step` req/s every `step_s` s until a step breaks (or max_level)."""
    level, index, load_s = start, 0, 0.0
    last_good: StepWindow | None = None
    while level <= max_level:
        plan = StepPlan(
            index=index,
            kind=StepKind.PROBE,
            level=round(level, 2),
            mode=LevelMode.ARRIVAL_RATE,
            ramp_s=ramp_s,
            hold_s=step_s - ramp_s,
            label=f"linear {index + 1}",
        )
        window = yield plan
        load_s += ramp_s + window.duration_s
        if not judge(window, limits).ok:
            break
        last_good, level, index = window, level + step, index + 1
    estimate = success_rps(last_good) if last_good is not None else None
    return Outcome(name="", load_time_s=load_s, estimate_rps=estimate, steps=index + 1)


def scale_demo(emulator: EmulatorProcess, dynos: int, search_ms: float | None) -> str:
    headers = {
        "Authorization": f"Bearer {emulator.token}",
        "Accept": "application/vnd.heroku+json; version=3",
    }
    with httpx.Client(base_url=emulator.api_url, headers=headers, timeout=30) as api:
        if search_ms is not None:
            body = {"DEMO_SERVICE_MS_SEARCH": f"{search_ms:g}"}
            api.patch(f"/apps/{DEMO}/config-vars", json=body).raise_for_status()
        api.patch(f"/apps/{DEMO}/formation/web", json={"quantity": dynos}).raise_for_status()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            dynos_now = [d for d in api.get(f"/apps/{DEMO}/dynos").json() if d["type"] == "web"]
            if len(dynos_now) == dynos and all(d["state"] == "up" for d in dynos_now):
                break
            time.sleep(0.2)
        else:
            raise SystemExit(f"web={dynos} did not come up within 60 s")
    # the router serves plain HTTP on its HTTPS port too: the bench needs no CA
    return emulator.web_url(DEMO).replace("https://", "http://", 1).rstrip("/")


def demo_truth(url: str, dynos: int) -> float:
    for _ in range(50):  # the restarted dynos may still serve the old release for a moment
        capacity = httpx.get(f"{url}/api/capacity", timeout=10).json()
        value = float(capacity["capacity_rps"]["search"]) * dynos
        time.sleep(0.1)
        again = float(httpx.get(f"{url}/api/capacity", timeout=10).json()["capacity_rps"]["search"]) * dynos
        if value == again:
            return value
    raise SystemExit("the demo app's capacity did not settle")


def _config(args: argparse.Namespace, workdir: Path) -> Config:
    text = SCENARIOS.format(
        locustfile=ROOT / "locustfiles" / "search_only.py",
        start=args.start,
        tolerance=args.tolerance,
        growth=args.growth,
        ramp=args.ramp,
        hold=args.hold,
        confirm=args.confirm,
    )
    return parse_config(text, source=workdir / "scenarios.yaml")


def _run_linear(config: Config, url: str, name: str, **ramp: float) -> Outcome:
    scenario = config.scenario("search-stress")
    assert isinstance(scenario, StressScenario)
    spec = config.locustfile_for(scenario)
    classes = select_user_classes(load_locustfile(spec.path), spec.user_classes)
    limits = slo_limits(scenario.slo, saturation_tolerance=scenario.saturation_tolerance)
    limits = limits.model_copy(update={"min_rps": None})
    options = session_options(config, scenario, host=url)
    with LoadSession(classes, options) as session:
        plan = linear_ramp(limits=limits, max_level=scenario.max.value, **ramp)
        outcome = run_steps(session, plan)
    return Outcome(
        name=name, load_time_s=outcome.load_time_s, estimate_rps=outcome.estimate_rps, steps=outcome.steps
    )


def _run_search(config: Config, url: str, *, show_steps: bool) -> Outcome:
    scenario = config.scenario("search-stress")
    result = run_scenario(config, scenario, host=url, quiet=True)
    if show_steps:
        print(render_result(result), flush=True)
    point = result.breaking_point
    assert point is not None
    name = f"adaptive search ({point.status}, tolerance {point.tolerance:.1%})"
    return Outcome(
        name=name, load_time_s=point.load_time_s, estimate_rps=point.sustainable_rps, steps=len(result.steps)
    )


def _print(rounds: list[list[Outcome]], truth: float, dynos: int) -> None:
    where = f"demo app /search, {dynos} × Standard-1X"
    print(f"\ntarget: {where}, true capacity {truth:.1f} req/s (GET /api/capacity)")
    print(f"{'round':>5} {'method':<44} {'load time':>10} {'estimate':>14} {'error':>8} {'steps':>6}")
    for number, outcomes in enumerate(rounds, 1):
        for o in outcomes:
            error = o.error(truth)
            estimate = f"{o.estimate_rps:.1f} req/s" if o.estimate_rps is not None else "–"
            shown = f"{error:+.1%}" if error is not None else "–"
            print(f"{number:>5} {o.name:<44} {o.load_time_s:>8.1f} s {estimate:>14} {shown:>8} {o.steps:>6}")
    print("\nmean over rounds:")
    for column, name in enumerate(o.name for o in rounds[0]):
        runs = [r[column] for r in rounds]
        errors = [abs(e) for e in (o.error(truth) for o in runs) if e is not None]
        time_s = statistics.mean(o.load_time_s for o in runs)
        shown = f"{statistics.mean(errors):.1%}" if errors else "–"
        print(f"  {name:<44} load {time_s:6.1f} s   |error| {shown}")
    search = statistics.mean(r[0].load_time_s for r in rounds)
    same = statistics.mean(r[1].load_time_s for r in rounds)
    print(f"load time, adaptive / same-resolution linear: {search / same:.2f} (goal ≤ 0.40)")
    if len(rounds[0]) > 2:
        issue = statistics.mean(r[2].load_time_s for r in rounds)
        print(f"load time, adaptive / the issue's +12 req/s every 5 s: {search / issue:.2f}")


def _round(config: Config, url: str, truth: float, args: argparse.Namespace) -> list[Outcome]:
    """The search, then each linear ramp, against the same target."""
    print("running the adaptive search ...", flush=True)
    outcomes = [_run_search(config, url, show_steps=args.steps)]
    step_s = args.ramp + args.hold
    ramps = [
        (f"linear +{args.tolerance * truth:.1f} req/s every {step_s:g} s", args.tolerance * truth, step_s)
    ]
    if not args.quick:
        ramps += [
            ("linear +12 req/s every 5 s (issue)", 12.0, 5.0),
            ("linear +50 req/s every 5 s (issue)", 50.0, 5.0),
        ]
    for name, step, seconds in ramps:
        gevent.sleep(3.0)  # let the previous run's queues drain
        print(f"running {name} ...", flush=True)
        outcomes.append(
            _run_linear(config, url, name, start=args.start, step=step, step_s=seconds, ramp_s=args.ramp)
        )
    gevent.sleep(3.0)
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dynos", type=int, default=2)
    parser.add_argument("--search-ms", type=float, default=34.8, help="demo /search service time (ms)")
    parser.add_argument("--start", type=float, default=25.0, help="start level, req/s (both methods)")
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--growth", type=float, default=3.0, help="the search's probe growth factor")
    parser.add_argument("--ramp", type=float, default=0.5, help="s before each measured window")
    parser.add_argument("--hold", type=float, default=3.0, help="s measured per step")
    parser.add_argument("--confirm", type=float, default=6.0, help="s of the search's confirmation hold")
    parser.add_argument("--quick", action="store_true", help="skip the issue's two reference ramps")
    parser.add_argument("--steps", action="store_true", help="print every step of the search")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (the machine is noisy: compare means)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        config = _config(args, Path(tmp))
        emulator = EmulatorProcess.start(boot_timeout_s=30.0, shutdown_grace_s=2.0)
        try:
            url = scale_demo(emulator, args.dynos, args.search_ms)
            truth = demo_truth(url, args.dynos)
            print(f"truth {truth:.1f} req/s at {url}", flush=True)
            rounds = [_round(config, url, truth, args) for _ in range(max(1, args.repeat))]
        finally:
            emulator.stop()
    _print(rounds, truth, args.dynos)


if __name__ == "__main__":
    main()
