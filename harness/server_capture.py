"""The server side of one run: stream the app's log into the run directory while scenarios run.

`server_capture(client, app, run_path)` is the pipeline's one hook: entered
before the first scenario, left after the last. Inside, a `LogStream` feeds a
`ServerLogWriter` (server.jsonl / server.json); on the way out it waits a
moment for the last router lines, stops the stream, drains the load
generator's request tape into requests.csv, and builds the `ServerView`
(server_view.json) that the report renders. Nothing here may fail a run: a
log session that cannot be opened is recorded in server.json and the report
says so; the scenarios run either way.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.capacity.diagnosis import build_view
from harness.load.request_ids import TAPE
from harness.measurements import StepKind
from harness.platform.heroku import HerokuClient
from harness.platform.logsession import LogStream, StreamOptions
from harness.results.rundir import RunDir
from harness.results.server import (
    ServerLogWriter,
    read_client_requests,
    read_server_log,
    write_client_requests,
    write_server_view,
)
from harness.serverlog import ClientRequest, EventKind
from harness.serverview import ServerView, StepSpan, StreamSummary

__all__ = ["Capture", "build_server_view", "server_capture", "step_spans"]

log = logging.getLogger("harness.server")

CONNECT_WAIT_S = 10.0  # how long the first scenario waits for the stream (it starts anyway)
SETTLE_S = 2.0  # after the last scenario: the router logs a request when it ends, logplex relays it


@dataclass
class Capture:
    """What the hook did, for the console: lines streamed and whether the stream ever connected."""

    writer: ServerLogWriter
    stream: LogStream
    connected: bool = False


@contextlib.contextmanager
def server_capture(
    client: HerokuClient,
    app: str,
    run_path: str | Path,
    *,
    dyno_size: str | None = None,
    settle_s: float = SETTLE_S,
    options: StreamOptions | None = None,
) -> Iterator[Capture]:
    """Stream `app`'s log into `run_path` for the duration of the block; build the view on exit."""
    path = Path(run_path)
    writer = ServerLogWriter(path)
    stream = LogStream(
        client, app, writer.feed, on_gap=writer.note_gap, on_error=writer.note_error, options=options
    )
    TAPE.drain()  # requests of an earlier run in this process are not this run's
    capture = Capture(writer=writer, stream=stream)
    stream.start()
    capture.connected = stream.wait_connected(CONNECT_WAIT_S)
    if not capture.connected:
        log.info("the log stream of %s is not connected yet; the scenarios start anyway", app)
    try:
        yield capture
    finally:
        _finish(capture, path, dyno_size, settle_s)


def _finish(capture: Capture, path: Path, dyno_size: str | None, settle_s: float) -> None:
    if capture.connected and settle_s > 0:
        time.sleep(settle_s)
    capture.stream.stop()
    if capture.stream.failed and capture.writer.status.error is None:
        capture.writer.note_error("the log stream gave up after repeated failures")
    capture.writer.close()
    write_client_requests(path, (ClientRequest(*row) for row in TAPE.drain()))
    try:
        view = build_server_view(path, dyno_size=dyno_size)
        if view is not None:
            write_server_view(path, view)
    except Exception:  # the report must still be written; the view is an addition to it
        log.exception("building the server-side view failed")


def build_server_view(run_path: str | Path, *, dyno_size: str | None = None) -> ServerView | None:
    """The server-side view of a run directory (None when it has no server log)."""
    server = read_server_log(run_path)
    if server is None:
        return None
    steps = step_spans(RunDir.open(run_path))
    status = server.status
    l10 = sum(1 for e in server.events if e.kind is EventKind.L10)
    stream = StreamSummary(
        lines=status.lines,
        router=status.router,
        metrics=status.metrics,
        odd=status.odd,
        odd_examples=[e.why + (f": {e.line}" if e.line else "") for e in status.odd_examples],
        reconnects=status.reconnects,
        gap_s=sum(g.end_ts - g.start_ts for g in status.gaps),
        dropped=status.dropped,
        error=status.error,
        l10=l10,
    )
    client = read_client_requests(run_path)
    return build_view(
        steps, server.router, server.metrics, server.events, client, stream=stream, dyno_size=dyno_size
    )


# Steps whose SLO verdict says something about capacity: not warm-ups, ramps, or the recovery and
# cool-down after an overload (those break because of the overload before them), and not a step the
# search ignored and re-ran (a lagging generator, a saturated CPU).
JUDGED_KINDS = frozenset(
    k.value for k in (StepKind.HOLD, StepKind.PROBE, StepKind.BISECT, StepKind.CONFIRM, StepKind.SPIKE)
)


def step_spans(run: RunDir) -> list[StepSpan]:
    """The run's measured steps (steps.csv) as windows to correlate with."""
    spans = []
    for row in run.steps.to_dict("records"):
        start, end = _number(row.get("start_ts")), _number(row.get("end_ts"))
        if start is None or end is None:
            continue
        ok = row.get("ok")
        judged = _text(row.get("kind")) in JUDGED_KINDS and not _text(row.get("note")).startswith("ignored")
        spans.append(
            StepSpan(
                scenario=str(row.get("scenario") or ""),
                step=int(_number(row.get("index")) or 0),
                label=_text(row.get("label")),
                kind=_text(row.get("kind")),
                level=_number(row.get("level")),
                level_unit="req/s" if _text(row.get("mode")) == "arrival_rate" else "users",
                start_ts=start,
                end_ts=end,
                client_requests=int(_number(row.get("requests")) or 0),
                client_p50_ms=_number(row.get("p50_ms")),
                client_p95_ms=_number(row.get("p95_ms")),
                client_error_ratio=_number(row.get("error_ratio")),
                ok=None if _missing(ok) or not judged else bool(ok),
            )
        )
    return spans


def _missing(value: Any) -> bool:
    return value is None or bool(pd.isna(value))


def _number(value: Any) -> float | None:
    if _missing(value):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    return "" if _missing(value) else str(value)
