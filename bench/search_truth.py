"""The breaking-point search against an independent reference sweep, side by side, on each target (issue 12).

For each target, in one run of this script:

1. the **reference**: `bench/open_sweep.py`, a constant-rate client written
   independently of Locust and harness (stdlib asyncio, requests on an
   absolute timeline, latency from the intended send time). A coarse upward
   sweep (+20 % per step) finds the region, then, on a fresh target, a fine
   one (+2.5 % per step) from just below it: the reference is the successful
   throughput of the fine sweep's last good step;
2. the **search**: `harness stress`'s code path (`engine.run_scenario`) with
   the stress scenario's defaults, once per growth value (default 3, then 1.5
   and 2), each on a fresh target.

Both judge the same SLO: p95 from the intended start ≤ `--p95-ms`, errors ≤
1 %, successful throughput ≥ 90 % of the offered rate. A fresh target is a new
process where the bench starts it (the metastable server, python-getting-
started); the emulator's demo app gets a rest instead.

Targets (`--targets`, default all that are available):

- `demo-1`, `demo-2`: the emulator's demo app, /search, at 1 and 2 dynos, through the router;
- `metastable`: `tests/apps/queue_server.py --metastable` (4 slots × 10 ms; once more than 200
  requests wait, i.e. well past the SLO, every request costs 1.6× as long until it has been idle 1 s);
- `pgs`: Heroku's python-getting-started, `/`, run from its Procfile (gunicorn gthread,
  1 worker × 5 threads) with `CI=1`, when a copy is present (`--pgs-dir`, with its
  dependencies installed in `--pgs-venv`, never harness's venv);
- `pgs-emulator`: the same copy deployed unmodified in an emulator of its own (built there,
  cached in `--pgs-home`; config var `CI=1`), one web dyno, through the router (plain HTTP).

    .venv/bin/python bench/search_truth.py [--targets demo-1,metastable] [--growth 3,1.5,2]
        [--pgs-dir /tmp/pgs] [--pgs-venv /tmp/pgs-venv] [--p95-ms 200]

It prints per target the reference, each search's answer, its error against
the reference, the load time of each, and the spread of the growth values.
"""

from __future__ import annotations

# Locust (imported below through harness) monkey-patches with gevent; patch first (STYLE §8).
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import AbstractContextManager, contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from search_vs_linear import scale_demo  # noqa: E402

from harness.config import parse_config  # noqa: E402
from harness.emulator import EmulatorProcess  # noqa: E402
from harness.engine import run_scenario  # noqa: E402
from tests.apps import queue_server  # noqa: E402

SWEEP = ROOT / "bench" / "open_sweep.py"
ROOT_LOCUSTFILE = '''
from locust import FastHttpUser, constant, task


class Root(FastHttpUser):
    """GET / again and again (arrival-rate mode paces it)."""

    wait_time = constant(0.1)

    @task
    def root(self) -> None:
        self.client.get("/", name="/")
'''
SCENARIOS = """
version: 1
target: {{app: harness-demo, platform: emulator, formations: [{{quantity: 1}}]}}
locustfiles:
  lf: {{path: {locustfile}}}
expected_peak: {{rps: {start}}}
scenarios:
  - name: truth-stress
    kind: stress
    locustfile: lf
    start: {{rps: {start}}}
    max: {{rps: 20000}}
    growth: {growth}
    slo: {{error_ratio: 0.01, p95_ms: {p95}}}
"""


@dataclass
class Target:
    """Where to send load, and how to get a fresh copy of it for each method."""

    name: str
    path: str  # the reference sweep's request path (the search uses `locustfile`)
    locustfile: Path
    start_rps: float  # the search's start level and the coarse sweep's first rate
    fresh: Callable[[], AbstractContextManager[str]]  # yields the base URL of a fresh (or rested) target


@dataclass
class Answer:
    """One method's answer on one target."""

    method: str
    rps: float | None
    load_s: float
    wall_s: float
    note: str = ""
    details: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _rested(url: str, seconds: float) -> Iterator[str]:
    time.sleep(seconds)
    yield url


@contextmanager
def _metastable() -> Iterator[str]:
    args = ("--slots", "4", "--service-ms", "10", "--metastable", "--trigger-queue", "200")
    with queue_server(*args, "--slowdown", "1.6", "--recover-idle-s", "1") as url:
        yield url


@contextmanager
def _pgs(directory: Path, venv: Path) -> Iterator[str]:
    """python-getting-started's `web` process from its Procfile, with its own venv first on PATH."""
    web = next(line for line in (directory / "Procfile").read_text().splitlines() if line.startswith("web:"))
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "CI": "1", "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None)
    command = shlex.split(web.split(":", 1)[1])
    command[0] = str(venv / "bin" / command[0])
    log = open(Path(tempfile.gettempdir()) / f"search-truth-pgs-{port}.log", "w")  # noqa: SIM115
    process = subprocess.Popen(command, cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            raise SystemExit(f"python-getting-started did not answer on {url} within 60 s (see {log.name})")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=25)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


def _sweep(url: str, path: str, start: float, step: float, p95_ms: float) -> tuple[dict[str, Any], float]:
    """Run the independent sweep in its own process (no gevent there); returns its summary and wall time."""
    started = time.monotonic()
    command = [sys.executable, str(SWEEP), "--url", f"{url}{path}", "--start", f"{start:.2f}"]
    command += ["--step", str(step), "--p95-ms", str(p95_ms)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=900, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return rows[-1], time.monotonic() - started


def reference(target: Target, p95_ms: float) -> Answer:
    """Coarse sweep (+20 %), then on a fresh target a fine one (+2.5 %) from 90 % of its last good rate."""
    with target.fresh() as url:
        coarse, coarse_wall = _sweep(url, target.path, target.start_rps, 0.20, p95_ms)
    good = coarse["last_good_rate"]
    if good is None:
        return Answer("reference", None, float(coarse["load_s"]), coarse_wall, "the first coarse step broke")
    with target.fresh() as url:
        fine, fine_wall = _sweep(url, target.path, 0.9 * float(good), 0.025, p95_ms)
    rps = fine["reference_rps"]
    load = float(coarse["load_s"]) + float(fine["load_s"])
    note = f"fine sweep: last good {fine['last_good_rate']} req/s, broke at {fine['first_broken_rate']}"
    return Answer("reference", float(rps) if rps is not None else None, load, coarse_wall + fine_wall, note)


def search(target: Target, growth: float, p95_ms: float, workdir: Path) -> Answer:
    text = SCENARIOS.format(locustfile=target.locustfile, start=target.start_rps, growth=growth, p95=p95_ms)
    config = parse_config(text, source=workdir / f"{target.name}-{growth:g}.yaml")
    started = time.monotonic()
    with target.fresh() as url:
        result = run_scenario(config, config.scenario("truth-stress"), host=url, quiet=True)
    point = result.breaking_point
    assert point is not None
    finding = point.metastability.sentence(point.mode) if point.metastability is not None else ""
    details = [
        f"{r.window.plan.index:>3} {r.window.plan.label:<14} {r.window.plan.level:>8.1f} req/s "
        f"achieved {r.window.achieved_rps:>7.1f} p95 {r.window.total.latency_for().p95_ms or 0:>7.0f} ms "
        f"{'ok' if r.ok else (r.broken_by or r.note)}"
        for r in result.steps
    ]
    return Answer(
        f"search growth {growth:g}",
        point.sustainable_rps if point.status == "found" else None,
        point.load_time_s,
        time.monotonic() - started,
        f"{point.status}, {len(result.steps)} steps, {point.idle_time_s:.0f} s drained"
        + (f"; METASTABLE: {finding}" if finding else ""),
        details,
    )


def _print(name: str, answers: list[Answer], show_steps: bool) -> None:
    ref = answers[0].rps
    print(f"\n== {name}: reference {ref if ref is not None else '–'} req/s", flush=True)
    print(f"   {'method':<18} {'answer':>12} {'error':>8} {'load':>8} {'wall':>8}  note")
    for a in answers:
        error = f"{a.rps / ref - 1:+.1%}" if a.rps is not None and ref else "–"
        shown = f"{a.rps:.1f} req/s" if a.rps is not None else "–"
        print(f"   {a.method:<18} {shown:>12} {error:>8} {a.load_s:>6.1f} s {a.wall_s:>6.1f} s  {a.note}")
        if show_steps:
            print("\n".join(f"        {line}" for line in a.details))
    found = [a.rps for a in answers[1:] if a.rps is not None]
    if len(found) > 1:
        print(f"   spread of the searches: max/min − 1 = {max(found) / min(found) - 1:.1%}")
    print(
        f"   load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}",
        flush=True,
    )


class Demo:
    """The emulator's demo app, started on first use and scaled when the dyno count changes."""

    def __init__(self) -> None:
        self.emulator: EmulatorProcess | None = None
        self.dynos = 0
        self.url = ""

    def at(self, dynos: int) -> str:
        if self.emulator is None:
            self.emulator = EmulatorProcess.start(boot_timeout_s=30.0, shutdown_grace_s=2.0)
        if self.dynos != dynos:
            self.url, self.dynos = scale_demo(self.emulator, dynos, None), dynos
        return self.url

    def stop(self) -> None:
        if self.emulator is not None:
            self.emulator.stop()


class PgsEmulated:
    """python-getting-started deployed, unmodified, in an emulator of its own and reached through its router.

    The emulator builds it the way the buildpack does (its own virtualenv, cached in `home`) and
    runs its Procfile's `web` as one dyno; `CI=1` is set as a config var, as for the direct target,
    so that Django serves plain HTTP. A fresh target is the dyno restarted (`DELETE /dynos`)."""

    def __init__(self, directory: Path, home: Path) -> None:
        self.directory, self.home = directory, home
        self.emulator: EmulatorProcess | None = None

    def _api(self) -> httpx.Client:
        assert self.emulator is not None
        headers = {
            "Authorization": f"Bearer {self.emulator.token}",
            "Accept": "application/vnd.heroku+json; version=3",
        }
        return httpx.Client(base_url=self.emulator.api_url, headers=headers, timeout=60)

    @contextmanager
    def fresh(self) -> Iterator[str]:
        if self.emulator is None:
            self.emulator = EmulatorProcess.start(
                {"pgs": self.directory}, home=self.home, boot_timeout_s=120.0, ready_timeout_s=600.0
            )
            with self._api() as api:
                api.patch("/apps/pgs/config-vars", json={"CI": "1"}).raise_for_status()  # a release: restarts
            old: set[tuple[str, str]] = set()
        else:
            with self._api() as api:
                old = {(d["id"], d["created_at"]) for d in api.get("/apps/pgs/dynos").json()}
                api.delete("/apps/pgs/dynos").raise_for_status()  # restart: a fresh process
        url = self.emulator.web_url("pgs").replace("https://", "http://", 1).rstrip("/")
        with self._api() as api:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                dynos = [d for d in api.get("/apps/pgs/dynos").json() if d["type"] == "web"]
                restarted = not {(d["id"], d["created_at"]) for d in dynos} & old
                if dynos and restarted and all(d["state"] == "up" for d in dynos):
                    try:
                        if httpx.get(f"{url}/", timeout=5).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                time.sleep(0.5)
            else:
                raise SystemExit(
                    f"python-getting-started in the emulator did not answer on {url} within 120 s"
                )
        time.sleep(2.0)  # the old dyno's connections are gone
        yield url

    def stop(self) -> None:
        if self.emulator is not None:
            self.emulator.stop()


def _demo_rested(demo: Demo, dynos: int) -> Callable[[], AbstractContextManager[str]]:
    """A fresh demo target: the app at `dynos` dynos after a 5 s rest (its processes are not restarted)."""
    return lambda: _rested(demo.at(dynos), 5.0)


def _targets(
    args: argparse.Namespace, workdir: Path, demo: Demo, closers: list[Callable[[], None]]
) -> list[Target]:
    root_lf = workdir / "root_locustfile.py"
    root_lf.write_text(ROOT_LOCUSTFILE)
    search_lf = ROOT / "locustfiles" / "search_only.py"
    out: list[Target] = []
    for dynos in (1, 2):
        if f"demo-{dynos}" in args.targets:
            rested = _demo_rested(demo, dynos)
            out.append(Target(f"demo-{dynos}", "/search?q=product", search_lf, 25.0 * dynos, rested))
    if "metastable" in args.targets:
        out.append(Target("metastable", "/", root_lf, 50.0, _metastable))
    if "pgs" in args.targets:
        if (args.pgs_dir / "Procfile").exists() and (args.pgs_venv / "bin" / "gunicorn").exists():
            out.append(Target("pgs", "/", root_lf, 200.0, lambda: _pgs(args.pgs_dir, args.pgs_venv)))
        else:
            print(f"pgs: skipped (no copy at {args.pgs_dir} with gunicorn in {args.pgs_venv})", flush=True)
    if "pgs-emulator" in args.targets:
        if (args.pgs_dir / "Procfile").exists():
            emulated = PgsEmulated(args.pgs_dir, args.pgs_home)
            closers.append(emulated.stop)
            out.append(Target("pgs-emulator", "/", root_lf, 200.0, emulated.fresh))
        else:
            print(f"pgs-emulator: skipped (no copy at {args.pgs_dir})", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--targets", default="demo-1,demo-2,metastable,pgs,pgs-emulator", type=lambda s: s.split(",")
    )
    parser.add_argument(
        "--growth",
        default="3,1.5,2",
        type=lambda s: [float(g) for g in s.split(",")],
        help="growth values of the searches (the first is the default search's 3)",
    )
    parser.add_argument("--p95-ms", type=float, default=200.0)
    parser.add_argument("--pgs-dir", type=Path, default=Path("/tmp/pgs"))
    parser.add_argument("--pgs-venv", type=Path, default=Path("/tmp/pgs-venv"))
    parser.add_argument(
        "--pgs-home",
        type=Path,
        default=Path("/tmp/pgs-emulator-home"),
        help="pgs-emulator: the emulator home (build cache)",
    )
    parser.add_argument("--steps", action="store_true", help="print every step of each search")
    args = parser.parse_args()
    demo = Demo()
    closers: list[Callable[[], None]] = [demo.stop]
    try:
        with tempfile.TemporaryDirectory(prefix="harness-truth-") as tmp:
            for target in _targets(args, Path(tmp), demo, closers):
                print(f"{target.name}: reference sweep ...", flush=True)
                answers = [reference(target, args.p95_ms)]
                for growth in args.growth:
                    print(f"{target.name}: search, growth {growth:g} ...", flush=True)
                    answers.append(search(target, growth, args.p95_ms, Path(tmp)))
                _print(target.name, answers, args.steps)
    finally:
        for close in closers:
            close()


if __name__ == "__main__":
    main()
