"""One-off dynos (`heroku run`): `POST /apps/{app}/dynos {command, attach}` runs a command next to the app.

A one-off dyno `run.<n>` runs the command in the app's directory with the
current release's config vars (plus the request's `env`), so `./manage.py
migrate` reaches the app's add-ons. It is listed among the app's dynos while
it runs and is gone when it exits. Detached, its output goes to the app's
log as `app[run.<n>]`; attached, the answer's `attach_url` is a capability
URL on the API's loopback port (`/rendezvous/<secret>`) that streams the
output and ends with Heroku's exit-status marker line
(`\\uFFFF heroku-command-exit-status: N`). Stopping the dyno (`DELETE
/apps/{app}/dynos/run.<n>`), deleting the app and stopping the emulator end
its whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from harness.emulator.api_error import ApiError, invalid
from harness.emulator.logs import LogBuffer
from harness.emulator.models import App
from harness.emulator.oneoff import run_oneoff
from harness.emulator.runtime import AppRuntime
from harness.emulator.sizes import canonical_size
from harness.emulator.state import Platform
from harness.emulator.supervisor import DynoInfo, DynoState, ReleaseRef

__all__ = ["EXIT_MARKER", "RENDEZVOUS_PREFIX", "OneOff", "OneOffControl"]

RENDEZVOUS_PREFIX = "/rendezvous/"
EXIT_MARKER = "\uffff heroku-command-exit-status: {status}"
ATTACH_KEEP_S = 60.0  # how long an attached one-off's output is kept after it exits
DEFAULT_TTL_S = 3600.0  # an hour (Heroku: 24 h); a one-off is killed when it runs longer


@dataclass(eq=False)
class OneOff:
    """A running one-off dyno: what the API shows of it, and (attached) its output so far."""

    info: DynoInfo
    secret: str | None
    lines: list[str] = field(default_factory=list)
    status: int | None = None
    task: asyncio.Task[None] | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, line: str) -> None:
        self.lines.append(line)
        self.changed.set()

    async def stream(self) -> AsyncIterator[str]:
        """Every output line from the start, then the exit marker once the command has exited."""
        sent = 0
        while True:
            self.changed.clear()
            while sent < len(self.lines):
                sent += 1
                yield self.lines[sent - 1] + "\n"
            if self.status is not None:
                yield EXIT_MARKER.format(status=self.status) + "\n"
                return
            await self.changed.wait()


class _ControlPlane(Protocol):
    platform: Platform
    oneoffs: dict[str, dict[str, OneOff]]

    def runtime(self, app: App) -> AppRuntime: ...

    def log_buffer(self, app: App) -> LogBuffer: ...

    def log_api(self, app: App, message: str) -> None: ...


class OneOffControl:
    """`run_dyno` / `one_off_dynos` / `stop_one_off` / `find_attached` of the `Controller`."""

    async def run_dyno(
        self: _ControlPlane,
        app: App,
        command: str,
        *,
        attach: bool,
        env: dict[str, str],
        size: str | None,
        time_to_live_s: float | None,
    ) -> OneOff:
        """Start a one-off dyno on the current release; returns at once (it runs in the background)."""
        runtime = self.runtime(app)
        current = app.current_release
        if current is None:
            raise invalid("This app has no release yet: deploy code before running a command.")
        if not command.strip():
            raise invalid("Require params: command.")
        try:
            dyno_size = canonical_size(size or "Standard-1X")
        except ValueError as exc:
            raise invalid(str(exc)) from None
        running = self.oneoffs.setdefault(app.id, {})
        number = next(n for n in range(1, len(running) + 2) if f"run.{n}" not in running)
        now = datetime.now(UTC)
        info = DynoInfo(
            id=str(uuid.uuid4()),
            name=f"run.{number}",
            type="run",
            size=dyno_size.name,
            command=command,
            state=DynoState.STARTING,
            release=ReleaseRef(current.id, current.version),
            created_at=now,
            updated_at=now,
            pid=None,
            port=None,
            boot_s=None,
        )
        oneoff = OneOff(info, secrets.token_urlsafe(24) if attach else None)
        running[info.name] = oneoff
        logs = self.log_buffer(app)
        self.log_api(app, f"Starting process with command `{command}` by user {self.platform.account.email}")

        def started(pid: int) -> None:
            info.pid, info.state, info.updated_at = pid, DynoState.UP, datetime.now(UTC)

        async def run() -> None:
            try:
                oneoff.status = await run_oneoff(
                    command,
                    name=info.name,
                    app_dir=runtime.app_dir,
                    bin_dir=runtime.bin_dir,
                    config={**current.config, **env},
                    release_version=current.version,
                    logs=logs,
                    timeout_s=time_to_live_s or DEFAULT_TTL_S,
                    size=dyno_size.name,
                    on_line=oneoff.add if attach else None,
                    on_started=started,
                )
            finally:
                if oneoff.status is None:
                    oneoff.status = 137
                oneoff.changed.set()
                if attach:  # its output stays readable for a while: the client may attach late
                    asyncio.get_running_loop().call_later(ATTACH_KEEP_S, running.pop, info.name, None)
                else:
                    running.pop(info.name, None)

        oneoff.task = asyncio.get_running_loop().create_task(run(), name=f"one-off {info.name}")
        return oneoff

    def one_off_dynos(self: _ControlPlane, app: App) -> list[DynoInfo]:
        """The app's running one-off dynos, by number."""
        running = self.oneoffs.get(app.id, {})
        names = sorted(running, key=lambda n: int(n.split(".")[1]))
        return [running[n].info for n in names if running[n].status is None]

    async def stop_one_offs(self: _ControlPlane, app: App, name: str | None = None) -> None:
        """Kill one (or every) one-off dyno of the app: its process group ends (status 137)."""
        running = self.oneoffs.get(app.id, {})
        for oneoff in [o for n, o in list(running.items()) if name in (None, n)]:
            if oneoff.task is not None and not oneoff.task.done():
                oneoff.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await oneoff.task

    def find_attached(self: _ControlPlane, secret: str) -> OneOff:
        """The attached one-off dyno with this rendezvous secret; 404 otherwise."""
        for running in self.oneoffs.values():
            for oneoff in running.values():
                if oneoff.secret is not None and secrets.compare_digest(oneoff.secret, secret):
                    return oneoff
        raise ApiError(404, "not_found", "Couldn't find that process (it may have exited).")
