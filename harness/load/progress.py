"""The live progress line on stderr: what the step is, what it offers, what came back, how long it has left.

A Locust or k6 user reads a step as "target level, achieved rate, errors,
latency, time left"; for a search the time left is the current step's (its
ramp and hold), next to how many steps ran so far, since the search decides
how many there will be (issue 11).
"""

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

    phase: str  # the step's kind or label: "hold", "probe 2", "bisect 1", "confirm"…
    users: int
    rps: float | None  # achieved, over the trailing window
    p95_ms: float | None
    error_ratio: float | None
    time_left_s: float  # of the scenario when its length is planned, else of the current step
    offered_rps: float | None = None  # arrival-rate mode: the level the step offers
    step: int | None = None  # steps so far, this one included (a search: its length is not planned)

    def render(self, scenario: str) -> str:
        """One line, e.g. 'shop | probe 2 | offered 400 req/s | 392.1 req/s | err 0.0% | p95 45 ms |
        40 users | step 2, 0:07 left'."""
        offered = [] if self.offered_rps is None else [f"offered {self.offered_rps:,.0f} req/s"]
        rps = "- req/s" if self.rps is None else f"{self.rps:,.1f} req/s"
        err = "err -" if self.error_ratio is None else f"err {self.error_ratio:.1%}"
        p95 = "p95 -" if self.p95_ms is None else f"p95 {self.p95_ms:,.0f} ms"
        minutes, seconds = divmod(round(max(0.0, self.time_left_s)), 60)
        left = f"{minutes}:{seconds:02d} left"
        if self.step is not None:
            left = f"step {self.step}, {left}"
        fields = [scenario, self.phase, *offered, rps, err, p95, f"{self.users} users", left]
        return " | ".join(fields)


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
