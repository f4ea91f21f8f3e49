"""One dyno as a supervised process: boot, watch, log, restart after crashes, stop (R10, R12).

Dyno lifecycle (as on Heroku, see NOTES §3.3)::

    starting --(port accepts a connection, boot_delay_s passed)--> up
    starting --(not bound within boot_timeout_s: R10, SIGKILL)--> crashed
    starting/up --(process exits)--> crashed --(restart policy)--> starting
    any --(scale-down / restart: SIGTERM, SIGKILL after shutdown_grace_s, R12)--> down

Restart policy for crashed dynos: the first crash of a dyno is restarted at
once; each further consecutive crash waits `crash_cooloff_s` first (Heroku
waits up to 20 minutes; locally 10 s by default so tests and demos move on). A
process that stayed up for `CRASH_RESET_S` resets the count.

A `Dyno` knows its app only through `DynoHost` (the app's `AppRuntime`), so
this module does not depend on the runtime that owns the dynos.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import signal
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from harness.emulator.dynos import (
    dyno_environment,
    free_port,
    kill_group,
    port_accepts,
    release_port,
    spawn,
)
from harness.emulator.logs import LogBuffer
from harness.emulator.settings import RuntimeSettings
from harness.emulator.sizes import DynoSize

__all__ = ["Dyno", "DynoHost", "DynoInfo", "DynoSpec", "DynoState", "ReleaseRef"]

# A dyno process that stayed up this long (s) starts its crash count afresh.
CRASH_RESET_S = 60.0
# How often (s) a booting dyno's port is probed.
BOOT_POLL_S = 0.02
# Command run instead of the Procfile's for a boot failed by `fail_next_boots`.
FAILING_BOOT_COMMAND = "exit 1"


class DynoState(enum.Enum):
    """A dyno's state as `GET /apps/{app}/dynos` reports it."""

    STARTING = "starting"  # process launched, $PORT not yet accepting connections
    UP = "up"  # web: $PORT accepts connections (and boot_delay_s passed); other types: launched
    CRASHED = "crashed"  # process exited on its own, or was killed for R10; may be restarted
    DOWN = "down"  # stopped on purpose (scale-down, restart, shutdown)


@dataclass(frozen=True)
class ReleaseRef:
    """The release a dyno runs: its id (uuid) and version number (vN)."""

    id: str
    version: int


@dataclass
class DynoInfo:
    """What the Platform API shows of one dyno; `updated_at` is the last state change."""

    id: str
    name: str
    type: str
    size: str
    command: str
    state: DynoState
    release: ReleaseRef
    created_at: datetime
    updated_at: datetime
    pid: int | None
    port: int | None
    boot_s: float | None


class DynoHost(Protocol):
    """What a dyno needs from its app's runtime."""

    app_id: str
    app_dir: Path
    bin_dir: Path | None  # the app's virtualenv bin (first on PATH); None: harness's interpreter
    logs: LogBuffer
    settings: RuntimeSettings

    def dyno_changed(self, dyno: Dyno) -> None:
        """A dyno's state changed (the router's set of up web dynos may follow)."""
        ...

    def take_boot_failure(self) -> bool:
        """Whether this boot must fail (fault injection), consuming one."""
        ...


@dataclass(frozen=True)
class DynoSpec:
    """What a dyno runs: command, size, release and config vars."""

    command: str
    size: DynoSize
    release: ReleaseRef
    env: Mapping[str, str]


def _now() -> datetime:
    return datetime.now(UTC)


def _exit_status(returncode: int) -> int:
    """Shell-style exit status: killed by signal N -> 128 + N (SIGTERM 143, SIGKILL 137)."""
    return 128 - returncode if returncode < 0 else returncode


class Dyno:
    """One dyno: launches its process, watches boot, logs, and restarts it after crashes."""

    def __init__(self, host: DynoHost, process_type: str, number: int, spec: DynoSpec) -> None:
        self.host = host
        self.number = number
        self.spec = spec
        now = _now()
        self.info = DynoInfo(
            id=str(uuid.uuid4()),
            name=f"{process_type}.{number}",
            type=process_type,
            size=spec.size.name,
            command=spec.command,
            state=DynoState.STARTING,
            release=spec.release,
            created_at=now,
            updated_at=now,
            pid=None,
            port=None,
            boot_s=None,
        )
        self.process: asyncio.subprocess.Process | None = None
        self.process_ref = ""  # `heroku.<app_id>.<uuid>`, new for every process (runtime metrics)
        self.stopping = False
        self.task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.info.name

    def log(self, message: str) -> None:
        self.host.logs.append("heroku", self.name, message)

    def set_state(self, state: DynoState) -> None:
        previous = self.info.state
        self.info.state = state
        self.info.updated_at = _now()
        if previous is not state:
            self.log(f"State changed from {previous.value} to {state.value}")
        self.host.dyno_changed(self)

    def start(self) -> None:
        """Launch the supervisor (boot, watch, restart on crash) in the background."""
        self.task = asyncio.get_running_loop().create_task(self._supervise(), name=f"dyno {self.name}")

    async def _supervise(self) -> None:
        crashes = 0
        while not self.stopping:
            ran_s = await self._run_once()
            if self.stopping:
                return
            crashes = 1 if ran_s >= CRASH_RESET_S else crashes + 1
            if not self.host.settings.restart_crashed:
                return
            if crashes > 1:
                await asyncio.sleep(self.host.settings.crash_cooloff_s)
            if self.stopping:
                return
            self.set_state(DynoState.STARTING)

    async def _run_once(self) -> float:
        """Run one process until it exits; returns how long it was up (s). Leaves state crashed."""
        loop = asyncio.get_running_loop()
        settings = self.host.settings
        port = free_port() if self.info.type == "web" else None
        command = self.spec.command
        if self.host.take_boot_failure():
            command = FAILING_BOOT_COMMAND
        self.log(f"Starting process with command `{self.spec.command}`")
        env = dyno_environment(
            config=self.spec.env,
            dyno_name=self.name,
            size=self.spec.size,
            release_version=self.spec.release.version,
            port=port,
            bin_dir=self.host.bin_dir,
        )
        try:
            process = await spawn(command, cwd=self.host.app_dir, env=env)
        except OSError as exc:
            self.log(f"Process failed to start: {exc}")
            self._forget_port(port)
            self.set_state(DynoState.CRASHED)
            return 0.0
        self.process = process
        self.process_ref = f"heroku.{self.host.app_id}.{uuid.uuid4()}"
        self.info.pid, self.info.port = process.pid, port
        started = loop.time()
        pump = loop.create_task(self._pump(process))
        outcome = await self._await_boot(process, port, started)
        up_since = loop.time()
        if outcome == "timeout":
            self.log(
                f"Error R10 (Boot timeout) -> Web process failed to bind to $PORT within "
                f"{settings.boot_timeout_s:g} seconds of launch"
            )
            self.log("Stopping process with SIGKILL")
            kill_group(process.pid, signal.SIGKILL)
        elif outcome == "up":
            self.info.boot_s = round(up_since - started, 3)
            self.set_state(DynoState.UP)
        returncode = await process.wait()
        await self._finish_pump(pump)
        if self.stopping:
            return loop.time() - up_since
        kill_group(process.pid, signal.SIGKILL)  # leftovers of a crashed dyno's group
        self.log(f"Process exited with status {_exit_status(returncode)}")
        self._forget_port(port)
        self.set_state(DynoState.CRASHED)
        return loop.time() - up_since if outcome == "up" else 0.0

    async def _await_boot(self, process: asyncio.subprocess.Process, port: int | None, started: float) -> str:
        """'up', 'exited', 'timeout' or 'stopped', whichever comes first."""
        loop = asyncio.get_running_loop()
        settings = self.host.settings
        while True:
            if self.stopping:
                return "stopped"
            if process.returncode is not None:
                return "exited"
            elapsed = loop.time() - started
            if port is not None and elapsed >= settings.boot_timeout_s:
                return "timeout"
            bound = port is None or await port_accepts(port, timeout_s=0.5)
            if bound and process.returncode is None and loop.time() - started >= settings.boot_delay_s:
                return "up"
            await asyncio.sleep(BOOT_POLL_S)

    async def _pump(self, process: asyncio.subprocess.Process) -> None:
        """Copy the process's output, line by line, into the log buffer as `app[<dyno>]`."""
        stream = process.stdout
        if stream is None:
            return
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line longer than the stream limit: take what is buffered
                raw = await stream.read(1 << 20)
            if not raw:
                return
            self.host.logs.append("app", self.name, raw.decode("utf-8", "replace").rstrip("\r\n"))

    async def _finish_pump(self, pump: asyncio.Task[None]) -> None:
        """Let the pump drain the pipe; a grandchild holding it open must not block us."""
        try:
            await asyncio.wait_for(asyncio.shield(pump), 1.0)
        except TimeoutError:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    def _forget_port(self, port: int | None) -> None:
        if port is not None:
            release_port(port)

    async def stop(self, *, reason: str = "") -> None:
        """SIGTERM the process group, SIGKILL after the grace (R12); the dyno ends `down`."""
        self.stopping = True
        if reason:
            self.log(reason)
        process = self.process
        if process is not None and process.returncode is None:
            await self._terminate(process)
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self._forget_port(self.info.port)
        self.set_state(DynoState.DOWN)

    async def _terminate(self, process: asyncio.subprocess.Process) -> None:
        grace = self.host.settings.shutdown_grace_s
        self.log("Stopping all processes with SIGTERM")
        kill_group(process.pid, signal.SIGTERM)
        try:
            returncode = await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            self.log(
                "Error R12 (Exit timeout) -> At least one process failed to exit within "
                f"{grace:g} seconds of SIGTERM"
            )
            self.log("Stopping remaining processes with SIGKILL")
            kill_group(process.pid, signal.SIGKILL)
            returncode = await process.wait()
        kill_group(process.pid, signal.SIGKILL)  # anything the process left behind in its group
        self.log(f"Process exited with status {_exit_status(returncode)}")

    def kill(self) -> None:
        """SIGKILL the process group now (fault injection); the supervisor records the crash."""
        process = self.process
        if process is not None and process.returncode is None:
            kill_group(process.pid, signal.SIGKILL)
