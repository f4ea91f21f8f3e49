"""The emulator's home: what it keeps between runs on this machine (its CA, built app environments).

`HARNESS_EMULATOR_HOME` names it; otherwise it is `$XDG_CACHE_HOME/harness/emulator`
(`~/.cache/harness/emulator`). Everything in it can be deleted: the next start
makes it again (a new CA, fresh builds).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["HOME_ENV", "emulator_home"]

HOME_ENV = "HARNESS_EMULATOR_HOME"


def emulator_home(environ: Mapping[str, str] | None = None) -> Path:
    """The emulator home directory (not created here)."""
    env = os.environ if environ is None else environ
    if env.get(HOME_ENV):
        return Path(env[HOME_ENV]).expanduser()
    cache = Path(env["XDG_CACHE_HOME"]).expanduser() if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return cache / "harness" / "emulator"
