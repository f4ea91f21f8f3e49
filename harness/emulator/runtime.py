"""One app's runtime in the emulator: its dynos (`supervisor.py`) and its router (`router.py`).

`AppRuntime` is what the control plane drives (formation, restarts, fault
injection); everything runs on the emulator's asyncio loop. It keeps the
formation (how many dynos of which spec per process type), starts, replaces
and stops `Dyno`s, tells the router which web dynos are up, and logs runtime
metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
from collections.abc import Mapping
from pathlib import Path

from harness.emulator.dynos import LoadAverage, format_metrics, sample_metrics
from harness.emulator.logs import LogBuffer
from harness.emulator.procfile import read_procfile
from harness.emulator.router import Backend, Router, WebStatus
from harness.emulator.settings import RuntimeSettings
from harness.emulator.sizes import canonical_size
from harness.emulator.supervisor import Dyno, DynoInfo, DynoSpec, DynoState, ReleaseRef

__all__ = ["AppRuntime", "DynoInfo", "DynoState", "ReleaseRef", "RuntimeSettings"]


class AppRuntime:
    """The dynos and the router of one app. Create, `await start()`, drive, `await close()`."""

    def __init__(
        self,
        *,
        app_id: str,
        app_name: str,
        app_dir: Path,
        logs: LogBuffer,
        settings: RuntimeSettings,
        tls: ssl.SSLContext | None = None,
        bin_dir: Path | None = None,
    ) -> None:
        self.app_id = app_id
        self.app_name = app_name
        self.app_dir = Path(app_dir)
        self.bin_dir = bin_dir  # the build's virtualenv bin, first on every dyno's PATH
        self.logs = logs
        self.settings = settings
        self.process_types: dict[str, str] = read_procfile(self.app_dir)
        self.maintenance = False
        self.web_url = ""
        self._dynos: dict[str, Dyno] = {}
        self._formation: dict[str, tuple[int, DynoSpec]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._boot_failures = 0
        self._up_web: list[Backend] = []
        self._router = Router(self, tls)
        self._scheme = "https" if tls is not None else "http"
        self._metrics_task: asyncio.Task[None] | None = None
        self._closed = False

    def use_slug(self, app_dir: Path, bin_dir: Path | None) -> None:
        """Run another slug's code from now on (a deploy or rollback): processes started after this
        (the release's restart) run from `app_dir` with `bin_dir` first on PATH."""
        self.process_types = read_procfile(app_dir)
        self.app_dir, self.bin_dir = Path(app_dir), bin_dir

    async def start(self, *, host: str = "127.0.0.1", router_port: int = 0) -> None:
        """Start the router (no dynos yet: scale with `set_formation`)."""
        port = await self._router.start(host=host, port=router_port)
        shown = f"[{host}]" if ":" in host else host
        self.web_url = f"{self._scheme}://{shown}:{port}/"
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
        spec = DynoSpec(self.process_types[process_type], canonical_size(size), release, dict(env))
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

    def _add(self, process_type: str, number: int, spec: DynoSpec) -> Dyno:
        dyno = Dyno(self, process_type, number, spec)
        self._dynos[dyno.name] = dyno
        dyno.start()
        return dyno

    def _remove(self, dyno: Dyno) -> None:
        del self._dynos[dyno.name]
        self._in_background(dyno.stop())

    def _replace(self, old: Dyno, spec: DynoSpec) -> None:
        """Heroku's restart without preboot: the old process stops, then a new one boots."""
        new = Dyno(self, old.info.type, old.number, spec)
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

    def dyno_changed(self, dyno: Dyno) -> None:
        """Refresh what the router sees when a web dyno changes state."""
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

    def take_boot_failure(self) -> bool:
        """Whether this boot must fail (`fail_next_boots`), consuming one."""
        if self._boot_failures <= 0:
            return False
        self._boot_failures -= 1
        return True

    # --- metrics and shutdown -------------------------------------------------------------------

    async def _metrics_loop(self) -> None:
        """Every `metrics_interval_s`, two runtime-metrics lines per up dyno (as log-runtime-metrics)."""
        loads: dict[str, LoadAverage] = {}  # by process_ref: a restarted dyno starts from zero
        while True:
            await asyncio.sleep(max(0.05, self.settings.metrics_interval_s))
            for dyno in list(self._dynos.values()):
                if dyno.info.state is not DynoState.UP or dyno.info.pid is None:
                    continue
                load = loads.setdefault(dyno.process_ref, LoadAverage())
                sample = sample_metrics(dyno.info.pid, load)
                if sample is None:
                    continue
                quota = dyno.spec.size.memory_mb
                for line in format_metrics(dyno.name, dyno.process_ref, sample, quota):
                    self.logs.append("heroku", dyno.name, line)
                self._memory_errors(dyno, sample.rss_mb + sample.swap_mb, quota)
            live = {d.process_ref for d in self._dynos.values()}
            for ref in [ref for ref in loads if ref not in live]:
                del loads[ref]

    def _memory_errors(self, dyno: Dyno, used_mb: float, quota_mb: float) -> None:
        """Heroku's R14 over the quota; R15 and a SIGKILL at twice it (NOTES §3.2)."""
        if used_mb <= quota_mb:
            return
        dyno.log(f"Process running mem={used_mb:.0f}M({100 * used_mb / quota_mb:.1f}%)")
        if used_mb < 2 * quota_mb:
            dyno.log("Error R14 (Memory quota exceeded)")
            return
        dyno.log("Error R15 (Memory quota vastly exceeded)")
        dyno.log("Stopping process with SIGKILL")
        dyno.kill()

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
