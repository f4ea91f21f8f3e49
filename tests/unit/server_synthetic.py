"""A synthetic server log for a synthetic run directory: Heroku-format lines through the real writer.

For each measured step of the run: router lines over its window on two dynos
(service time 60 % of the client's median, so 40 % is spent outside the
dyno), the client's record of each request (requests.csv), H12s on /search in
broken steps; runtime metrics every 5 s with memory rising into R14; a crash
and restart of web.2; one malformed router line. Then the view is built as the
end of a run builds it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from harness.capacity.verdict import judge_run
from harness.emulator.logs import format_line
from harness.results import RunStatus, RunStore
from harness.results.rundir import RunDir
from harness.results.server import ServerLogWriter, write_client_requests, write_server_view
from harness.server_capture import build_server_view
from harness.serverlog import ClientRequest
from harness.serverview import ServerView
from tests.unit.results_synthetic import AppModel, synthetic_load, synthetic_meta, synthetic_stress

ODD_LINE = 'at=info method=GET path="/" connect=soon service=18ms status=200'


def _line(source: str, dyno: str, message: str, ts: float) -> str:
    return format_line(source, dyno, message, datetime.fromtimestamp(ts, UTC))


def router_line(ts: float, rid: str, path: str, dyno: str, service_ms: float, *, code: str = "") -> str:
    head = f'at=error code={code} desc="Request timeout"' if code else "at=info"
    status = 503 if code else 200
    return _line(
        "heroku",
        "router",
        f'{head} method=GET path="{path}" host=demo.localhost request_id={rid} fwd="127.0.0.1" '
        f"dyno={dyno} connect=1ms service={service_ms:.0f}ms status={status} bytes=120 protocol=http",
        ts,
    )


def synthetic_run(reports: Path) -> RunDir:
    """A complete synthetic run (a load and a stress scenario) under `reports`, without a server log."""
    writer = RunStore(reports).create("harness-demo", synthetic_meta())
    app = AppModel()
    writer.add_scenario(
        synthetic_load(app), {"name": "expected-load", "kind": "load", "slo": {"p95_ms": 300}}
    )
    writer.add_scenario(synthetic_stress(app))
    writer.finish(RunStatus.COMPLETE, judge=judge_run, test_duration_s=1800.0)
    return RunDir.open(writer.path)


def synthetic_server_log(run: RunDir, *, per_step: int = 120) -> ServerView:
    """Write server.jsonl/server.json/requests.csv into `run` and build its server_view.json."""
    steps = run.steps.sort_values("start_ts").to_dict("records")
    writer = ServerLogWriter(run.path)
    client: list[ClientRequest] = []
    first, last = float(steps[0]["start_ts"]), float(steps[-1]["end_ts"])
    for s in steps:
        start, end, p50 = float(s["start_ts"]), float(s["end_ts"]), float(s["p50_ms"])
        for i in range(per_step):
            ts = start + (end - start) * (i + 0.5) / per_step
            rid = f"{s['scenario']}-{int(s['index'])}-{i:024d}"
            dyno = f"web.{i % 2 + 1}"
            writer.feed(router_line(ts, rid, f"/products/{i % 50 + 1}", dyno, 0.6 * p50))
            client.append(ClientRequest(ts, rid, "GET", "/products/[id]", p50 + 1.0, 200))
        if not bool(s["ok"]):
            for i in range(4):
                ts = start + (end - start) * (i + 0.3) / 4
                writer.feed(
                    router_line(
                        ts, f"slow-{int(s['index'])}-{i:020d}", "/search?q=x", "web.1", 30000, code="H12"
                    )
                )
    ts, memory = first, 300.0
    while ts <= last:
        for dyno in ("web.1", "web.2"):
            prefix = f"source={dyno} dyno=heroku.app.{dyno}"
            writer.feed(
                _line("heroku", dyno, f"{prefix} sample#load_avg_1m=0.42 sample#load_avg_5m=0.30", ts)
            )
            writer.feed(
                _line(
                    "heroku",
                    dyno,
                    f"{prefix} sample#memory_total={memory:.2f}MB sample#memory_rss={memory:.2f}MB "
                    "sample#memory_swap=0.00MB sample#memory_quota=512.00MB",
                    ts,
                )
            )
        memory += 12.0
        ts += 5.0
    middle = (first + last) / 2
    writer.feed(_line("heroku", "web.2", "State changed from up to crashed", middle))
    writer.feed(_line("heroku", "web.2", "State changed from crashed to starting", middle + 1))
    writer.feed(
        _line("heroku", "web.1", f"Process running mem={memory:.0f}M({100 * memory / 512:.1f}%)", last - 2)
    )
    writer.feed(_line("heroku", "web.1", "Error R14 (Memory quota exceeded)", last - 2))
    writer.feed(_line("heroku", "router", ODD_LINE, middle))
    writer.feed(_line("app", "web.1", "SECRET_KEY=do-not-store-me", middle))
    writer.close()
    write_client_requests(run.path, client)
    view = build_server_view(run.path, dyno_size="Standard-2X")
    assert view is not None
    write_server_view(run.path, view)
    return view
