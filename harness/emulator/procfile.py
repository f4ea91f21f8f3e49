"""Read an app's `Procfile` (`<process type>: <command>` per line), as Heroku and `heroku local` do."""

from __future__ import annotations

import re
from pathlib import Path

from harness.errors import ConfigError

__all__ = ["parse_procfile", "read_procfile"]

# Heroku accepts alphanumerics, dashes and underscores in process type names.
_LINE = re.compile(r"^(?P<type>[A-Za-z0-9_-]+)\s*:\s*(?P<command>.*)$")


def parse_procfile(text: str, *, file: str | Path = "Procfile") -> dict[str, str]:
    """Process types -> commands, in file order. Blank lines and `#` comments are skipped."""
    types: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ConfigError(
                f"cannot read {raw!r}: each line must be `<process type>: <command>`, "
                "e.g. `web: gunicorn app:app --bind 0.0.0.0:$PORT`.",
                file=file,
                line=number,
            )
        name, command = match["type"], match["command"].strip()
        if not command:
            raise ConfigError(
                f"process type {name!r} has no command; write one after the colon.", file=file, line=number
            )
        if name in types:
            raise ConfigError(
                f"process type {name!r} is defined twice; keep one line per process type.",
                file=file,
                line=number,
            )
        types[name] = command
    if not types:
        raise ConfigError("declares no process type; add a line such as `web: python app.py`.", file=file)
    return types


def read_procfile(app_dir: Path) -> dict[str, str]:
    """Parse `app_dir/Procfile`; a missing file is a ConfigError naming the directory."""
    path = Path(app_dir) / "Procfile"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no Procfile in {app_dir}: an app directory needs one, with a line such as "
            "`web: gunicorn app:app --bind 0.0.0.0:$PORT`.",
            file=path,
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read it ({exc}); check the file's permissions and encoding.", file=path
        ) from exc
    return parse_procfile(text, file=path)
