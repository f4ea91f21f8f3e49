"""The emulator's entry points as real processes: no gevent, clear errors."""

from __future__ import annotations

import socket
import subprocess
import sys


def test_the_emulator_entry_point_never_imports_gevent() -> None:
    code = "import sys, harness.emulator.__main__, harness.emulator.server; print('gevent' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_harness_emulator_never_imports_locust_or_gevent() -> None:
    probe = (
        "import atexit, sys; atexit.register(lambda: print('patched:', 'gevent' in sys.modules)); "
        "sys.argv = ['harness', 'emulator', 'serve', '--help']; from harness.cli import main; main()"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Usage: harness emulator serve" in result.stdout and "patched: False" in result.stdout


def test_a_busy_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "harness.emulator", "serve", "--port", str(port), "--token", "t"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 3, result.stderr
    assert "choose another --port" in result.stderr and "Traceback" not in result.stderr
