"""An app's `app.json` (Heroku's app manifest): `env`, `addons` and `formation` for the app's creation.

Read when the emulator creates an app from its directory, as Heroku's app
setup does: `env` gives config vars (`"value"`, `"generator": "secret"` for
64 random hex characters, `"required"`: a required var with no value is an
error), `addons` lists plans (`"heroku-postgresql"` or `{"plan": …, "as":
NAME}`) provisioned before the first release, and `formation` sets initial
quantities and sizes. Other keys (`name`, `scripts`, `buildpacks`, …) are
Heroku's too and ignored here. Every problem is one `ConfigError` naming the
file and the field.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

__all__ = ["AddonRequest", "AppManifest", "read_app_json"]

FILE = "app.json"


@dataclass(frozen=True)
class AddonRequest:
    """One add-on to provision: its plan and, optionally, its attachment name."""

    plan: str
    attachment: str | None = None


@dataclass(frozen=True)
class AppManifest:
    """What app.json asks of a new app (empty when the directory has none)."""

    env: dict[str, str] = field(default_factory=dict)
    addons: list[AddonRequest] = field(default_factory=list)
    formation: list[dict[str, Any]] = field(default_factory=list)


def read_app_json(app_dir: Path) -> AppManifest:
    """The manifest of `app_dir/app.json`; an empty one when there is no such file."""
    path = app_dir / FILE
    if not path.is_file():
        return AppManifest()
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"not valid JSON ({exc}). Fix the file or remove it.", file=path) from None
    if not isinstance(data, dict):
        raise _error(path, "", "the file must hold one JSON object")
    return AppManifest(
        env=_env(path, data.get("env", {})),
        addons=_addons(path, data.get("addons", [])),
        formation=_formation(path, data.get("formation", {})),
    )


def _error(path: Path, where: str, problem: str) -> ConfigError:
    return ConfigError(
        f"{problem}. Fix app.json (Heroku's app manifest) and start the emulator again.",
        file=path,
        field=where or None,
    )


def _env(path: Path, raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise _error(path, "env", "must be an object of config var names")
    env: dict[str, str] = {}
    for name, spec in raw.items():
        where = f"env.{name}"
        if isinstance(spec, str):
            env[name] = spec
            continue
        if not isinstance(spec, dict):
            raise _error(path, where, 'must be a string or an object like {"value": "...", "required": true}')
        value = spec.get("value")
        if value is not None and not isinstance(value, str):
            raise _error(path, f"{where}.value", "must be a string")
        if spec.get("generator") not in (None, "secret"):
            raise _error(path, f"{where}.generator", 'the only generator is "secret"')
        if spec.get("generator") == "secret":
            value = secrets.token_hex(32)
        if value is not None:
            env[name] = value
        elif spec.get("required", True) is not False:
            raise _error(
                path,
                where,
                'is required but has no "value" (and no "generator": "secret"), and the emulator has no '
                'setup form to ask for one: give it a "value", or mark it "required": false',
            )
    return env


def _addons(path: Path, raw: Any) -> list[AddonRequest]:
    if not isinstance(raw, list):
        raise _error(path, "addons", 'must be a list like ["heroku-postgresql:essential-0"]')
    requests: list[AddonRequest] = []
    for index, item in enumerate(raw):
        where = f"addons[{index}]"
        if isinstance(item, str):
            requests.append(AddonRequest(item))
        elif isinstance(item, Mapping) and isinstance(item.get("plan"), str):
            name = item.get("as")
            if name is not None and not isinstance(name, str):
                raise _error(path, f"{where}.as", "must be a string (the attachment name)")
            requests.append(AddonRequest(str(item["plan"]), name))
        else:
            raise _error(path, where, 'must be a plan name or an object with a "plan"')
    return requests


def _formation(path: Path, raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, dict):
        raise _error(
            path, "formation", 'must be an object like {"web": {"quantity": 2, "size": "standard-2x"}}'
        )
    updates: list[dict[str, Any]] = []
    for process_type, spec in raw.items():
        where = f"formation.{process_type}"
        if not isinstance(spec, dict):
            raise _error(path, where, 'must be an object with "quantity" and/or "size"')
        update: dict[str, Any] = {"type": process_type}
        quantity, size = spec.get("quantity"), spec.get("size")
        if quantity is not None:
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
                raise _error(path, f"{where}.quantity", "must be a whole number >= 0")
            update["quantity"] = quantity
        if size is not None:
            if not isinstance(size, str):
                raise _error(path, f"{where}.size", "must be a dyno size name like standard-1x")
            update["size"] = size
        updates.append(update)
    return updates
