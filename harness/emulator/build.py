"""Build an app the way Heroku's Python buildpack does: its own virtualenv, from its own dependency file.

A build picks the Python the app names (`pythons.py`), then installs the
dependencies of `requirements.txt` (or, when there is none, `[project]
dependencies` of `pyproject.toml`, or the default packages of `Pipfile.lock`)
into a virtualenv of its own under the emulator home, keyed by a hash of those
files and the interpreter, so an unchanged app builds in a moment and two apps
never share packages. The dyno's PATH puts that virtualenv first. An app with
no dependency file (the bundled demo app) runs on harness's own interpreter,
and its build says so.

The output reads like a Heroku build log (`-----> ` steps, `       ` detail,
` !     ` errors). A dependency that does not install fails the build with the
Python version the app asked for and the one used, and what pip said needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import re
import shutil
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.emulator.procfile import read_procfile
from harness.emulator.pythons import PythonChoice, RequestedPython, choose_python, requested_python
from harness.emulator.slug import copy_source, directory_size, prune_slug, slug_files

__all__ = ["STACK", "BuildFailed", "BuildResult", "build_app"]

STACK = "heroku-24"
_STEP, _DETAIL, _ERROR = "-----> ", "       ", " !     "
_DEP_FILES = (
    "requirements.txt",
    "pyproject.toml",
    "uv.lock",
    "Pipfile.lock",
    ".python-version",
    "runtime.txt",
)
_REQUIRES_PYTHON = re.compile(r"Requires-Python (\S+)")
_UNSATISFIED = re.compile(r"satisfies the requirement (\S+)")
PIP_TIMEOUT_S = 900.0
_COMPLETE = ".harness-build-complete"  # written last: a venv without it is a build that did not finish


class BuildFailed(Exception):
    """The build failed; `output` is its whole log, the message its last lines (what to do)."""

    def __init__(self, message: str, output: list[str]) -> None:
        super().__init__(message)
        self.output = output


@dataclass(frozen=True)
class BuildResult:
    """A finished build: where its interpreter is, what it used, how long it took, the slug's size."""

    slug_dir: Path  # the built app (a copy: collectstatic output, .slugignore applied): dynos run here
    bin_dir: Path  # first on the dyno's PATH
    venv: Path | None  # None: no dependency file, the dyno runs on harness's interpreter
    python: PythonChoice
    duration_s: float
    slug_size: int  # bytes: the app's files (less .slugignore) + its installed dependencies
    output: tuple[str, ...]
    cached: bool


class _Log:
    """The build's lines, kept and handed on as they come."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.lines: list[str] = []
        self._emit = emit

    def __call__(self, line: str, prefix: str = _STEP) -> None:
        self.lines.append(prefix + line)
        self._emit(prefix + line)


def _requirements(app_dir: Path) -> tuple[str, list[str]] | None:
    """(how the log names it, pip arguments) for the app's dependencies; None when it declares none."""
    if (app_dir / "requirements.txt").is_file():
        return "pip install -r requirements.txt", ["-r", str(app_dir / "requirements.txt")]
    pyproject = app_dir / "pyproject.toml"
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        deps = [str(d) for d in project.get("dependencies", [])]
        return ("pip install (pyproject.toml [project] dependencies)", deps) if deps else None
    lock = app_dir / "Pipfile.lock"
    if lock.is_file():
        default = json.loads(lock.read_text(encoding="utf-8")).get("default", {})
        deps = [f"{name}{spec.get('version', '')}" for name, spec in sorted(default.items())]
        return ("pip install (Pipfile.lock default packages)", deps) if deps else None
    return None


def _cache_key(app_dir: Path, python: PythonChoice) -> str:
    digest = hashlib.sha256(f"{python.executable}\0{python.version}\0".encode())
    for name in _DEP_FILES:
        path = app_dir / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


async def _run(command: list[str], log: _Log, cwd: Path) -> int:
    """Run a build command, its output indented into the log; returns its exit status."""
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=str(cwd),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(PIP_TIMEOUT_S):
            while raw := await process.stdout.readline():
                log(raw.decode("utf-8", "replace").rstrip(), _DETAIL)
            return await process.wait()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise


def _say_python(log: _Log, wanted: RequestedPython | None, python: PythonChoice) -> None:
    if wanted is None:
        log(f"No Python version was specified. Using harness's Python {python.version}")
    elif python.fallback:
        log(f"Python {wanted} was requested in {wanted.source}")
        log(f"Python {wanted.minor_version} is not installed on this machine", _ERROR)
        log(
            f"(no python{wanted.minor_version} on PATH or in pyenv): using Python {python.version} instead.",
            _ERROR,
        )
    else:
        log(f"Using Python {python.version} specified in {wanted.source}")


def _failure(log: _Log, wanted: RequestedPython | None, python: PythonChoice) -> BuildFailed:
    """The buildpack-style error: what failed, the version asked for and used, what pip said needs."""
    text = "\n".join(log.lines)
    specs = sorted({spec.rstrip(";,") for spec in _REQUIRES_PYTHON.findall(text)})
    requirement = _UNSATISFIED.search(text)
    log("Error: Unable to install the app's dependencies using pip.", _ERROR)
    lines = ["See the log output above for more information."]
    if specs:
        what = requirement.group(1) if requirement else "A dependency"
        lines.append(f"{what} needs Python {' or '.join(specs)}; this build used Python {python.version}.")
    if wanted is not None and python.fallback:
        lines.append(
            f"The app asks for Python {wanted} ({wanted.source}), which is not installed here. Install "
            f"Python {wanted.minor_version} (e.g. `pyenv install {wanted.minor_version}`) and deploy again."
        )
    elif specs:
        lines.append("Name a Python version these packages support in .python-version.")
    for line in lines:
        log(line, _ERROR)
    return BuildFailed(" ".join(lines), list(log.lines))


async def _install(venv: Path, python: PythonChoice, pip_args: list[str], log: _Log, app_dir: Path) -> bool:
    """A new virtualenv at `venv` with the dependencies, marked complete; False (and nothing left) if not."""
    shutil.rmtree(venv, ignore_errors=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    ok = not await _run([python.executable, "-m", "venv", str(venv)], log, app_dir)
    ok = ok and not await _run([*pip, "--progress-bar", "off", *pip_args], log, app_dir)
    if not ok:
        shutil.rmtree(venv, ignore_errors=True)
        return False
    (venv / _COMPLETE).write_text(python.version + "\n", encoding="utf-8")
    return True


async def _slug(app_dir: Path, home: Path, venv: Path | None, bin_dir: Path, log: _Log) -> Path:
    """The app's slug directory: a copy of its files, Django's static files collected (as the buildpack
    does when it finds manage.py and Django), `.slugignore` applied; reused while nothing changed."""
    key = f"{slug_files(app_dir).sha1[:16]}-{venv.parent.name if venv is not None else 'system'}"
    slug_dir = home / "slugs" / key / "app"
    with _locked(slug_dir.parent / ".lock"):
        if (slug_dir.parent / _COMPLETE).is_file():
            return slug_dir
        shutil.rmtree(slug_dir, ignore_errors=True)
        copy_source(app_dir, slug_dir)
        django = venv is not None and any(venv.glob("lib/python*/site-packages/django/__init__.py"))
        if django and (slug_dir / "manage.py").is_file():
            log("$ python manage.py collectstatic --noinput")
            command = [str(bin_dir / "python"), "manage.py", "collectstatic", "--noinput"]
            if await _run(command, log, slug_dir):
                shutil.rmtree(slug_dir.parent, ignore_errors=True)
                log("Error: Unable to generate Django static files (collectstatic failed).", _ERROR)
                raise BuildFailed("collectstatic failed: see the build log above.", list(log.lines))
        prune_slug(slug_dir)
        (slug_dir.parent / _COMPLETE).write_text("ok\n", encoding="utf-8")
    return slug_dir


async def build_app(app_dir: Path, home: Path, emit: Callable[[str], None] = lambda _: None) -> BuildResult:
    """Build `app_dir` (a Python app with a Procfile); BuildFailed with the log if it cannot."""
    started = time.monotonic()
    log = _Log(emit)
    log(f"Building on the {STACK.title()} stack")
    log("Using buildpack: heroku/python")
    try:
        wanted = requested_python(app_dir)
    except ValueError as exc:
        log(f"Error: {exc}", _ERROR)
        raise BuildFailed(str(exc), list(log.lines)) from None
    deps = _requirements(app_dir)
    python = choose_python(wanted)
    log("Python app detected" if deps or wanted else "App without a dependency file detected")
    _say_python(log, wanted, python)
    venv, cached = None, False
    if deps is None:
        log(f"No requirements.txt, pyproject.toml, Pipfile.lock: dynos run harness's Python {python.version}")
        bin_dir = Path(sys.executable).parent
    else:
        venv = home / "builds" / f"python-{_cache_key(app_dir, python)}" / "venv"
        with _locked(venv.parent / ".lock"):
            cached = (venv / _COMPLETE).is_file()
            if cached:
                log(f"Using cached install of Python {python.version} and dependencies")
            else:
                log(f"Installing Python {python.version} ({python.executable})")
                log(f"Installing dependencies using '{deps[0]}'")
                if not await _install(venv, python, deps[1], log, app_dir):
                    raise _failure(log, wanted, python)
        bin_dir = venv / "bin"
    slug_dir = await _slug(app_dir, home, venv, bin_dir, log)
    log("Discovering process types")
    log(f"Procfile declares types -> {', '.join(read_procfile(slug_dir))}", _DETAIL)
    size = directory_size(slug_dir) + (directory_size(venv) if venv is not None else 0)
    log("Compressing...")
    log(f"Done: {size / 1e6:.1f}M", _DETAIL)
    duration = time.monotonic() - started
    log("Launching...")
    log(f"Build succeeded in {duration:.1f} s", _DETAIL)
    return BuildResult(slug_dir, bin_dir, venv, python, duration, size, tuple(log.lines), cached)
