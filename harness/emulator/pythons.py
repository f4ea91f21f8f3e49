"""Which Python a build uses: the version the app names, if this machine has it, else harness's own.

Heroku's Python buildpack reads `.python-version` (`3.13`, `3.13.1`) or the older
`runtime.txt` (`python-3.11.7`) and installs that version. Locally nothing is
installed: a `pythonX.Y` on PATH or a pyenv version (`$PYENV_ROOT/versions/X.Y.*`)
is used when one answers with that version; otherwise the build falls back to the
interpreter running the emulator and says so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PythonChoice", "RequestedPython", "choose_python", "requested_python"]

_VERSION = re.compile(r"^(?:python-)?(\d+)\.(\d+)(?:\.(\d+))?$")
PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RequestedPython:
    """What the app asks for: major.minor (patch if given) and the file that says so."""

    major: int
    minor: int
    patch: int | None
    source: str  # ".python-version" or "runtime.txt"

    @property
    def minor_version(self) -> str:
        return f"{self.major}.{self.minor}"

    def __str__(self) -> str:
        return self.minor_version if self.patch is None else f"{self.minor_version}.{self.patch}"


@dataclass(frozen=True)
class PythonChoice:
    """The interpreter a build uses and its full version; `fallback` when it is not what was asked."""

    executable: str
    version: str  # e.g. "3.11.7"
    fallback: bool

    @property
    def minor_version(self) -> str:
        return ".".join(self.version.split(".")[:2])


def requested_python(app_dir: Path) -> RequestedPython | None:
    """The version named by `.python-version` (first non-comment line) or `runtime.txt`; None if neither.

    ValueError (with the file name) for a line that is not a version.
    """
    for name in (".python-version", "runtime.txt"):
        path = app_dir / name
        if not path.is_file():
            continue
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
        wanted = next((ln for ln in lines if ln and not ln.startswith("#")), "")
        match = _VERSION.match(wanted)
        if match is None:
            raise ValueError(
                f"{name}: {wanted!r} is not a Python version; write e.g. 3.13 "
                f"({'or python-3.13.1' if name == 'runtime.txt' else 'or 3.13.1'})."
            )
        major, minor, patch = match.groups()
        return RequestedPython(int(major), int(minor), int(patch) if patch else None, name)
    return None


def _version_of(executable: str) -> str | None:
    """The interpreter's full version, or None if it does not run (e.g. a pyenv shim with no version)."""
    try:
        done = subprocess.run(
            [executable, "-c", "import sys; print('.'.join(map(str, sys.version_info[:3])))"],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = done.stdout.strip()
    return out if done.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+", out) else None


def _candidates(wanted: RequestedPython, path: str | None, pyenv_root: Path) -> list[str]:
    found = []
    on_path = shutil.which(f"python{wanted.minor_version}", path=path)
    if on_path:
        found.append(on_path)
    versions = sorted(
        pyenv_root.glob(f"versions/{wanted.minor_version}.*/bin/python{wanted.minor_version}"),
        key=lambda p: [int(x) if x.isdigit() else -1 for x in p.parts[-3].split(".")],
        reverse=True,
    )
    found += [str(p) for p in versions]
    return found


def _own_python() -> PythonChoice:
    own = ".".join(map(str, sys.version_info[:3]))
    return PythonChoice(sys.executable, own, fallback=False)


def choose_python(wanted: RequestedPython | None, environ: dict[str, str] | None = None) -> PythonChoice:
    """An interpreter of the wanted minor version (PATH first, then pyenv); else harness's own, flagged
    `fallback`. Nothing wanted: harness's own (not a fallback)."""
    own = _own_python()
    if wanted is None:
        return own
    env = os.environ if environ is None else environ
    pyenv_root = Path(env.get("PYENV_ROOT") or Path.home() / ".pyenv")
    if own.minor_version == wanted.minor_version:
        return own
    for executable in _candidates(wanted, env.get("PATH"), pyenv_root):
        version = _version_of(executable)
        if version is not None and version.startswith(wanted.minor_version + "."):
            return PythonChoice(executable, version, fallback=False)
    return PythonChoice(own.executable, own.version, fallback=True)
