"""Formation lifecycle: snapshot → journal → scale up and wait → always restore.

The order is the safety argument. The journal (see `journal.py`) is on disk
before the one batch PATCH, so whatever happens next (an exception, a
crashed dyno, Ctrl-C, SIGTERM, `kill -9`) the original formation can be put
back: by `FormationSession.__exit__`, or later by `harness restore`.
`restore()` PATCHes back every journaled type (quantity and size), reads the
formation back to verify, and only then deletes the journal; it retries
through API faults for a budget, and if it still cannot, it keeps the journal
and raises `RestoreError` with the exact `heroku ps:scale` / `ps:type`
commands. Restoring twice, or with nothing changed, is harmless.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import (
    AuthError,
    FormationError,
    NotFoundError,
    PlatformError,
    RestoreError,
)
from harness.platform.heroku import HerokuClient
from harness.platform.journal import EmulatorRef, Journal, JournalStore
from harness.platform.models import Dyno, DynoState, Formation, ProcessChange, merge, same_size
from harness.platform.signals import Interrupted, SignalPolicy

__all__ = [
    "DynoBoot",
    "FormationSession",
    "PollPolicy",
    "RestoreResult",
    "ScaleResult",
    "SessionState",
    "WaitProgress",
    "begin",
    "changed_types",
    "restore",
    "scale_to",
    "snapshot",
    "wait_progress",
]

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    """The default progress sink: say nothing."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PollPolicy(_Frozen):
    """How often to look at the dynos while waiting: starts fast, backs off to `max_s` (seconds)."""

    initial_s: float = Field(default=0.25, gt=0)
    factor: float = Field(default=1.5, ge=1)
    max_s: float = Field(default=5.0, gt=0)

    def delays(self) -> Iterable[float]:
        """0.25, 0.375, … capped at `max_s`, forever."""
        delay = self.initial_s
        while True:
            yield delay
            delay = min(self.max_s, delay * self.factor)


class DynoBoot(_Frozen):
    """One dyno of a scaled type once it was up; boot time from the platform's own timestamps."""

    name: str
    type: str
    size: str | None
    created_at: datetime | None
    up_at: datetime | None  # the dyno's `updated_at` ("when process last changed state")
    boot_s: float | None  # up_at − created_at, seconds (the API's timestamps have 1 s resolution)
    seen_up_after_s: float | None  # PATCH sent → the first poll that saw this dyno up (local clock)
    preexisting: bool  # created before the scale request (not booted by it)


class ScaleResult(_Frozen):
    """What a scale-up took: the latency from the PATCH to all dynos up, and each dyno's boot."""

    app: str
    original: Formation
    target: Formation
    release_version: int | None  # the release the dynos had to be up on
    requested_at: datetime
    all_up_at: datetime
    scale_up_latency_s: float  # PATCH sent → the poll that saw every dyno up (≤ one poll late)
    polls: int
    dynos: tuple[DynoBoot, ...]

    @property
    def new_dynos(self) -> tuple[DynoBoot, ...]:
        """Only the dynos this scale-up booted."""
        return tuple(d for d in self.dynos if not d.preexisting)


class RestoreResult(_Frozen):
    """The outcome of a restore that finished (failures raise `RestoreError`)."""

    app: str
    restored: bool  # False when there was no journal: nothing to do
    formation: Formation | None  # the formation read back after the restore
    attempts: int


def snapshot(client: HerokuClient, app: str) -> Formation:
    """The app's full current formation: every process type, quantity and size."""
    return Formation.from_entries(client.formation(app))


def changed_types(original: Formation, target: Formation) -> tuple[str, ...]:
    """Types whose quantity or size the target changes."""
    return tuple(p.type for p in target if not Formation.of([p]).matches(original, [p.type]))


def begin(
    client: HerokuClient,
    app: str,
    target: Formation | Iterable[ProcessChange],
    store: JournalStore,
    *,
    emulator: EmulatorRef | None = None,
) -> Journal:
    """Refuse on a stale journal, snapshot, and write the journal: the step before any change.
    `emulator`: the API is an emulator harness started (recorded for `harness restore`)."""
    store.ensure_absent(app)
    original = snapshot(client, app)
    intended = target if isinstance(target, Formation) else merge(original, target)
    journal = Journal(
        app=app, api_host=client.api_host, original=original, intended=intended, emulator=emulator
    )
    store.write(journal)
    return journal


@dataclass(frozen=True)
class WaitProgress:
    """How far a scale-up got, from one dyno listing (pure: unit-tested without a server)."""

    ready: dict[str, list[Dyno]]  # per type: dynos up, on the release, of the target size
    missing: dict[str, int]  # per type: how many more must come up
    crashed: list[Dyno] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Every waited-on type has its full quantity up."""
        return not self.crashed and not any(self.missing.values())

    def describe(self) -> str:
        """`web 2/4 up` per type."""
        return ", ".join(
            f"{t} {len(up)}/{len(up) + self.missing.get(t, 0)} up" for t, up in sorted(self.ready.items())
        )


def wait_progress(
    dynos: Sequence[Dyno], target: Formation, types: Iterable[str], release_version: int | None
) -> WaitProgress:
    """Which dynos of `types` count as up for `target` (state up, on the release, right size)."""
    ready: dict[str, list[Dyno]] = {}
    missing: dict[str, int] = {}
    crashed: list[Dyno] = []
    for process_type in types:
        wanted = target.get(process_type)
        if wanted is None or wanted.quantity == 0:
            continue
        of_type = [d for d in dynos if d.type == process_type]
        crashed += [d for d in of_type if d.state is DynoState.CRASHED]
        up = [
            d
            for d in of_type
            if d.state is DynoState.UP
            and (release_version is None or d.release_version is None or d.release_version >= release_version)
            and (d.size is None or same_size(d.size, wanted.size))
        ]
        ready[process_type] = up[: wanted.quantity]
        missing[process_type] = max(0, wanted.quantity - len(up))
    return WaitProgress(ready=ready, missing=missing, crashed=crashed)


def _boot(dyno: Dyno, requested_at: datetime, seen_up_after_s: float | None = None) -> DynoBoot:
    boot_s = None
    if dyno.created_at is not None and dyno.updated_at is not None:
        boot_s = max(0.0, (dyno.updated_at - dyno.created_at).total_seconds())
    # API timestamps are whole seconds: compare against the request time truncated the same way.
    preexisting = dyno.created_at is not None and dyno.created_at < requested_at.replace(microsecond=0)
    return DynoBoot(
        name=dyno.name,
        type=dyno.type,
        size=dyno.size,
        created_at=dyno.created_at,
        up_at=dyno.updated_at,
        boot_s=boot_s,
        seen_up_after_s=seen_up_after_s,
        preexisting=preexisting,
    )


def scale_to(
    client: HerokuClient,
    app: str,
    target: Formation,
    *,
    original: Formation | None = None,
    timeout_s: float = 300.0,
    poll: PollPolicy | None = None,
    progress: Progress = _quiet,
) -> ScaleResult:
    """One batch PATCH to `target`, then poll until every changed type's dynos are up on the current
    release. A crashed dyno or the timeout raises `FormationError`; the caller restores."""
    original = original or snapshot(client, app)
    types = changed_types(original, target) or tuple(p.type for p in target if p.quantity > 0)
    release = client.current_release(app)
    version = release.version if release else None
    requested_at, started = datetime.now(UTC), time.monotonic()
    progress(f"scaling {app} to {target.describe()}")
    client.update_formation(app, target)
    polls, seen_up = 0, dict[str, float]()
    for delay in (poll or PollPolicy()).delays():
        polls += 1
        state = wait_progress(client.dynos(app), target, types, version)
        now = time.monotonic() - started
        for dyno in (d for ready in state.ready.values() for d in ready):
            seen_up.setdefault(dyno.id, now)
        if state.crashed:
            names = ", ".join(d.name for d in state.crashed)
            raise FormationError(
                f"{names} crashed while {app} scaled to {target.describe()}; the scale-up is aborted and the "
                f"formation restored. Check `heroku logs -a {app}` (R10 boot timeout? a crash on start?).",
                app=app,
                process_type=state.crashed[0].type,
            )
        if state.done:
            break
        elapsed = time.monotonic() - started
        if elapsed + delay > timeout_s:
            raise FormationError(
                f"{app} did not reach {target.describe()} within {timeout_s:.0f} s ({state.describe()}); "
                "the scale-up is aborted and the formation restored. Raise the timeout if boots are slow.",
                app=app,
                process_type=next((t for t, n in state.missing.items() if n), None),
            )
        progress(f"waiting: {state.describe()}")
        time.sleep(delay)
    latency = time.monotonic() - started
    boots = tuple(_boot(d, requested_at, seen_up.get(d.id)) for dynos in state.ready.values() for d in dynos)
    return ScaleResult(
        app=app,
        original=original,
        target=target,
        release_version=version,
        requested_at=requested_at,
        all_up_at=datetime.now(UTC),
        scale_up_latency_s=latency,
        polls=polls,
        dynos=boots,
    )


def restore(
    client: HerokuClient,
    app: str,
    store: JournalStore,
    *,
    budget_s: float = 120.0,
    retry_delay_s: float = 2.0,
    progress: Progress = _quiet,
) -> RestoreResult:
    """Put back exactly the journaled formation, verify by reading it back, delete the journal.
    Keeps retrying through API faults for `budget_s` seconds; then keeps the journal and raises."""
    journal = store.read(app)
    if journal is None:
        return RestoreResult(app=app, restored=False, formation=None, attempts=0)
    path = store.path_for(app)
    if journal.api_host != client.api_host:
        raise RestoreError(
            f"The journal of {app} was written against the API at {journal.api_host}, but this client talks "
            f"to {client.api_host}. Set HEROKU_API_URL to that API and run `harness restore --app {app}` "
            f"again; the journal is kept at {path}.",
            app=app,
            journal=path,
            manual_commands=journal.restore_commands(),
        )
    started, attempts, problem = time.monotonic(), 0, ""
    while True:
        attempts += 1
        progress(f"restoring {app} to {journal.original.describe()} (attempt {attempts})")
        try:
            client.update_formation(app, journal.original)
            current = snapshot(client, app)
        except (AuthError, NotFoundError) as exc:
            problem = str(exc)  # retrying will not change these
            break
        except PlatformError as exc:
            problem = str(exc)
        else:
            if journal.original.matches(current):
                store.delete(app)
                return RestoreResult(app=app, restored=True, formation=current, attempts=attempts)
            problem = f"read back {current.describe()}"
        if time.monotonic() - started + retry_delay_s > budget_s:
            break
        time.sleep(retry_delay_s)
    raise RestoreError(
        f"Could not restore {app} to {journal.original.describe()} after {attempts} attempt(s) "
        f"({problem}). The journal is kept at {path}: run `harness restore --app {app}` once the API "
        "answers.",
        app=app,
        journal=path,
        manual_commands=journal.restore_commands(),
    )


class SessionState(enum.Enum):
    """Where a FormationSession is; transitions happen only in FormationSession."""

    NEW = "new"  # nothing done yet
    JOURNALED = "journaled"  # the journal is on disk; the formation may be changing
    SCALED = "scaled"  # every dyno of the target is up
    RESTORED = "restored"  # the original formation is back and the journal deleted
    HELD = "held"  # left scaled on purpose with the journal kept (`harness scale`)


class FormationSession:
    """`with FormationSession(client, app, target) as s:` — scaled inside, restored on every exit.

    Entering refuses on a stale journal, snapshots, journals, scales and waits (`s.result`). Leaving,
    by success, exception, Ctrl-C or SIGTERM, restores and verifies. With `restore_on_success=False`
    a clean exit keeps the formation and the journal (for `harness scale`; `harness restore` undoes it),
    while every failure still restores.

    Signals follow `signals.SignalPolicy`: a session makes its own (the first signal raises, later
    ones wait for the restore), or shares the caller's (`harness run`), which then decides itself
    what a signal that came while restoring means.
    """

    def __init__(
        self,
        client: HerokuClient,
        app: str,
        target: Formation | Iterable[ProcessChange],
        *,
        store: JournalStore | None = None,
        timeout_s: float = 300.0,
        poll: PollPolicy | None = None,
        restore_budget_s: float = 120.0,
        restore_on_success: bool = True,
        signals: SignalPolicy | None = None,
        emulator: EmulatorRef | None = None,
        progress: Progress = _quiet,
    ) -> None:
        self.client, self.app = client, app
        self.store = store or JournalStore()
        self._target = target if isinstance(target, Formation) else tuple(target)
        self._timeout_s, self._poll, self._budget_s = timeout_s, poll, restore_budget_s
        self._restore_on_success = restore_on_success
        self._owns_signals = signals is None
        self._signals = signals or SignalPolicy()
        self._progress = progress
        self._emulator = emulator
        self.state = SessionState.NEW
        self.journal: Journal | None = None
        self.result: ScaleResult | None = None
        self.restored: RestoreResult | None = None

    def __enter__(self) -> Self:
        self._signals.__enter__()
        try:
            self.journal = begin(self.client, self.app, self._target, self.store, emulator=self._emulator)
            self.state = SessionState.JOURNALED
            self.result = scale_to(
                self.client,
                self.app,
                self.journal.intended,
                original=self.journal.original,
                timeout_s=self._timeout_s,
                poll=self._poll,
                progress=self._progress,
            )
            self.state = SessionState.SCALED
        except BaseException:
            self._finish(restore_now=True)
            raise
        return self

    def rescale(self, target: Formation) -> ScaleResult:
        """Move a scaled session to another formation (the next one of a multi-formation run).

        The journal keeps the original and records the new intent before the PATCH, so a crash here
        still restores the original; a failure raises and the `with` restores as usual."""
        if self.journal is None or self.state is not SessionState.SCALED:
            raise RuntimeError(f"rescale() needs a scaled session (state {self.state.value})")
        self.journal = self.journal.model_copy(update={"intended": target})
        self.store.write(self.journal)
        self.result = scale_to(
            self.client,
            self.app,
            target,
            original=self.journal.original,
            timeout_s=self._timeout_s,
            poll=self._poll,
            progress=self._progress,
        )
        return self.result

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish(restore_now=exc_type is not None or self._restore_on_success)
        if exc_type is None and self._owns_signals and self._signals.received:
            raise Interrupted(self._signals.received[0])  # a signal that came while restoring: still stop

    def _finish(self, *, restore_now: bool) -> None:
        self._signals.finish()
        try:
            if self.journal is None:
                return
            if not restore_now:
                self.state = SessionState.HELD
                return
            self.restored = restore(
                self.client, self.app, self.store, budget_s=self._budget_s, progress=self._progress
            )
            self.state = SessionState.RESTORED
        finally:
            self._signals.__exit__(None, None, None)
