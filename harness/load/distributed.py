"""Master side of distributed runs: local worker processes, joining, rate and flush messages.

Workers are separate processes (locust#1824): `workers: N` starts N local
`harness worker` processes (by PID, reaped with a timeout); `expect_workers: N`
waits for remote ones (`harness worker --master-host ...`, or plain
`locust --worker` in users mode). Two custom messages keep results exact and
the same shape as a local run:

- `harness_rate` tells each worker its share R / n of an arrival rate and of the step's
  concurrency ceiling (its pacer);
- `harness_flush` makes every worker send its stats report *now* and answer
  `harness_flushed`; messages from one worker arrive in order, so once every
  worker has answered, the master's counters hold all requests completed up to
  the flush and a step's edges are exact instead of lagging by Locust's 3 s
  report interval.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent
from locust.runners import MasterRunner, WorkerNode

from harness.errors import LoadError
from harness.load.pacing import PacingMode

__all__ = [
    "FLUSHED_MESSAGE",
    "FLUSH_MESSAGE",
    "HELLO_MESSAGE",
    "RATE_MESSAGE",
    "LocalWorkers",
    "MasterControl",
]

logger = logging.getLogger(__name__)

RATE_MESSAGE = "harness_rate"
FLUSH_MESSAGE = "harness_flush"
FLUSHED_MESSAGE = "harness_flushed"
HELLO_MESSAGE = "harness_hello"  # a `harness worker` announces itself (plain `locust --worker` does not)
HELLO_GRACE_S = 0.5
FLUSH_TIMEOUT_S = 5.0
WORKER_EXIT_TIMEOUT_S = 15.0
LOG_TAIL_CHARS = 1500


class MasterControl:
    """Custom-message control of a MasterRunner's workers: join, rate, flush."""

    def __init__(self, runner: MasterRunner) -> None:
        self.runner = runner
        self._acks: dict[str, int] = {}
        self._seq = 0
        self._harness_workers: set[str] = set()
        runner.register_message(FLUSHED_MESSAGE, self._on_flushed)
        runner.register_message(HELLO_MESSAGE, self._on_hello)

    def clients(self) -> list[WorkerNode]:
        """Workers currently connected (ready, spawning or running)."""
        c = self.runner.clients
        return [*c.ready, *c.spawning, *c.running]

    def wait_for_workers(self, count: int, *, timeout_s: float) -> None:
        """Block until `count` workers are connected, or raise LoadError at the deadline."""
        deadline = time.monotonic() + timeout_s
        while len(self.clients()) < count:
            if time.monotonic() > deadline:
                raise LoadError(
                    f"only {len(self.clients())} of {count} Locust workers joined within {timeout_s:g} s. "
                    "Start them with `harness worker --master-host HOST --master-port PORT -f LOCUSTFILE` "
                    "(or `locust --worker` in users mode) and check that the port is reachable."
                )
            gevent.sleep(0.2)
        gevent.sleep(HELLO_GRACE_S)  # let `harness worker`s introduce themselves

    def harness_workers(self) -> list[WorkerNode]:
        """Connected workers that are `harness worker`s (they pace and answer flushes)."""
        return [c for c in self.clients() if c.id in self._harness_workers]

    def set_rate(self, rate: float | None, *, max_concurrency: int | None = None) -> None:
        """Give each worker its share of an arrival rate and ceiling (None: pacing off)."""
        plain = len(self.clients()) - len(self.harness_workers())
        if rate is not None and plain:
            raise LoadError(
                f"{plain} of the connected workers are plain `locust --worker`s, which cannot pace an "
                "arrival rate. Use `harness worker` there, or give the scenario a level in users."
            )
        workers = max(1, len(self.clients()))
        share = None if rate is None else rate / workers
        ceiling = None if max_concurrency is None else -(-max_concurrency // workers)
        for worker in self.harness_workers():
            message = {"rate": share, "max_concurrency": ceiling}
            self.runner.send_message(RATE_MESSAGE, message, client_id=worker.id)

    def flush(self) -> None:
        """Ask every worker for its stats now and wait for all answers (at most FLUSH_TIMEOUT_S)."""
        self._seq += 1
        seq = self._seq
        waiting = [c.id for c in self.harness_workers()]
        if not waiting:  # plain Locust workers only: their 3 s reports are all there is
            return
        for worker in waiting:
            self.runner.send_message(FLUSH_MESSAGE, {"seq": seq}, client_id=worker)
        deadline = time.monotonic() + FLUSH_TIMEOUT_S
        while any(self._acks.get(worker, 0) < seq for worker in waiting):
            if time.monotonic() > deadline:
                logger.warning("not every worker answered a stats flush; the step's edges may lag by ~3 s")
                return
            gevent.sleep(0.01)

    def _on_hello(self, environment: Any, msg: Any, **_: Any) -> None:
        self._harness_workers.add(msg.node_id)

    def _on_flushed(self, environment: Any, msg: Any, **_: Any) -> None:
        self._acks[msg.node_id] = int(msg.data["seq"])

    def close(self) -> None:
        """Forget the listener (the runner is per session, so nothing else lingers)."""
        for message in (FLUSHED_MESSAGE, HELLO_MESSAGE):
            self.runner.custom_messages.pop(message, None)


class LocalWorkers:
    """N `harness worker --once` processes on this machine, started and reaped by PID."""

    def __init__(
        self,
        *,
        count: int,
        locustfile: Path,
        master_port: int,
        pacing: PacingMode,
        request_timeout_s: float,
        ca_file: Path | None = None,
    ) -> None:
        self.count = count
        self.ca_file = ca_file
        self.locustfile = locustfile
        self.master_port = master_port
        self.pacing = pacing
        self.request_timeout_s = request_timeout_s
        self.processes: list[subprocess.Popen[bytes]] = []
        self._logdir = tempfile.TemporaryDirectory(prefix="harness-workers-")

    def command(self) -> list[str]:
        """The worker command line (the same `harness worker` a user runs on another machine)."""
        return [
            sys.executable,
            "-m",
            "harness",
            "worker",
            "--master-host",
            "127.0.0.1",
            "--master-port",
            str(self.master_port),
            "--locustfile",
            str(self.locustfile),
            "--pacing",
            str(self.pacing),
            "--request-timeout",
            f"{self.request_timeout_s:g}",
            "--once",
            *(["--ca-file", str(self.ca_file)] if self.ca_file is not None else []),
        ]

    def start(self) -> None:
        """Start the processes; their output goes to log files shown if one fails."""
        for index in range(self.count):
            log = open(Path(self._logdir.name) / f"worker-{index}.log", "wb")  # noqa: SIM115 - closed in stop()
            try:
                process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
            finally:
                log.close()
            self.processes.append(process)
        gevent.sleep(0)
        self.check_alive()

    def check_alive(self) -> None:
        """LoadError with the worker's output if one has already exited with an error."""
        for index, process in enumerate(self.processes):
            code = process.poll()
            if code not in (None, 0):
                raise LoadError(
                    f"local Locust worker {index} exited with code {code}:\n{self.log_tail(index)}"
                )

    def log_tail(self, index: int) -> str:
        """The end of a worker's output."""
        path = Path(self._logdir.name) / f"worker-{index}.log"
        try:
            return path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Wait for each worker to exit (the master's quit tells them), then terminate, then kill."""
        deadline = time.monotonic() + WORKER_EXIT_TIMEOUT_S
        for process in self.processes:
            _reap(process, max(0.1, deadline - time.monotonic()))
        self.processes.clear()
        self._logdir.cleanup()


def _reap(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    while process.poll() is None and timeout_s > 0:
        gevent.sleep(0.1)
        timeout_s -= 0.1
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
