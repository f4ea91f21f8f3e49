"""One policy for Ctrl-C and SIGTERM, used by `harness run` and by every formation change.

What a signal does depends only on what harness is doing when it arrives (`Reaction`):

- `RAISE` (waiting for the platform: preflight, snapshot, scale-up): the first signal raises
  `Interrupted`, so every `finally` on the way out restores the formation;
- `STOP_LOAD` (load running): the first signal is only recorded; the load loop polls
  `stop_requested`, ends the scenario as 'interrupted', and the run restores and reports;
- `FINISH` (a restore or the report is running): recorded, never raised — nothing may
  interrupt a restore.

Only the first signal can ever raise; a second one is recorded, says so, and (for `harness run`)
skips the report, but never the restore. The exit code is 128 + the first signal, as a shell
reports it (130 for Ctrl-C, 143 for SIGTERM).
"""

from __future__ import annotations

import enum
import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Self

from harness.errors import EXIT_OK

__all__ = ["Interrupted", "Reaction", "SignalPolicy", "quiet_interrupts_under_gevent"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived during a formation change; raised so every `finally` restores.

    A KeyboardInterrupt so gevent's hub passes it to the main greenlet like Ctrl-C."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports it."""
        return 128 + self.signum


def quiet_interrupts_under_gevent() -> None:
    """Call before installing a handler that raises `Interrupted` (`SignalPolicy` does).

    Under gevent a signal handler may run in the hub, which prints any exception it raises before
    passing it (a KeyboardInterrupt) to the main greenlet; `Interrupted` is expected, so not printed."""
    hub_module = sys.modules.get("gevent.hub")
    if hub_module is None:
        return
    hub = hub_module.get_hub()
    if not issubclass(Interrupted, hub.NOT_ERROR):
        hub.NOT_ERROR = (*hub.NOT_ERROR, Interrupted)


class Reaction(enum.Enum):
    """What the first signal does now; set by whoever knows what is running."""

    RAISE = "raise"  # abort the current wait by raising Interrupted (the finally blocks restore)
    STOP_LOAD = "stop_load"  # record only: the load loop ends the scenario, then the run restores
    FINISH = "finish"  # record only: a restore or the report is running and must not be interrupted


_FIRST_NOTES = {
    Reaction.STOP_LOAD: "\nharness: stopping the load, then restoring (interrupt again: skip the report)\n",
    Reaction.FINISH: "harness: restoring the formation first; it exits when that is done.\n",
}
REPEAT_NOTE = "harness: restoring the formation first; it exits when that is done.\n"
REPEAT_NOTE_WITH_REPORT = "harness: the report will be skipped; the formation is still restored first.\n"


class SignalPolicy:
    """Installs handlers for SIGINT and SIGTERM while entered (main thread only) and applies the policy.

    `repeat_note` is what a second signal prints (`harness run` says the report is skipped)."""

    def __init__(self, *, reaction: Reaction = Reaction.RAISE, repeat_note: str = REPEAT_NOTE) -> None:
        self.reaction = reaction
        self.received: list[int] = []
        self._repeat_note = repeat_note.encode()
        self._previous: dict[int, object] = {}
        self._depth = 0

    @property
    def stop_requested(self) -> bool:
        """Whether a signal came: the load should stop now."""
        return bool(self.received)

    @property
    def skip_report(self) -> bool:
        """A second signal: restore, but do not render."""
        return len(self.received) >= 2

    @property
    def exit_code(self) -> int:
        """128 + the first signal (130 for Ctrl-C, 143 for SIGTERM); 0 when none came."""
        return 128 + self.received[0] if self.received else EXIT_OK

    def finish(self) -> None:
        """From now on signals are only recorded (a restore or the report is running)."""
        self.reaction = Reaction.FINISH

    def handle(self, signum: int, frame: FrameType | None = None) -> None:
        """The handler: only the first signal in `RAISE` raises; every later one only waits."""
        self.received.append(signum)
        if len(self.received) > 1:
            os.write(2, self._repeat_note)
            return
        if self.reaction is Reaction.RAISE:
            self.reaction = Reaction.FINISH  # before raising: a second signal must not interrupt the restore
            raise Interrupted(signum)
        os.write(2, _FIRST_NOTES[self.reaction].encode())

    def __enter__(self) -> Self:
        """Install (re-entrant: a FormationSession inside `harness run` shares the run's policy)."""
        self._depth += 1
        if self._depth == 1 and threading.current_thread() is threading.main_thread():
            quiet_interrupts_under_gevent()
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self.handle)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        self._previous.clear()
