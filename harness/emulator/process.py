"""`EmulatorProcess`: run the emulator as a subprocess, the way tests and `harness run` use it.

The emulator runs on asyncio and must never share a process with gevent
(Locust), so it always runs as `python -m harness.emulator serve` in a new
session. `start()` waits for its ready file; `stop()` sends SIGTERM (every
dyno is stopped through `AppRuntime.close()`), waits, and SIGKILLs the
process group it started if it has to. If this process dies without stopping
it, the emulator notices it was orphaned and stops itself (`--exit-with-parent`).
The token travels in the child's environment, never on its command line
(visible to `ps`).

The fault helpers call the admin endpoints under `/__emulator/` (see `api.py`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from harness.errors import EmulatorError

__all__ = ["EmulatorProcess"]

TOKEN_ENV = "HARNESS_EMULATOR_TOKEN"
# Ready means built: an app's first build installs its dependencies from PyPI (cached after that).
READY_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 30.0
ADMIN_TIMEOUT_S = 30.0
# Settings with a dedicated `serve` flag; every other RuntimeSettings field goes through --setting.
_FLAGS = {
    "boot_timeout_s": "--boot-timeout",
    "router_timeout_s": "--router-timeout",
    "metrics_interval_s": "--metrics-interval",
    "boot_delay_s": "--boot-delay",
}


class EmulatorProcess:
    """A running emulator subprocess: its URLs, token, pid, and the fault-injection knobs."""

    def __init__(self, popen: subprocess.Popen[bytes], ready: Mapping[str, Any], workdir: Path) -> None:
        self._popen = popen
        self._ready = dict(ready)
        self._workdir = workdir
        self._client = httpx.Client(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=ADMIN_TIMEOUT_S,
        )

    # -- lifecycle ----------------------------------------------------------

    @classmethod
    def start(
        cls,
        apps: Mapping[str, str | Path] | None = None,
        token: str | None = None,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        ready_timeout_s: float = READY_TIMEOUT_S,
        home: Path | None = None,
        **settings: float | int | bool,
    ) -> EmulatorProcess:
        """Start `python -m harness.emulator serve` and wait until it is ready.

        `apps` maps app names to directories with a Procfile (default: the demo
        app as `harness-demo`); `settings` are `RuntimeSettings` fields, e.g.
        `boot_timeout_s=10, router_timeout_s=2, shutdown_grace_s=1`. `home`: the emulator home
        (its HTTPS CA, app builds); default `HARNESS_EMULATOR_HOME` or ~/.cache/harness/emulator.
        """
        workdir = Path(tempfile.mkdtemp(prefix="harness-emulator-"))
        ready_file = workdir / "ready.json"
        command = [sys.executable, "-m", "harness.emulator", "serve", "--host", host, "--port", str(port)]
        command += ["--ready-file", str(ready_file), "--exit-with-parent"]
        if home is not None:
            command += ["--home", str(Path(home).resolve())]
        for name, directory in (apps or {}).items():
            command += ["--app", f"{name}={Path(directory).resolve()}"]
        for name, value in settings.items():
            flag = _FLAGS.get(name)
            command += [flag, str(value)] if flag else ["--setting", f"{name}={value}"]
        env = dict(os.environ, **{TOKEN_ENV: token or secrets.token_urlsafe(24)})
        log = (workdir / "emulator.log").open("wb")
        popen = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()
        try:
            ready = cls._wait_ready(popen, ready_file, workdir, ready_timeout_s)
        except BaseException:
            _terminate(popen, STOP_TIMEOUT_S)
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        return cls(popen, ready, workdir)

    @staticmethod
    def _wait_ready(popen: subprocess.Popen[bytes], ready_file: Path, workdir: Path, timeout_s: float) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready_file.exists():
                return json.loads(ready_file.read_text("utf-8"))
            if popen.poll() is not None:
                raise EmulatorError(
                    f"The emulator exited with status {popen.returncode} before it was ready. "
                    f"Its output:\n{_tail(workdir / 'emulator.log')}"
                )
            time.sleep(0.05)
        raise EmulatorError(
            f"The emulator was not ready within {timeout_s:g} s. "
            f"Its output:\n{_tail(workdir / 'emulator.log')}"
        )

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, wait up to `timeout_s`, then SIGKILL its process group; returns the exit status."""
        self._client.close()
        status = _terminate(self._popen, timeout_s)
        shutil.rmtree(self._workdir, ignore_errors=True)
        return status

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<EmulatorProcess pid={self.pid} api_url={self.api_url} token=[secure]>"

    # -- what it exposes -----------------------------------------------------

    @property
    def api_url(self) -> str:
        """Base URL of the Platform API, e.g. `http://127.0.0.1:41234` (use as HEROKU_API_URL)."""
        return str(self._ready["api_url"])

    @property
    def token(self) -> str:
        """The bearer token the API accepts."""
        return str(self._ready["token"])

    @property
    def pid(self) -> int:
        """The emulator's process id."""
        return self._popen.pid

    @property
    def apps(self) -> list[str]:
        """Names of the apps it started with."""
        return list(self._ready["apps"])

    @property
    def running(self) -> bool:
        """Whether the process is still alive."""
        return self._popen.poll() is None

    @property
    def ca_file(self) -> Path:
        """The CA certificate (PEM) that signs the routers' HTTPS certificates: trust it, and only it."""
        return Path(self._ready["ca_file"])

    def web_url(self, app: str) -> str:
        """The app's router URL, e.g. `https://127.0.0.1:40001/` (plain http:// works on the same port)."""
        return str(self._app(app)["web_url"])

    def app_id(self, app: str) -> str:
        """The app's uuid."""
        return str(self._app(app)["id"])

    def output(self) -> str:
        """What the emulator printed so far (stdout and stderr)."""
        return _tail(self._workdir / "emulator.log", max_chars=1_000_000)

    def _app(self, name: str) -> Mapping[str, Any]:
        try:
            return dict(self._ready["apps"][name])
        except KeyError:
            raise KeyError(f"the emulator has no app {name!r} (it runs {', '.join(self.apps)})") from None

    # -- fault injection -----------------------------------------------------

    def fail_next(self, n: int, status: int, method: str | None = None, path: str | None = None) -> None:
        """The next `n` Platform API calls (matching method / path prefix) answer `status` (500/503/429)."""
        self._admin("POST", "faults", {"count": n, "status": status, "method": method, "path": path})

    def clear_faults(self) -> None:
        """Drop pending injected failures and end a freeze."""
        self._admin("DELETE", "faults")

    def freeze(self, seconds: float, method: str | None = None, path: str | None = None) -> None:
        """Hold every Platform API request (or those matching method / path prefix) for `seconds`."""
        self._admin("POST", "freeze", {"seconds": seconds, "method": method, "path": path})

    def drain_rate_limit(self, remaining: int) -> None:
        """Leave exactly `remaining` calls in the rate-limit bucket."""
        self._admin("POST", "rate-limit", {"remaining": remaining})

    def crash_dyno(self, app: str, name: str) -> None:
        """SIGKILL one dyno's process (it becomes `crashed`, then restarts as on Heroku)."""
        self._admin("POST", f"apps/{app}/dynos/{name}/crash")

    def fail_next_boots(self, app: str, n: int) -> None:
        """The app's next `n` dyno boots exit at once."""
        self._admin("POST", f"apps/{app}/fail-next-boots", {"count": n})

    def set_settings(self, app: str, **settings: float | int | bool) -> dict[str, Any]:
        """Change `RuntimeSettings` fields of one app now, e.g. `boot_delay_s=2, router_timeout_s=1`."""
        return dict(self._admin("PATCH", f"apps/{app}/settings", settings))

    def log_line(self, app: str, message: str, *, source: str = "heroku", dyno: str = "router") -> str:
        """Put one line into the app's log (e.g. a malformed router line); returns it as logged."""
        body = {"message": message, "source": source, "dyno": dyno}
        return str(self._admin("POST", f"apps/{app}/logs", body)["line"])

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """Journal of API requests after `since`: method, path, query, headers (no Authorization), body."""
        return list(self._admin("GET", f"requests?since={since}"))

    def clear_requests(self) -> None:
        """Empty the request journal."""
        self._admin("DELETE", "requests")

    def processes(self, app: str) -> list[dict[str, Any]]:
        """The app's dynos with pid and port (for checks that nothing is left running)."""
        return list(self._admin("GET", f"apps/{app}/processes"))

    def _admin(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        response = self._client.request(method, f"/__emulator/{path}", json=body)
        if response.status_code >= 400:
            raise EmulatorError(
                f"Emulator admin call {method} /__emulator/{path} failed: "
                f"{response.status_code} {response.text}"
            )
        return response.json()


def _terminate(popen: subprocess.Popen[bytes], timeout_s: float) -> int | None:
    """SIGTERM the process; SIGKILL its whole process group if it does not exit in time."""
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()
    return popen.returncode


def _tail(path: Path, max_chars: int = 4000) -> str:
    try:
        return path.read_text("utf-8", errors="replace")[-max_chars:]
    except FileNotFoundError:
        return ""
