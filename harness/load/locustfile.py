"""Load plain Locust files, and turn their import errors into `LocustfileError` once, at the edge.

A user's existing locustfile must run unmodified, so harness never edits it: it
imports the file under a private module name (once per path and process, so
every scenario and every worker sees the same classes), picks the requested
`User` classes and, when the scenario sets weights, subclasses them with the
weight (the subclass keeps the original class name: a master dispatches users
to workers by class name).
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from locust import FastHttpUser, User
from locust.shape import LoadTestShape

from harness.config import Config, LocustfileSpec, Scenario
from harness.errors import LocustfileError
from harness.load.connections import close_connections
from harness.load.request_ids import with_request_ids
from harness.load.trust import with_trust

__all__ = [
    "LoadedLocustfile",
    "check_locustfiles",
    "load_locustfile",
    "prepare_user_classes",
    "select_user_classes",
    "summarize_traceback",
]

# How many traceback frames of the failing import a LocustfileError shows.
TRACEBACK_FRAMES = 3

_loaded: dict[Path, LoadedLocustfile] = {}


@dataclass(frozen=True, kw_only=True)
class LoadedLocustfile:
    """An imported locustfile: its runnable User classes by name, in declaration order."""

    path: Path
    user_classes: dict[str, type[User]]
    shape_classes: list[type[LoadTestShape]]


def load_locustfile(path: str | Path) -> LoadedLocustfile:
    """Import `path` (once per process) and list its User classes; LocustfileError on any failure."""
    resolved = Path(path).resolve()
    if resolved in _loaded:
        return _loaded[resolved]
    if not resolved.is_file():
        raise LocustfileError(
            "locustfile not found. Check 'locustfiles.<key>.path' (relative paths resolve against "
            "the scenarios file's directory).",
            file=path,
        )
    module = _import(resolved)
    users = {name: obj for name, obj in vars(module).items() if _is_user_class(obj, module)}
    if not users:
        raise LocustfileError(
            "the file defines no User class (a class deriving from locust's HttpUser, FastHttpUser or User "
            "with abstract = False).",
            file=resolved,
        )
    shapes = [obj for obj in vars(module).values() if _is_shape_class(obj)]
    loaded = LoadedLocustfile(path=resolved, user_classes=users, shape_classes=shapes)
    _loaded[resolved] = loaded
    return loaded


def select_user_classes(loaded: LoadedLocustfile, weights: dict[str, int]) -> list[type[User]]:
    """The User classes a scenario runs: all (as declared), or the named ones with their weights."""
    if not weights:
        return list(loaded.user_classes.values())
    unknown = [name for name in weights if name not in loaded.user_classes]
    if unknown:
        known = ", ".join(loaded.user_classes)
        raise LocustfileError(
            f"no User class named {', '.join(unknown)} in this file (it defines: {known}).",
            file=loaded.path,
            field="user_classes",
        )
    return [
        type(name, (loaded.user_classes[name],), {"weight": weight, "__module__": __name__})
        for name, weight in weights.items()
    ]


def check_locustfiles(config: Config, scenarios: Iterable[Scenario] | None = None) -> dict[str, list[str]]:
    """Import every locustfile of `config` (or only those `scenarios` use) and check its user classes;
    returns key → class names."""
    keys = list(config.locustfiles)
    if scenarios is not None:
        used = {s.locustfile or keys[0] for s in scenarios}
        keys = [key for key in keys if key in used]
    return {key: _check_one(key, config.locustfiles[key], config) for key in keys}


def _check_one(key: str, spec: LocustfileSpec, config: Config) -> list[str]:
    try:
        loaded = load_locustfile(spec.path)
        classes = select_user_classes(loaded, spec.user_classes)
    except LocustfileError as exc:
        raise LocustfileError(
            f"{exc.message}",
            file=config.source or exc.file,
            field=f"locustfiles.{key}" + (f".{exc.field}" if exc.field else ".path"),
        ) from None
    return [cls.__name__ for cls in classes]


def _import(path: Path) -> ModuleType:
    """Import under a private module name; any failure becomes a LocustfileError with a short traceback."""
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"harness_locustfile_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LocustfileError("cannot be imported as a Python module (is it a .py file?).", file=path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    directory = str(path.parent)
    added = directory not in sys.path
    if added:
        sys.path.insert(0, directory)  # let the locustfile import its sibling helper modules
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise LocustfileError(
            "the locustfile failed to import:\n"
            + summarize_traceback(exc, path)
            + "\nFix the file (try `python -c 'import runpy; runpy.run_path(\"PATH\")'`) and retry.",
            file=path,
        ) from None
    finally:
        if added:
            sys.path.remove(directory)
    return module


def summarize_traceback(exc: BaseException, path: Path) -> str:
    """The last few frames (those in the locustfile first) and the exception line, indented."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if Path(f.filename).resolve() == path] or list(frames)
    lines = [f"  {Path(f.filename).name}:{f.lineno} in {f.name}: {(f.line or '').strip()}" for f in own]
    lines = lines[-TRACEBACK_FRAMES:]
    if isinstance(exc, SyntaxError) and exc.lineno is not None:
        lines.append(f"  {path.name}:{exc.lineno}: {(exc.text or '').strip()}")
    lines.append(f"  {type(exc).__name__}: {exc}")
    return "\n".join(lines)


def _is_user_class(obj: object, module: ModuleType) -> bool:
    return bool(inspect.isclass(obj) and issubclass(obj, User) and not obj.abstract)


def _is_shape_class(obj: object) -> bool:
    return bool(
        inspect.isclass(obj) and issubclass(obj, LoadTestShape) and not getattr(obj, "abstract", True)
    )


def prepare_user_classes(
    classes: list[type[User]], timeout_s: float, ca_file: Path | None = None
) -> list[type[User]]:
    """Subclasses (same names) that use `timeout_s` and close their connections when stopped.

    The Heroku router answers H12/503 after 30 s; a FastHttpUser client timeout a
    little above that observes the router's answer instead of cutting it off
    (classes that set their own timeouts keep them). A stopped user closes its
    connections at once instead of leaving them to the garbage collector. Every
    request carries an X-Request-Id (`request_ids`), so router lines join the client's.
    HTTPS is verified, trusting `ca_file` too (the emulator's CA, for emulator targets: `trust`).
    """
    return [_prepared(cls, timeout_s, ca_file) for cls in classes]


def _prepared(cls: type[User], timeout_s: float, ca_file: Path | None) -> type[User]:
    namespace: dict[str, object] = {"__module__": cls.__module__}
    if issubclass(cls, FastHttpUser):
        for attr in ("network_timeout", "connection_timeout"):
            if getattr(cls, attr) == getattr(FastHttpUser, attr):
                namespace[attr] = timeout_s

    def on_stop(self: User) -> None:
        try:
            cls.on_stop(self)
        finally:
            close_connections(self)

    namespace["on_stop"] = on_stop
    with_request_ids(namespace, cls)
    with_trust(namespace, cls, ca_file)
    return type(cls.__name__, (cls,), namespace)
