"""`harness worker`: a Locust worker that also understands harness's pacing and flush messages.

It imports the locustfile itself (the same file the master runs), wraps every
User class with the shared pacer (inactive until the master sends a rate, so
users mode behaves exactly like `locust --worker`), ships per-second
aggregates and failure kinds to the master inside Locust's stats reports, and
answers flushes. Unless `once`, it reconnects after the master quits, so one
long-lived worker (e.g. a Kubernetes pod) serves every scenario of a run.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from locust.argument_parser import get_parser
from locust.env import Environment
from locust.event import Events
from locust.runners import WorkerRunner

from harness.errors import LoadError
from harness.load.connections import ConnectionCounter
from harness.load.distributed import FLUSH_MESSAGE, FLUSHED_MESSAGE, HELLO_MESSAGE, RATE_MESSAGE
from harness.load.locustfile import load_locustfile, prepare_user_classes
from harness.load.pacing import Pacer, PacingMode, paced_user_classes
from harness.load.request_ids import TAPE
from harness.load.stats import RequestSink

__all__ = ["run_worker", "serve_once"]

logger = logging.getLogger(__name__)

RECONNECT_PAUSE_S = 1.0


def run_worker(
    *,
    locustfile: str | Path,
    master_host: str,
    master_port: int = 5557,
    pacing: PacingMode = PacingMode.UNIFORM,
    request_timeout_s: float = 35.0,
    once: bool = False,
    ca_file: Path | None = None,
) -> None:
    """Serve masters until interrupted (or one master, with `once`)."""
    load_locustfile(locustfile)  # fail early, before connecting, with a LocustfileError
    while True:
        serve_once(
            locustfile=locustfile,
            master_host=master_host,
            master_port=master_port,
            pacing=pacing,
            request_timeout_s=request_timeout_s,
            ca_file=ca_file,
        )
        if once:
            return
        time.sleep(RECONNECT_PAUSE_S)


def serve_once(
    *,
    locustfile: str | Path,
    master_host: str,
    master_port: int,
    pacing: PacingMode,
    request_timeout_s: float,
    ca_file: Path | None = None,
) -> None:
    """Connect to a master, generate the load it asks for, return when it quits."""
    pacer = Pacer(mode=pacing)
    loaded = load_locustfile(locustfile)
    classes = prepare_user_classes(list(loaded.user_classes.values()), request_timeout_s, ca_file)
    options = get_parser(default_config_files=[]).parse_args(["--headless", "--worker"])
    env = Environment(
        user_classes=paced_user_classes(classes, pacer), events=Events(), parsed_options=options
    )
    try:
        runner = env.create_worker_runner(master_host, master_port)
    except ConnectionError as exc:
        raise LoadError(
            f"cannot reach the Locust master at {master_host}:{master_port} ({exc}). "
            "Start `harness load`/`harness run` with --expect-workers first, and check the port."
        ) from None
    counter: ConnectionCounter | None = None

    def connections() -> int:  # the host is known once the master has sent the first spawn message
        nonlocal counter
        if counter is None and env.host:
            counter = ConnectionCounter(env.host)
        return counter.count() if counter is not None and pacer.rate is not None else 0

    sink = RequestSink(clock=time.time, pacer=pacer, connections=connections)
    sink.attach(env.events, worker=True)
    TAPE.attach(env.events, worker=True)
    runner.register_message(RATE_MESSAGE, lambda environment, msg, **_: _set_rate(pacer, msg.data))
    runner.register_message(FLUSH_MESSAGE, lambda environment, msg, **_: _flush(runner, msg.data["seq"]))
    env.events.init.fire(environment=env, runner=runner, web_ui=None)
    runner.send_message(HELLO_MESSAGE, {"pacing": str(pacing)})
    try:
        runner.greenlet.join()
    finally:
        pacer.close()
        sink.detach()
        TAPE.detach()


def _set_rate(pacer: Pacer, data: dict[str, Any]) -> None:
    pacer.set_rate(data["rate"], max_concurrency=data.get("max_concurrency"))


def _flush(runner: WorkerRunner, seq: Any) -> None:
    """Send a stats report now (Locust's own and the sink's), then acknowledge `seq`."""
    data: dict[str, Any] = {}
    runner.environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
    runner.send_message("stats", data)
    runner.send_message(FLUSHED_MESSAGE, {"seq": seq})
