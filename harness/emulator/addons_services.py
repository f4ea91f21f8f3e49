"""Service processes behind add-ons: finding Debian's binaries, running them on loopback, stopping them.

A service (PostgreSQL's `postgres`, `redis-server`) runs as a child of the
emulator in its own session, so stopping it signals its whole process group;
on Linux it also gets `PR_SET_PDEATHSIG` (SIGKILL), so it dies with the
emulator even if the emulator is killed. PostgreSQL refuses to run as root:
when the emulator is root (CI), its server runs as the `postgres` user that
Debian's package creates, and owns its data directory.

A missing binary is an `AddonServiceError` naming the Debian package to
install: the message is one paragraph that says what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import signal
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.emulator.dynos import die_with_parent, free_port, kill_group, port_accepts, release_port
from harness.errors import EmulatorError

__all__ = [
    "AddonServiceError",
    "RedisServer",
    "ServiceProcess",
    "ServiceUser",
    "find_binary",
    "private_dir",
    "run_tool",
    "service_user",
]

# PostgreSQL's server binaries are not on PATH in Debian: they live per major version here.
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0
READY_POLL_S = 0.05


class AddonServiceError(EmulatorError):
    """An add-on's service could not be provisioned (binary missing, server failed to start)."""


def _version_key(directory: str) -> tuple[int, ...]:
    version = Path(directory).parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def find_binary(name: str, *, package: str, service: str) -> str:
    """The path of `name`: on PATH, else the newest `/usr/lib/postgresql/<major>/bin/<name>`."""
    found = shutil.which(name)
    if found:
        return found
    for directory in sorted(glob.glob(POSTGRES_BIN_GLOB), key=_version_key, reverse=True):
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise AddonServiceError(
        f"Cannot provision {service}: the program `{name}` was not found on PATH"
        f"{' or in ' + POSTGRES_BIN_GLOB if package == 'postgresql' else ''}. "
        f"Install Debian's `{package}` package (`apt-get install {package}`) and try again."
    )


@dataclass(frozen=True)
class ServiceUser:
    """Who a service process runs as (uid/gid), when the emulator must drop root for it."""

    name: str
    uid: int
    gid: int


def service_user(name: str, *, needed_by: str) -> ServiceUser | None:
    """None when the emulator is not root; the system user `name` when it is (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise AddonServiceError(
            f"Cannot provision {needed_by}: the emulator runs as root and PostgreSQL refuses to, "
            f"but there is no `{name}` user to run it as. Install Debian's `postgresql` package "
            "(it creates that user) or run the emulator as an ordinary user."
        ) from None
    return ServiceUser(name, entry.pw_uid, entry.pw_gid)


def _preexec(user: ServiceUser | None) -> Callable[[], None]:
    def preexec() -> None:
        if user is not None:
            os.setgroups([])
            os.setgid(user.gid)
            os.setuid(user.uid)
        die_with_parent()  # after the uid change, which would clear it

    return preexec


def private_dir(prefix: str, user: ServiceUser | None) -> Path:
    """A fresh 0700 directory (owned by `user` when given): a service's data lives only there."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if user is not None:
        os.chown(path, user.uid, user.gid)
    return path


async def run_tool(
    argv: Sequence[str], *, user: ServiceUser | None, env: Mapping[str, str], stdin: bytes | None = None
) -> tuple[int, str]:
    """Run a short-lived tool (initdb, psql) to completion: (exit status, its output)."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=dict(env),
        cwd="/",
        preexec_fn=_preexec(user),
        start_new_session=True,
    )
    output, _ = await process.communicate(stdin)
    return int(process.returncode or 0), output.decode("utf-8", "replace")


class ServiceProcess:
    """One long-running service on a loopback port: started, probed until it accepts, stopped by PID."""

    stop_signal = signal.SIGTERM

    def __init__(self, *, name: str, workdir: Path, user: ServiceUser | None = None) -> None:
        self.name = name
        self.workdir = workdir
        self.user = user
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        """The service's process id while it runs."""
        return self.process.pid if self.process is not None else None

    @property
    def log_path(self) -> Path:
        return self.workdir / "service.log"

    async def launch(self, argv: Sequence[str], *, stdin: bytes | None = None) -> None:
        """Start `argv` (output to the service log) and wait until its port accepts connections."""
        with self.log_path.open("ab") as log:
            if self.user is not None:
                os.chown(self.log_path, self.user.uid, self.user.gid)
            self.process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env=_service_env(),
                cwd=str(self.workdir),
                preexec_fn=_preexec(self.user),
                start_new_session=True,
            )
        if stdin is not None and self.process.stdin is not None:
            self.process.stdin.write(stdin)
            await self.process.stdin.drain()
            self.process.stdin.close()
        await self._await_port()

    async def _await_port(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT_S
        while loop.time() < deadline:
            if self.process is None or self.process.returncode is not None:
                raise AddonServiceError(
                    f"{self.name} exited before it accepted connections. Its log:\n{self.log_tail()}"
                )
            if await port_accepts(self.port, timeout_s=0.5):
                return
            await asyncio.sleep(READY_POLL_S)
        raise AddonServiceError(
            f"{self.name} did not accept connections on 127.0.0.1:{self.port} within "
            f"{READY_TIMEOUT_S:g} s. Its log:\n{self.log_tail()}"
        )

    def log_tail(self, max_chars: int = 2000) -> str:
        """The end of the service's own log (for error messages)."""
        try:
            return self.log_path.read_text("utf-8", errors="replace")[-max_chars:]
        except FileNotFoundError:
            return ""

    async def stop(self) -> None:
        """Stop signal to the group, SIGKILL after the grace; then its directory (and data) is removed."""
        process = self.process
        if process is not None and process.returncode is None:
            kill_group(process.pid, self.stop_signal)
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE_S)
            except TimeoutError:
                kill_group(process.pid, signal.SIGKILL)
                await process.wait()
        if process is not None:
            kill_group(process.pid, signal.SIGKILL)  # anything it left behind in its group
        release_port(self.port)
        with contextlib.suppress(OSError):
            shutil.rmtree(self.workdir)


def _service_env() -> dict[str, str]:
    """The emulator's environment without its API token: a service needs neither that nor config vars."""
    return {k: v for k, v in os.environ.items() if k != "HARNESS_EMULATOR_TOKEN"}


class RedisServer(ServiceProcess):
    """One `redis-server` per heroku-redis add-on: password, memory limit, nothing saved to disk."""

    @classmethod
    async def start(cls, *, password: str, maxmemory_mb: int) -> RedisServer:
        """Start a server; its config (with the password) goes through stdin, never the command line."""
        binary = find_binary("redis-server", package="redis-server", service="heroku-redis")
        server = cls(name="redis-server", workdir=private_dir("harness-redis-", None))
        config = "\n".join(
            [
                f"port {server.port}",
                "bind 127.0.0.1",
                "protected-mode yes",
                f"requirepass {password}",
                'save ""',
                "appendonly no",
                f"dir {server.workdir}",
                f"maxmemory {maxmemory_mb}mb",
                "maxmemory-policy noeviction",
                "daemonize no",
                "",
            ]
        )
        try:
            await server.launch([binary, "-"], stdin=config.encode())
        except BaseException:
            await server.stop()
            raise
        return server
