"""One-off processes: the release phase (a Procfile's `release:` command) run before a release's dynos.

Heroku's Release Phase: when the current slug's Procfile has a `release`
process type, every new release (deploy, config or add-on change, rollback)
first runs that command in a one-off dyno (`release.<n>`) with the release's
config vars; the dynos restart on the release only if it exits 0. A failing
(or timed-out) command marks the release `failed`, and the dynos keep
running the previous release. The command's output goes to the app's log as
`app[release.<n>]`, as on Heroku.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections.abc import Callable, Mapping
from pathlib import Path

from harness.emulator.dynos import dyno_environment, kill_group, spawn
from harness.emulator.logs import LogBuffer
from harness.emulator.models import RELEASE_TYPE
from harness.emulator.sizes import canonical_size

__all__ = ["RELEASE_TYPE", "run_oneoff", "run_release_phase"]

# Heroku ends a release command after an hour; locally, 10 minutes is plenty and keeps tests bounded.
RELEASE_TIMEOUT_S = 600.0


async def run_oneoff(
    command: str,
    *,
    name: str,
    app_dir: Path,
    config: Mapping[str, str],
    release_version: int,
    logs: LogBuffer,
    timeout_s: float,
    size: str = "Standard-1X",
    on_line: Callable[[str], None] | None = None,
    on_started: Callable[[int], None] | None = None,
    bin_dir: Path | None = None,
) -> int:
    """Run `command` as dyno `name` to completion. Exit status (137: killed or timed out).

    Its output goes to `on_line` (attached) or else to `logs` as `app[<name>]`; `on_started` gets the pid.
    """
    env = dyno_environment(
        config=config,
        dyno_name=name,
        size=canonical_size(size),
        release_version=release_version,
        port=None,
        bin_dir=bin_dir,
    )
    logs.append("heroku", name, f"Starting process with command `{command}`")
    try:
        process = await spawn(command, cwd=app_dir, env=env)
    except OSError as exc:
        logs.append("heroku", name, f"Process failed to start: {exc}")
        return 127
    if on_started is not None:
        on_started(process.pid)

    def to_log(line: str) -> None:
        logs.append("app", name, line)

    sink = on_line or to_log
    pump = asyncio.get_running_loop().create_task(_pump(process, sink))
    try:
        status = await asyncio.wait_for(process.wait(), timeout_s)
    except TimeoutError:
        logs.append("heroku", name, f"Process timed out after {timeout_s:g} s: stopping it with SIGKILL")
        status = -signal.SIGKILL
    finally:
        kill_group(process.pid, signal.SIGKILL)  # the command itself (timeout, cancel) and what it left
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 5.0)
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(pump, 1.0)
    code = 128 - status if status < 0 else status
    logs.append("heroku", name, f"Process exited with status {code}")
    return code


async def _pump(process: asyncio.subprocess.Process, sink: Callable[[str], None]) -> None:
    if process.stdout is None:
        return
    while raw := await process.stdout.readline():
        sink(raw.decode("utf-8", "replace").rstrip("\r\n"))


async def run_release_phase(
    process_types: Mapping[str, str],
    *,
    app_dir: Path,
    config: Mapping[str, str],
    release_version: int,
    logs: LogBuffer,
    bin_dir: Path | None = None,
) -> bool:
    """Run the Procfile's `release` command for a release; True when there is none or it exits 0."""
    command = process_types.get(RELEASE_TYPE)
    if command is None:
        return True
    name = f"{RELEASE_TYPE}.{random.randint(1000, 9999)}"
    status = await run_oneoff(
        command,
        name=name,
        app_dir=app_dir,
        config=config,
        release_version=release_version,
        logs=logs,
        timeout_s=RELEASE_TIMEOUT_S,
        bin_dir=bin_dir,
    )
    return status == 0
