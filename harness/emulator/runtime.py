"""One app's runtime in the emulator: its dynos as supervised processes, and its router.

`AppRuntime` is what the Platform API layer drives (formation, restarts, fault
injection); everything runs on the emulator's asyncio loop.

Dyno lifecycle (as on Heroku, see NOTES §3.3)::

    starting --(port accepts a connection, boot_delay_s passed)--> up
    starting --(not bound within boot_timeout_s: R10, SIGKILL)--> crashed
    starting/up --(process exits)--> crashed --(restart policy)--> starting
    any --(scale-down / restart: SIGTERM, SIGKILL after shutdown_grace_s, R12)--> down

Restart policy for crashed dynos: the first crash of a dyno is restarted at
once; each further consecutive crash waits `crash_cooloff_s` first (Heroku
waits up to 20 minutes; locally 10 s by default so tests and demos move on). A
process that stayed up for `CRASH_RESET_S` resets the count.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import signal
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.emulator.dynos import (
    DynoSize,
    canonical_size,
    dyno_environment,
    format_metrics,
    free_port,
    kill_group,
    port_accepts,
    release_port,
    sample_metrics,
    spawn,
)
from harness.emulator.logs import LogBuffer
from harness.emulator.procfile import read_procfile
from harness.emulator.router import Backend, Router, WebStatus

__all__ = ["AppRuntime", "DynoInfo", "DynoState", "ReleaseRef", "RuntimeSettings"]

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


@dataclass(frozen=True, kw_only=True)
class RuntimeSettings:
    """Timings and limits of the dyno manager and the router (seconds unless named otherwise)."""

    boot_timeout_s: float = 60.0  # R10: web dyno must bind $PORT within this
    boot_delay_s: float = 0.0  # extra simulated delay before a dyno may count as up
    shutdown_grace_s: float = 5.0  # SIGTERM -> SIGKILL (Heroku: 30 s; shorter locally so scale-down is quick)
    router_timeout_s: float = 30.0  # H12: response headers must arrive within this
    active_per_dyno: int = 50  # router's per-dyno active request limit
    backlog_per_dyno: int = 50  # router backlog is backlog_per_dyno * n_up_dynos, then H11
    metrics_interval_s: float = 20.0  # runtime-metrics log samples per dyno
    restart_crashed: bool = True  # Heroku restarts crashed dynos (immediately once, then with a cool-off)
    crash_cooloff_s: float = 10.0  # wait before restarting a dyno that crashed again (Heroku: up to 20 min)
    router_boot_wait_s: float = (
        10.0  # H20: how long the router holds a request while web dynos boot (Heroku: 75 s)
    )
    connect_timeout_s: float = 5.0  # H19: connecting to a dyno must succeed within this (Heroku: 5 s)


@dataclass(frozen=True)
class _Spec:
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


class _Dyno:
    """One dyno: launches its process, watches boot, logs, and restarts it after crashes."""

    def __init__(self, runtime: AppRuntime, process_type: str, number: int, spec: _Spec) -> None:
        self.runtime = runtime
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
        self.runtime.logs.append("heroku", self.name, message)

    def set_state(self, state: DynoState) -> None:
        previous = self.info.state
        self.info.state = state
        self.info.updated_at = _now()
        if previous is not state:
            self.log(f"State changed from {previous.value} to {state.value}")
        self.runtime._dyno_changed(self)

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
            if not self.runtime.settings.restart_crashed:
                return
            if crashes > 1:
                await asyncio.sleep(self.runtime.settings.crash_cooloff_s)
            if self.stopping:
                return
            self.set_state(DynoState.STARTING)

    async def _run_once(self) -> float:
        """Run one process until it exits; returns how long it was up (s). Leaves state crashed."""
        loop = asyncio.get_running_loop()
        settings = self.runtime.settings
        port = free_port() if self.info.type == "web" else None
        command = self.spec.command
        if self.runtime._take_boot_failure():
            command = FAILING_BOOT_COMMAND
        self.log(f"Starting process with command `{self.spec.command}`")
        env = dyno_environment(
            config=self.spec.env,
            dyno_name=self.name,
            size=self.spec.size,
            release_version=self.spec.release.version,
            port=port,
        )
        try:
            process = await spawn(command, cwd=self.runtime.app_dir, env=env)
        except OSError as exc:
            self.log(f"Process failed to start: {exc}")
            self._forget_port(port)
            self.set_state(DynoState.CRASHED)
            return 0.0
        self.process = process
        self.process_ref = f"heroku.{self.runtime.app_id}.{uuid.uuid4()}"
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
        settings = self.runtime.settings
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
            self.runtime.logs.append("app", self.name, raw.decode("utf-8", "replace").rstrip("\r\n"))

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
        grace = self.runtime.settings.shutdown_grace_s
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


class AppRuntime:
    """The dynos and the router of one app. Create, `await start()`, drive, `await close()`."""

    def __init__(
        self, *, app_id: str, app_name: str, app_dir: Path, logs: LogBuffer, settings: RuntimeSettings
    ) -> None:
        self.app_id = app_id
        self.app_name = app_name
        self.app_dir = Path(app_dir)
        self.logs = logs
        self.settings = settings
        self.process_types: dict[str, str] = read_procfile(self.app_dir)
        self.maintenance = False
        self.web_url = ""
        self._dynos: dict[str, _Dyno] = {}
        self._formation: dict[str, tuple[int, _Spec]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._boot_failures = 0
        self._up_web: list[Backend] = []
        self._router = Router(self)
        self._metrics_task: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self, *, host: str = "127.0.0.1", router_port: int = 0) -> None:
        """Start the router (no dynos yet: scale with `set_formation`)."""
        port = await self._router.start(host=host, port=router_port)
        self.web_url = f"http://{host}:{port}/"
        self._metrics_task = asyncio.get_running_loop().create_task(self._metrics_loop())

    # --- formation --------------------------------------------------------------------------

    async def set_formation(
        self, process_type: str, quantity: int, size: str, release: ReleaseRef, env: Mapping[str, str]
    ) -> None:
        """Scale `process_type` to `quantity` dynos of `size`; returns at once (boots/stops in background).

        New dynos run `release` with `env`; running ones keep theirs (as on Heroku,
        `restart()` rolls a release). A size change restarts the type's running
        dynos on the new size. Scale-down stops the highest-numbered dynos.
        ValueError for a type the Procfile lacks, a negative quantity or an unknown size.
        """
        self._check_open()
        if process_type not in self.process_types:
            raise ValueError(f"{process_type!r} is not a process type of this app's Procfile")
        if quantity < 0:
            raise ValueError(f"quantity must be >= 0, got {quantity}")
        spec = _Spec(self.process_types[process_type], canonical_size(size), release, dict(env))
        previous = self._formation.get(process_type)
        self._formation[process_type] = (quantity, spec)
        existing = {d.number: d for d in self._dynos.values() if d.info.type == process_type}
        for number, dyno in existing.items():
            if number > quantity:
                self._remove(dyno)
            elif previous is not None and previous[1].size != spec.size:
                self._replace(dyno, spec)
        for number in range(1, quantity + 1):
            if number not in existing:
                self._add(process_type, number, spec)
        self._refresh_web()

    async def restart(
        self,
        *,
        release: ReleaseRef,
        env: Mapping[str, str],
        dyno_name: str | None = None,
        process_type: str | None = None,
    ) -> None:
        """Restart all dynos, one type, or one dyno: new processes on `release` with `env`.

        Like Heroku without preboot: each old process gets SIGTERM (SIGKILL after the
        grace), then its replacement boots; the dyno gets a new id. Dynos added later
        for a restarted type also run `release`.
        """
        self._check_open()
        env = dict(env)
        for type_name, (quantity, spec) in list(self._formation.items()):
            if dyno_name is None and process_type in (None, type_name):
                self._formation[type_name] = (quantity, dataclasses.replace(spec, release=release, env=env))
        for dyno in list(self._dynos.values()):
            if dyno_name is not None and dyno.name != dyno_name:
                continue
            if process_type is not None and dyno.info.type != process_type:
                continue
            self._replace(dyno, dataclasses.replace(dyno.spec, release=release, env=env))
        self._refresh_web()

    def dynos(self) -> list[DynoInfo]:
        """Copies of every current dyno's info, sorted by type then number."""
        ordered = sorted(self._dynos.values(), key=lambda d: (d.info.type, d.number))
        return [dataclasses.replace(d.info) for d in ordered]

    def _add(self, process_type: str, number: int, spec: _Spec) -> _Dyno:
        dyno = _Dyno(self, process_type, number, spec)
        self._dynos[dyno.name] = dyno
        dyno.start()
        return dyno

    def _remove(self, dyno: _Dyno) -> None:
        del self._dynos[dyno.name]
        self._in_background(dyno.stop())

    def _replace(self, old: _Dyno, spec: _Spec) -> None:
        """Heroku's restart without preboot: the old process stops, then a new one boots."""
        new = _Dyno(self, old.info.type, old.number, spec)
        self._dynos[new.name] = new

        async def swap() -> None:
            await old.stop(reason="Restarting")
            if not new.stopping and self._dynos.get(new.name) is new:
                new.start()

        self._in_background(swap())

    def _in_background(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- what the router sees -----------------------------------------------------------------

    def _dyno_changed(self, dyno: _Dyno) -> None:
        if dyno.info.type == "web":
            self._refresh_web()

    def _refresh_web(self) -> None:
        self._up_web = [
            Backend(d.name, d.info.port)
            for d in self._dynos.values()
            if d.info.type == "web" and d.info.state is DynoState.UP and d.info.port is not None
        ]
        self._router.web_changed()

    def web_backends(self) -> list[Backend]:
        """Up web dynos (name, port) the router may send requests to."""
        return self._up_web

    def web_status(self) -> WebStatus:
        """Web formation size and how many web dynos are starting or crashed (for H10/H14/H20)."""
        quantity = self._formation.get("web", (0, None))[0]
        states = [d.info.state for d in self._dynos.values() if d.info.type == "web"]
        return WebStatus(
            quantity=quantity,
            up=states.count(DynoState.UP),
            starting=states.count(DynoState.STARTING),
            crashed=states.count(DynoState.CRASHED),
        )

    # --- fault injection --------------------------------------------------------------------

    def crash(self, dyno_name: str) -> None:
        """SIGKILL that dyno's process; it becomes `crashed` (and is restarted if the policy says so)."""
        try:
            self._dynos[dyno_name].kill()
        except KeyError:
            raise ValueError(f"no dyno named {dyno_name!r}") from None

    def fail_next_boots(self, n: int) -> None:
        """Make the next `n` dyno boots exit at once with status 1 (a crash during boot)."""
        self._boot_failures = max(0, n)

    def _take_boot_failure(self) -> bool:
        if self._boot_failures <= 0:
            return False
        self._boot_failures -= 1
        return True

    # --- metrics and shutdown -------------------------------------------------------------------

    async def _metrics_loop(self) -> None:
        """Every `metrics_interval_s`, two runtime-metrics lines per up dyno (as log-runtime-metrics)."""
        while True:
            await asyncio.sleep(max(0.05, self.settings.metrics_interval_s))
            for dyno in list(self._dynos.values()):
                if dyno.info.state is not DynoState.UP or dyno.info.pid is None:
                    continue
                sample = sample_metrics(dyno.info.pid)
                if sample is None:
                    continue
                for line in format_metrics(dyno.name, dyno.process_ref, sample, dyno.spec.size.memory_mb):
                    self.logs.append("heroku", dyno.name, line)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this AppRuntime is closed")

    async def close(self) -> None:
        """SIGTERM every dyno (SIGKILL after the grace), stop the router. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._metrics_task is not None:
            self._metrics_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._metrics_task
        dynos = list(self._dynos.values())
        self._dynos.clear()
        self._refresh_web()
        await asyncio.gather(*(d.stop() for d in dynos), return_exceptions=True)
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
        await self._router.close()
