"""A local Heroku on loopback: the Platform API (`api.py`), dynos as processes (`runtime.py`), the router.

Run it with `harness emulator serve` (or `python -m harness.emulator serve`);
from Python and tests, start it as a subprocess with `EmulatorProcess.start()`.
The emulator runs on asyncio in a process of its own, never in a
gevent-patched one. `EmulatorProcess` is imported lazily so that dynos
(`python -m harness.emulator.demo_app`) start without loading an HTTP client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.emulator.process import EmulatorProcess

__all__ = ["EmulatorProcess"]


def __getattr__(name: str) -> Any:
    if name == "EmulatorProcess":
        from harness.emulator.process import EmulatorProcess

        return EmulatorProcess
    raise AttributeError(f"module 'harness.emulator' has no attribute {name!r}")
