"""Small target apps of our own for tests and benches, each run as a process on a loopback port."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

QUEUE_SERVER = Path(__file__).with_name("queue_server.py")


@contextmanager
def queue_server(*args: str, start_timeout_s: float = 20.0) -> Iterator[str]:
    """Start `queue_server.py ARGS` on a free port; yield its base URL; stop it by PID."""
    process = subprocess.Popen(
        [sys.executable, str(QUEUE_SERVER), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "listening on PORT" (the first line it prints)
        if not line.startswith("listening on "):
            raise RuntimeError(f"queue_server did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[-1])}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=start_timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
