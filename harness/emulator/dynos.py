"""Dyno processes on this machine: environment, spawning, stopping and sampling.

A dyno's size reaches its process as Heroku sets it (``DYNO_SIZE``,
``WEB_CONCURRENCY``: see `sizes.py`).

Process cleanup: each dyno runs in its own session (process group), so the
whole group is signalled on stop; and on Linux it gets ``PR_SET_PDEATHSIG``
(SIGKILL), so if the emulator itself dies its dynos die with it. That signal
reaches the process bash runs: a simple Procfile command (bash execs it) or,
for a compound one (``a && b``), bash itself; children such a process forks
(gunicorn workers) must notice their parent is gone, as gunicorn's do.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import math
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.emulator.sizes import DynoSize

__all__ = [
    "LoadAverage",
    "MetricsSample",
    "die_with_parent",
    "dyno_environment",
    "format_metrics",
    "free_port",
    "kill_group",
    "port_accepts",
    "release_port",
    "sample_metrics",
    "spawn",
]


# The emulator's own secrets never reach app code; and a dyno is not a CI job, even when the emulator runs
# in one (apps such as python-getting-started choose their production settings on `DYNO` and not `CI`).
_NOT_IN_DYNOS = frozenset({"HARNESS_EMULATOR_TOKEN", "CI"})


def dyno_environment(
    *,
    config: Mapping[str, str],
    dyno_name: str,
    size: DynoSize,
    release_version: int,
    port: int | None,
    bin_dir: Path | None = None,
) -> dict[str, str]:
    """os.environ + config vars + the variables Heroku sets in a dyno.

    `bin_dir` (the app's own virtualenv, from its build) goes first on PATH, so a
    Procfile's `python`/`gunicorn` is the app's, as if activated; without one, the
    running interpreter's directory (harness's own environment: the demo app).
    """
    env = {k: v for k, v in os.environ.items() if k not in _NOT_IN_DYNOS}
    env.update({k: v for k, v in config.items() if v is not None})
    if config.get("WEB_CONCURRENCY") is None:
        env["WEB_CONCURRENCY"] = str(size.web_concurrency)
    env["DYNO"] = dyno_name
    env["DYNO_SIZE"] = size.name
    env["HEROKU_RELEASE_VERSION"] = f"v{release_version}"
    env["PYTHONUNBUFFERED"] = env.get("PYTHONUNBUFFERED", "1")
    first = bin_dir or Path(sys.executable).parent
    env["PATH"] = os.pathsep.join([str(first), env.get("PATH", os.defpath)])
    if bin_dir is not None:
        env["VIRTUAL_ENV"] = str(bin_dir.parent)
        env.pop("PYTHONHOME", None)
    if port is not None:
        env["PORT"] = str(port)
    else:
        env.pop("PORT", None)
    return env


def _prctl() -> Callable[[int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return lambda option, value: int(libc.prctl(option, value, 0, 0, 0))


_PR_SET_PDEATHSIG = 1
_prctl_call = _prctl()


def die_with_parent() -> None:
    """In a child before exec: ask Linux to SIGKILL it when the emulator dies (a no-op elsewhere).

    Changing the uid clears the setting, so a child that drops privileges calls this afterwards.
    """
    if _prctl_call is not None:
        _prctl_call(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _die_with_parent() -> Callable[[], None] | None:
    """The preexec_fn for dynos (None where there is no prctl)."""
    return die_with_parent if _prctl_call is not None else None


_PREEXEC = _die_with_parent()


async def spawn(command: str, *, cwd: Path, env: Mapping[str, str]) -> asyncio.subprocess.Process:
    """Start `command` with bash (as Heroku does) in its own session; stdout+stderr merged into one pipe."""
    shell = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
    return await asyncio.create_subprocess_exec(
        shell,
        "-c",
        command,
        cwd=str(cwd),
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_PREEXEC,
        limit=1 << 20,
    )


def kill_group(pid: int, sig: signal.Signals) -> None:
    """Send `sig` to the dyno's whole process group (its session); a group already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


_reserved_ports: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A free loopback TCP port not handed out before by this process (the kernel picks it)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in _reserved_ports:
            _reserved_ports.add(port)
            return port
    raise RuntimeError("no free loopback port found in 100 tries")


def release_port(port: int) -> None:
    """Let `free_port` hand out `port` again (after its dyno has stopped)."""
    _reserved_ports.discard(port)


async def port_accepts(port: int, host: str = "127.0.0.1", timeout_s: float = 0.5) -> bool:
    """True when a TCP connection to host:port succeeds (the dyno has bound $PORT)."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


@dataclass(frozen=True)
class MetricsSample:
    """One runtime-metrics sample of a dyno's process tree (memory in MB)."""

    load_avg: tuple[float, float, float]
    rss_mb: float
    swap_mb: float
    pgpgin: int
    pgpgout: int


class LoadAverage:
    """A dyno's own 1/5/15-minute load average, from its process tree's CPU time.

    The kernel's figure is machine-wide; a dyno's is its container's. Here each
    sample's CPU use since the last one (CPU-seconds per second: busy cores)
    is folded into exponentially damped averages as the kernel does
    (load = load·e^(-Δt/τ) + busy·(1 - e^(-Δt/τ)), τ = 60, 300, 900 s). Tasks
    waiting for a CPU are not seen, so on a crowded machine it reads low.
    """

    _TAUS_S = (60.0, 300.0, 900.0)

    def __init__(self) -> None:
        self.values = (0.0, 0.0, 0.0)
        self._last: tuple[float, float] | None = None  # (wall time, cpu seconds)

    def update(self, cpu_s: float, now: float, started: float) -> tuple[float, float, float]:
        """Fold in the tree's total CPU seconds at `now` (first call: since `started`)."""
        then, cpu_then = self._last if self._last is not None else (started, 0.0)
        elapsed = now - then
        if elapsed > 0:
            busy = max(0.0, cpu_s - cpu_then) / elapsed
            decay = [math.exp(-elapsed / tau) for tau in self._TAUS_S]
            one, five, fifteen = (v * d + busy * (1 - d) for v, d in zip(self.values, decay, strict=True))
            self.values = (one, five, fifteen)
        self._last = (now, cpu_s)
        return self.values


def sample_metrics(pid: int, load: LoadAverage | None = None) -> MetricsSample | None:
    """Memory and CPU load of the dyno's process tree (its own, not the machine's); None if gone."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
        started = root.create_time()
    except psutil.Error:
        return None
    rss = swap = cpu_s = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            rss += float(process.memory_info().rss)
            times = process.cpu_times()
            cpu_s += times.user + times.system
    averages = load.update(cpu_s, time.time(), started) if load is not None else (0.0, 0.0, 0.0)
    return MetricsSample(averages, rss / 1e6, swap / 1e6, 0, 0)


def format_metrics(dyno_name: str, dyno_ref: str, sample: MetricsSample, quota_mb: float) -> list[str]:
    """Heroku's two log-runtime-metrics lines (load, then memory) for one dyno."""
    prefix = f"source={dyno_name} dyno={dyno_ref}"
    one, five, fifteen = sample.load_avg
    load = (
        f"{prefix} sample#load_avg_1m={one:.2f} sample#load_avg_5m={five:.2f} "
        f"sample#load_avg_15m={fifteen:.2f}"
    )
    total = sample.rss_mb + sample.swap_mb
    memory = (
        f"{prefix} sample#memory_total={total:.2f}MB sample#memory_rss={sample.rss_mb:.2f}MB "
        f"sample#memory_cache=0.00MB sample#memory_swap={sample.swap_mb:.2f}MB "
        f"sample#memory_pgpgin={sample.pgpgin}pages sample#memory_pgpgout={sample.pgpgout}pages "
        f"sample#memory_quota={quota_mb:.2f}MB"
    )
    return [load, memory]
