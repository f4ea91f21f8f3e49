"""Drive one `AppRuntime` in its own process, one JSON command per stdin line, one reply per stdout line.

Tests run under gevent's monkey patch (tests/conftest.py), where an asyncio loop
with child processes is not trustworthy, so the runtime lives here, in a plain
process, as it does inside the emulator. Run: `python -m tests.integration.runtime_driver APP_DIR`
[SETTINGS_JSON [LOOP [TLS_HOME]]]; with TLS_HOME the router serves HTTPS with that home's CA.
Replies are `{"ok": true, "result": ...}` or `{"ok": false, "error": "..."}`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from harness.emulator.logs import LogBuffer
from harness.emulator.runtime import AppRuntime, DynoInfo, DynoState, ReleaseRef, RuntimeSettings
from harness.emulator.tls import ensure_ca


def _dyno_json(info: DynoInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "type": info.type,
        "size": info.size,
        "state": info.state.value,
        "release": info.release.version,
        "pid": info.pid,
        "port": info.port,
        "boot_s": info.boot_s,
    }


class Driver:
    """Maps each command to an `AppRuntime` call."""

    def __init__(self, runtime: AppRuntime, logs: LogBuffer) -> None:
        self.runtime = runtime
        self.logs = logs

    async def op_formation(self, type: str, quantity: int, size: str = "Standard-1X", **kw: Any) -> None:
        release = ReleaseRef(kw.get("release_id", "r1"), kw.get("version", 1))
        await self.runtime.set_formation(type, quantity, size, release, kw.get("env", {}))

    async def op_restart(self, version: int, env: dict[str, str], **kw: Any) -> None:
        release = ReleaseRef(f"r{version}", version)
        await self.runtime.restart(release=release, env=env, **kw)

    async def op_dynos(self) -> list[dict[str, Any]]:
        return [_dyno_json(d) for d in self.runtime.dynos()]

    async def op_wait(self, type: str, count: int, state: str = "up", timeout_s: float = 20.0) -> Any:
        """Wait until exactly `count` dynos of `type` exist, all in `state`."""
        wanted = DynoState(state)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            dynos = [d for d in self.runtime.dynos() if d.type == type]
            if len(dynos) == count and all(d.state is wanted for d in dynos):
                return [_dyno_json(d) for d in dynos]
            await asyncio.sleep(0.02)
        raise TimeoutError(f"{type} never reached {count} x {state}: {await self.op_dynos()}")

    async def op_wait_log(self, text: str, timeout_s: float = 20.0) -> str:
        """Wait for a log line containing `text` (already there, or to come)."""
        subscription = self.logs.subscribe()
        for line in self.logs.recent(10_000):
            if text in line:
                return line
        async with asyncio.timeout(timeout_s):
            async for line in subscription:
                if text in line:
                    return line
        raise TimeoutError(text)

    async def op_crash(self, dyno: str) -> None:
        self.runtime.crash(dyno)

    async def op_fail_next_boots(self, n: int) -> None:
        self.runtime.fail_next_boots(n)

    async def op_settings(self, **changes: Any) -> None:
        self.runtime.settings = dataclasses.replace(self.runtime.settings, **changes)

    async def op_maintenance(self, on: bool) -> None:
        self.runtime.maintenance = on

    async def op_logs(self, n: int = 10_000, **filters: Any) -> list[str]:
        return self.logs.recent(n, **filters)

    async def op_info(self) -> dict[str, Any]:
        return {"web_url": self.runtime.web_url, "process_types": self.runtime.process_types}


async def _serve(app_dir: Path, settings: RuntimeSettings, tls_home: Path | None) -> None:
    logs = LogBuffer()
    tls = ensure_ca(tls_home).server_context() if tls_home is not None else None
    runtime = AppRuntime(
        app_id="app-id-1", app_name="testapp", app_dir=app_dir, logs=logs, settings=settings, tls=tls
    )
    await runtime.start()
    driver = Driver(runtime, logs)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    _reply({"ok": True, "result": await driver.op_info()})
    try:
        while line := await reader.readline():
            command = json.loads(line)
            op = command.pop("op")
            if op == "close":
                break
            try:
                result = await getattr(driver, f"op_{op}")(**command)
            except Exception as exc:
                _reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
            else:
                _reply({"ok": True, "result": result})
    finally:
        await runtime.close()
        _reply({"ok": True, "result": "closed"})


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    app_dir = Path(sys.argv[1])
    settings = RuntimeSettings(**json.loads(sys.argv[2])) if len(sys.argv) > 2 else RuntimeSettings()
    tls_home = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    if len(sys.argv) > 3 and sys.argv[3] == "uvloop":
        import uvloop

        uvloop.run(_serve(app_dir, settings, tls_home))
    else:
        asyncio.run(_serve(app_dir, settings, tls_home))


if __name__ == "__main__":
    main()


class RuntimeProcess:
    """Test-side handle on a driver process: `call(op, **args)` sends a command and returns its result."""

    def __init__(
        self, app_dir: Path, *, loop: str = "asyncio", tls_home: Path | None = None, **settings: Any
    ) -> None:
        import subprocess

        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.runtime_driver",
                str(app_dir),
                json.dumps(settings),
                loop,
                *([str(tls_home)] if tls_home is not None else []),
            ],
            cwd=str(Path(__file__).resolve().parents[2]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        info = self._read()
        self.web_url: str = info["web_url"]
        self.closed = False

    def _read(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"runtime driver exited with {self.process.wait()}")
        reply = json.loads(line)
        if not reply["ok"]:
            raise RuntimeError(reply["error"])
        return reply["result"]

    def call(self, op: str, **args: Any) -> Any:
        """Run one driver command and return its result (RuntimeError if it failed)."""
        __tracebackhide__ = True
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        """Close the runtime (every dyno stopped) and wait for the driver to exit."""
        if self.closed:
            return
        self.closed = True
        try:
            self.call("close")
        finally:
            try:
                self.process.wait(timeout=30)
            except Exception:
                self.process.kill()
                self.process.wait()
