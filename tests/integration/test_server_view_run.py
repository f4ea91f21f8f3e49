"""The server-side view of a real `harness run` against the emulator (issue 17's done-when).

One short run against an emulator the test owns, set up so the router's own
log holds known facts: every request waits `router_hold_ms` = 80 ms in the
router before a dyno is picked (router queueing of a known length), `/checkout`
is slowed past a short `router_timeout_s` (H12s on one endpoint), and web.1 is
killed mid-test (a crash). The run directory's server view must report what
the router did: per-step service times and per-dyno counts equal to the ones
recomputed here from the raw router records, the queueing near 80 ms, the H12s
on `/checkout`, and the crash as an event, drawn on the report's charts.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import httpx

from harness.emulator import EmulatorProcess
from harness.results.server import read_server_log
from tests.harness_process import HarnessProcess
from tests.integration.helpers import REPO
from tests.integration.run_helpers import ACCEPT, harness_env, run_dirs

HOLD_MS = 80.0
PROFILE = """
version: 1
target:
  app: harness-demo
  formations: [{{quantity: 2, size: Standard-1X}}]
load_generator: {{request_timeout_s: 10}}
locustfiles:
  shop: {{path: {repo}/locustfiles/demo_shop.py}}
expected_peak: {{rps: 20}}
reports_dir: {reports}
scenarios:
  - name: peak
    kind: load
    locustfile: shop
    level: {{rps: 20}}
    ramp_s: 1
    warmup_s: 1
    hold_s: 12
    window_s: 3
    slo: {{p95_ms: 2000, error_ratio: 0.5}}
"""


def _admin(emulator: EmulatorProcess, method: str, path: str, body: object = None) -> object:
    headers = {"Accept": ACCEPT, "Authorization": f"Bearer {emulator.token}"}
    response = httpx.request(method, f"{emulator.api_url}{path}", headers=headers, json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def _up(emulator: EmulatorProcess) -> bool:
    dynos = _admin(emulator, "GET", "/apps/harness-demo/dynos")
    return isinstance(dynos, list) and bool(dynos) and all(d["state"] == "up" for d in dynos)


def test_a_run_reports_what_the_router_did(
    tmp_path: Path, harness_runs: list[HarnessProcess], outside_emulator: EmulatorProcess
) -> None:
    _admin(outside_emulator, "PATCH", "/apps/harness-demo/config-vars", {"DEMO_SERVICE_MS_CHECKOUT": "900"})
    deadline = time.monotonic() + 60
    while not _up(outside_emulator) and time.monotonic() < deadline:
        time.sleep(0.2)
    settings = {"router_hold_ms": HOLD_MS, "router_timeout_s": 0.6}
    _admin(outside_emulator, "PATCH", "/__emulator/apps/harness-demo/settings", settings)
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text(PROFILE.format(repo=REPO, reports=tmp_path / "reports"))
    env = harness_env(
        tmp_path, HEROKU_API_URL=outside_emulator.api_url, HEROKU_API_KEY=outside_emulator.token
    )
    run = HarnessProcess(["run", "--scenarios", str(scenarios)], cwd=tmp_path, env=env)
    harness_runs.append(run)
    run.expect("peak | hold", timeout_s=240)
    crashed_at = time.time()
    _admin(outside_emulator, "POST", "/__emulator/apps/harness-demo/dynos/web.1/crash")
    assert run.wait(timeout_s=300) in (0, 1), run.output
    [run_dir] = run_dirs(tmp_path)

    view = json.loads((run_dir / "server_view.json").read_text())
    log = read_server_log(run_dir)
    assert log is not None and view["router_requests"] == len(log.router) > 100
    holds = [s for s in view["steps"] if s["scenario"] == "peak" and s["label"].startswith("hold")]
    assert len(holds) >= 3
    for step in holds:
        # Recomputed here from the router's own records in the step's window.
        inside = [r for r in log.router if step["start_ts"] <= r.ts <= step["end_ts"]]
        served = sorted(r.service_ms for r in inside if r.dyno is not None and r.service_ms is not None)
        assert step["router_requests"] == len(inside)
        per_dyno = {d: sum(1 for r in inside if r.dyno == d) for d in {r.dyno for r in inside if r.dyno}}
        assert step["per_dyno"] == per_dyno
        median = served[math.ceil(len(served) / 2) - 1]  # nearest rank, as the report states its percentiles
        assert step["service_p50_ms"] == median, (step, median)
        # What the client waited beyond connect + service is the router's hold.
        assert step["queue_basis"] == "matched"
        assert HOLD_MS - 10 <= step["queue_p50_ms"] <= HOLD_MS + 40, step
    h12 = [c for c in view["codes"] if c["code"] == "H12"]
    assert h12 and {c["endpoint"] for c in h12} == {"POST /checkout"}, view["codes"]
    assert sum(c["count"] for c in h12) == sum(1 for r in log.router if r.code == "H12")
    crashes = [e for e in view["events"] if e["kind"] == "crash"]
    assert crashes and crashes[0]["dyno"] == "web.1" and abs(crashes[0]["ts"] - crashed_at) < 5, view[
        "events"
    ]
    html = (run_dir / "report.html").read_text()
    assert 'id="server"' in html and "H12" in html and "crash" in html
