"""The emulator process: one asyncio loop running the Platform API and one `AppRuntime` per app.

`serve(options, on_ready)` blocks until SIGINT/SIGTERM/SIGHUP (or, with
`exit_with_parent`, until the process that started it is gone), then stops every dyno
(through `AppRuntime.close()`) and returns, so the process exits 0. Once every
socket listens it writes the ready file (JSON: api_url, token, pid, apps
{name: {id, web_url}}, ca_file) atomically, readable by its owner only, and calls
`on_ready`; on the way out it removes the ready file.

The emulator only ever binds loopback addresses: its token is a local dev
token and its dynos run arbitrary Procfile commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import signal
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from harness.emulator.api import create_api
from harness.emulator.api_error import ApiError
from harness.emulator.build import BuildFailed
from harness.emulator.context import ApiContext
from harness.emulator.control import Controller
from harness.emulator.home import emulator_home
from harness.emulator.models import AddOnPlan
from harness.emulator.settings import RuntimeSettings
from harness.emulator.state import Platform
from harness.emulator.tls import ensure_ca
from harness.errors import EmulatorError, HarnessError

__all__ = [
    "DEFAULT_APP_NAME",
    "DEMO_APP_DIR",
    "EmulatorServer",
    "ReadyInfo",
    "ServerOptions",
    "check_loopback",
    "serve",
]

DEFAULT_APP_NAME = "harness-demo"
DEMO_APP_DIR = Path(__file__).resolve().parent / "demo_app"
# The demo app's listed add-on (NOTES §2.8); the emulator runs no database, the URL points nowhere.
DEMO_ADDONS = (
    AddOnPlan(
        service="heroku-postgresql",
        plan="essential-0",
        price_cents=500,
        config={"DATABASE_URL": "postgres://emulator@127.0.0.1:5432/harness_demo"},
    ),
)


def check_loopback(host: str) -> str:
    """`host` if it is a loopback name or address; `EmulatorError` otherwise."""
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise EmulatorError(
        f"The emulator only listens on loopback addresses (127.0.0.1, ::1, localhost), not {host!r}: "
        "its token is a local development token and its dynos run your Procfile's commands."
    )


@dataclass(frozen=True, kw_only=True)
class ServerOptions:
    """How to run the emulator. `apps` empty means the bundled demo app as `harness-demo`."""

    token: str
    host: str = "127.0.0.1"
    port: int = 0
    apps: Sequence[tuple[str, Path]] = ()
    ready_file: Path | None = None
    exit_with_parent: bool = False
    settings: RuntimeSettings = field(default_factory=RuntimeSettings)
    home: Path | None = None  # the emulator home (its CA, app builds); None: `emulator_home()`


@dataclass(frozen=True, kw_only=True)
class ReadyInfo:
    """What a running emulator tells its caller (and writes to the ready file)."""

    api_url: str
    token: str
    pid: int
    apps: dict[str, dict[str, str | None]]
    ca_file: str  # the CA certificate that signs the routers' HTTPS certificates

    def as_json(self) -> dict[str, Any]:
        """The ready file's content."""
        return {
            "api_url": self.api_url,
            "token": self.token,
            "pid": self.pid,
            "apps": self.apps,
            "ca_file": self.ca_file,
        }


class EmulatorServer:
    """The API site plus the controller; `start()` then `close()`, both on the running loop."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.home = options.home or emulator_home()
        self.ca = ensure_ca(self.home)
        self.controller = Controller(
            Platform(),
            options.settings,
            host=check_loopback(options.host),
            tls=self.ca.server_context(),
            home=self.home,
            build_output=_print_build_line,
        )
        self.context = ApiContext(
            controller=self.controller, token=options.token, ca_file=str(self.ca.cert_file)
        )
        self._runner: web.AppRunner | None = None
        self.api_url = ""

    async def start(self) -> ReadyInfo:
        """Listen, deploy every app (web=1 booting in the background), write the ready file."""
        self._runner = web.AppRunner(create_api(self.context), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.host, self.options.port)
        try:
            await site.start()
        except OSError as exc:
            raise EmulatorError(
                f"Cannot listen on {self.options.host}:{self.options.port} ({exc.strerror}): "
                "choose another --port, or 0 for any free port."
            ) from exc
        port = self._runner.addresses[0][1]
        host = f"[{self.options.host}]" if ":" in self.options.host else self.options.host
        self.api_url = f"http://{host}:{port}"
        for name, app_dir in self.options.apps or [(DEFAULT_APP_NAME, DEMO_APP_DIR)]:
            await self._add_app(name, Path(app_dir))
        info = ReadyInfo(
            api_url=self.api_url,
            token=self.options.token,
            pid=os.getpid(),
            apps=self._apps(),
            ca_file=str(self.ca.cert_file),
        )
        if self.options.ready_file is not None:
            write_private_json(self.options.ready_file, info.as_json())
        return info

    async def _add_app(self, name: str, app_dir: Path) -> None:
        if not (app_dir / "Procfile").is_file():
            raise EmulatorError(
                f"{app_dir} has no Procfile: give --app NAME=DIR a directory with a Procfile."
            )
        addons = DEMO_ADDONS if app_dir.resolve() == DEMO_APP_DIR else ()
        try:
            await self.controller.add_local_app(name, app_dir, addons=addons)
        except HarnessError:  # e.g. a Procfile that does not parse: already says what to do
            raise
        except BuildFailed as exc:  # its log went to the output line by line
            raise EmulatorError(f"The build of app {name!r} from {app_dir} failed. {exc}") from exc
        except ApiError as exc:
            raise EmulatorError(f"Cannot create app {name!r} from {app_dir}: {exc.message}") from exc

    def _apps(self) -> dict[str, dict[str, str | None]]:
        return {a.name: {"id": a.id, "web_url": a.web_url} for a in self.controller.platform.apps.values()}

    async def close(self) -> None:
        """Stop dynos and routers (tails see it), end log streams and the API site, drop the ready file."""
        for task in list(self.context.background):  # running builds: their pip is killed
            task.cancel()
        await asyncio.gather(*self.context.background, return_exceptions=True)
        await self.controller.close()
        await self.context.close_streams()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.options.ready_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.options.ready_file.unlink()


def _print_build_line(line: str) -> None:
    """A build log line on the emulator's output, as `git push heroku` shows the build."""
    print(line, flush=True)


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (temp file + rename) with mode 0600: it holds the token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ready-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PARENT_POLL_S = 0.5


async def _watch_parent(stop: asyncio.Event) -> None:
    """Stop when the process that started us is gone (we get re-parented), e.g. a test run killed -9."""
    parent = os.getppid()
    while not stop.is_set():
        await asyncio.sleep(PARENT_POLL_S)
        if os.getppid() != parent:
            stop.set()


async def run(options: ServerOptions, on_ready: Callable[[ReadyInfo], None] | None = None) -> None:
    """Start, report readiness, wait for SIGINT/SIGTERM/SIGHUP (or the parent's exit), stop everything."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    watcher = loop.create_task(_watch_parent(stop)) if options.exit_with_parent else None
    server = EmulatorServer(options)
    try:
        info = await server.start()
        if on_ready is not None:
            on_ready(info)
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await server.close()
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


def serve(options: ServerOptions, on_ready: Callable[[ReadyInfo], None] | None = None) -> None:
    """Run the emulator in this process until SIGINT/SIGTERM (blocking), on uvloop when installed.

    uvloop is what the router's throughput figures (bench/router_bench.py) were measured on.
    """
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(options, on_ready))
    else:
        uvloop.run(run(options, on_ready))
