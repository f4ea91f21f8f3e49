"""What a killed `harness run` leaves behind on this machine, and how restore and status read it.

When `harness run` starts its own emulator it writes, under the state dir,
`emulator/<app>.token` (mode 0600) and `emulator/<app>.json` (its pid and API
URL, an `EmulatorRef`); a journal written against that emulator carries the
same reference. After `kill -9` the emulator notices it was orphaned and
stops with every dyno, so nothing is left scaled: the journal only has to be
explained and removed. While the emulator still runs (a run in progress, or
the second before it stops), `target.emulator_platform` talks to it with the
token from the file, so `harness status` and `harness restore` work without any
Heroku token.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from urllib.parse import urlsplit

import psutil
from pydantic import ValidationError

from harness.platform.heroku import is_loopback_host
from harness.platform.journal import EmulatorRef, Journal, JournalStore

__all__ = [
    "emulator_alive",
    "emulator_note",
    "explain_journal",
    "forget_emulator",
    "is_emulator_journal",
    "remember_emulator",
]

EMULATOR_MODULE = "harness.emulator"


def _directory(store: JournalStore) -> Path:
    return store.state_dir / "emulator"


def remember_emulator(store: JournalStore, app: str, *, pid: int, api_url: str, token: str) -> EmulatorRef:
    """Write the token (mode 0600) and the emulator's pid and URL for `app`; returns the reference."""
    directory = _directory(store)
    directory.mkdir(parents=True, exist_ok=True)
    token_file = directory / f"{app}.token"
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    os.chmod(token_file, 0o600)  # an existing file keeps its mode through O_CREAT
    ref = EmulatorRef(pid=pid, api_url=api_url, token_file=str(token_file))
    (directory / f"{app}.json").write_text(ref.model_dump_json() + "\n", encoding="utf-8")
    return ref


def emulator_note(store: JournalStore, app: str) -> EmulatorRef | None:
    """The emulator a `harness run` of `app` started (it may be gone), if it left its note."""
    try:
        return EmulatorRef.model_validate_json(
            (_directory(store) / f"{app}.json").read_text(encoding="utf-8")
        )
    except (FileNotFoundError, ValidationError):
        return None


def forget_emulator(store: JournalStore, app: str, ref: EmulatorRef | None = None) -> None:
    """Remove the note and the token file (the emulator stopped)."""
    paths = [_directory(store) / f"{app}.json", _directory(store) / f"{app}.token"]
    if ref is not None:
        paths.append(Path(ref.token_file))
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def emulator_alive(ref: EmulatorRef) -> bool:
    """Whether the emulator process is still running (its pid runs `python -m harness.emulator`)."""
    try:
        command = " ".join(psutil.Process(ref.pid).cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return EMULATOR_MODULE in command


def is_emulator_journal(journal: Journal) -> bool:
    """A journal written against an emulator on this machine (one harness started, or on loopback)."""
    return journal.emulator is not None or is_loopback_host(urlsplit(f"//{journal.api_host}").hostname)


def explain_journal(journal: Journal, path: Path) -> str:
    """One paragraph: who left the journal, against which platform, and what to do about it."""
    when = f"{journal.created_at:%Y-%m-%d %H:%M:%S} UTC"
    change = f"{journal.original.describe()} → {journal.intended.describe()}"
    left = f"{journal.app}: harness (pid {journal.pid}) journaled {change} at {when} ({path})"
    ref = journal.emulator
    if ref is None:
        return f"{left} against {journal.api_host}; `harness restore --app {journal.app}` puts it back."
    if emulator_alive(ref):
        return (
            f"{left} against the local emulator it started (pid {ref.pid}, API {ref.api_url}), which "
            f"is still running; `harness restore --app {journal.app}` puts the formation back there."
        )
    return (
        f"{left} against the local emulator it started (pid {ref.pid}, API {ref.api_url}), which has "
        "stopped, and its dynos with it: nothing is left scaled. `harness restore` removes the journal."
    )
