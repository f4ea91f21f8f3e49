"""The live progress line on stderr: phase, users, rps, p95, error ratio, time left."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO

__all__ = ["Progress", "ProgressState"]

# Without a terminal (CI logs), print a full line at most this often instead of redrawing.
PLAIN_INTERVAL_S = 5.0


@dataclass(frozen=True, kw_only=True)
class ProgressState:
    """What the line shows; None figures are shown as '-'."""

    phase: str
    users: int
    rps: float | None
    p95_ms: float | None
    error_ratio: float | None
    time_left_s: float

    def render(self, scenario: str) -> str:
        """One line, e.g. 'shop | hold 2 | 40 users | 39.8 req/s | p95 45 ms | err 0.0% | 0:21 left'."""
        rps = "-" if self.rps is None else f"{self.rps:.1f} req/s"
        p95 = "-" if self.p95_ms is None else f"p95 {self.p95_ms:.0f} ms"
        err = "-" if self.error_ratio is None else f"err {self.error_ratio:.1%}"
        minutes, seconds = divmod(round(self.time_left_s), 60)
        return (
            f"{scenario} | {self.phase} | {self.users} users | {rps} | {p95} | {err} | "
            f"{minutes}:{seconds:02d} left"
        )


class Progress:
    """Redraws one line in a terminal, or prints a line every few seconds elsewhere; silent if disabled."""

    def __init__(self, scenario: str, *, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.scenario = scenario
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_plain = 0.0
        self._drawn = False

    def update(self, state: ProgressState) -> None:
        """Show `state` now (or soon, when not a terminal)."""
        if not self.enabled:
            return
        line = state.render(self.scenario)
        if self._tty:
            self.stream.write("\r\x1b[K" + line)
            self._drawn = True
        elif time.monotonic() - self._last_plain >= PLAIN_INTERVAL_S:
            self.stream.write(line + "\n")
            self._last_plain = time.monotonic()
        self.stream.flush()

    def close(self) -> None:
        """End the redrawn line so later output starts on a fresh one."""
        if self.enabled and self._tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
