"""Drive a real `harness` process the way a user would (STYLE §11).

`HarnessProcess` starts `python -m harness ...` with Popen, reads stdout and
stderr in background threads, lets a test wait for a line (`expect`), send a
signal, and always ends the process by PID in `close()`. Every process the test
starts carries a marker in its environment, so `survivors()` can prove that the
emulator and its dynos are gone afterwards (they inherit the environment).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

MARK = "HARNESS_TEST_PROCESS_MARK"


class HarnessProcess:
    """A running `harness` command with its output collected as it arrives."""

    def __init__(self, args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None) -> None:
        self.mark = uuid.uuid4().hex
        full_env = dict(os.environ if env is None else env)
        full_env[MARK] = self.mark
        full_env["PYTHONUNBUFFERED"] = "1"
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "harness", *args],
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._read, args=(self.popen.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.popen.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: object, sink: list[str]) -> None:
        for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
            with self._lock:
                sink.append(raw.decode(errors="replace"))

    @property
    def output(self) -> str:
        """Everything printed so far, stdout then stderr."""
        with self._lock:
            return "".join(self.stdout) + "".join(self.stderr)

    def expect(self, text: str, timeout_s: float = 120.0) -> None:
        """Wait until `text` appears in the output (or fail with the output so far)."""
        __tracebackhide__ = True
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in self.output:
                return
            if self.popen.poll() is not None and text not in self.output:
                time.sleep(0.3)  # let the readers drain
                if text in self.output:
                    return
                code = self.popen.returncode
                raise AssertionError(f"harness exited ({code}) before {text!r}:\n{self.output}")
            time.sleep(0.2)
        raise AssertionError(f"{text!r} did not appear within {timeout_s:.0f} s:\n{self.output}")

    def send(self, signum: int) -> None:
        """Send a signal to the harness process (only it, by PID)."""
        self.popen.send_signal(signum)

    def wait(self, timeout_s: float = 300.0) -> int:
        """Wait for the exit code; readers are drained before returning."""
        code = self.popen.wait(timeout=timeout_s)
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def survivors(self) -> list[psutil.Process]:
        """Processes still alive that this harness process (or its children) started."""
        alive: list[psutil.Process] = []
        for proc in psutil.process_iter(["pid"]):
            try:
                if proc.pid != os.getpid() and proc.environ().get(MARK) == self.mark:
                    alive.append(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return alive

    def close(self) -> None:
        """SIGINT, then SIGKILL by PID; also end anything it left behind (marked by our environment)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        deadline = time.monotonic() + 10
        while self.survivors() and time.monotonic() < deadline:
            time.sleep(0.2)
        for proc in self.survivors():
            proc.kill()
