"""Typed, frozen views of the Platform API objects harness uses.

Responses carry many more fields than harness needs; the models keep only
those (`extra="ignore"`), so a new field on api.heroku.com never breaks a
run. `Formation` is harness's own value: every process type with its
quantity and dyno size, the thing that is snapshotted, journaled and restored.
Sizes are compared case-insensitively (the API accepts `standard-2x` and
answers `Standard-2X`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.errors import ConfigError

__all__ = [
    "KNOWN_SIZES",
    "Account",
    "AddOn",
    "App",
    "Dyno",
    "DynoSize",
    "DynoState",
    "Formation",
    "FormationEntry",
    "LogSession",
    "NamedRef",
    "ProcessChange",
    "ProcessFormation",
    "Release",
    "Slug",
    "canonical_size",
    "merge",
    "parse_scale_args",
    "same_size",
]

# Size names as the API spells them (NOTES §2.3, CLI v11.9.0 COST_MONTHLY); input is case-insensitive.
KNOWN_SIZES: tuple[str, ...] = (
    "Eco",
    "Basic",
    "Standard-1X",
    "Standard-2X",
    "Performance-M",
    "Performance-L",
    "Performance-L-RAM",
    "Performance-XL",
    "Performance-2XL",
    "Private-S",
    "Private-M",
    "Private-L",
    "Private-L-RAM",
    "Private-XL",
    "Private-2XL",
    "Shield-S",
    "Shield-M",
    "Shield-L",
    "Shield-L-RAM",
    "Shield-XL",
    "Shield-2XL",
)
_BY_FOLDED = {name.casefold(): name for name in KNOWN_SIZES}


def canonical_size(name: str) -> str:
    """`standard-2x` → `Standard-2X`; names harness does not know pass through (the API judges them)."""
    return _BY_FOLDED.get(name.strip().casefold(), name.strip())


def same_size(a: str | None, b: str | None) -> bool:
    """Whether two size names denote the same size, ignoring case."""
    return (a or "").casefold() == (b or "").casefold()


def _ref(data: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested `{id, name}`-style object of an API answer, or `{}` when absent or null."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


class _Api(BaseModel):
    """An API object: frozen, unknown fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class _Value(BaseModel):
    """A harness value: frozen and strict about its fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NamedRef(_Api):
    """The `{id, name}` reference the API nests everywhere."""

    id: str | None = None
    name: str | None = None


class Account(_Api):
    """`GET /account`: who the token belongs to."""

    id: str
    email: str
    name: str | None = None


class App(_Api):
    """`GET /apps/{app}`: the facts preflight and the guards need."""

    id: str
    name: str
    web_url: str | None = None
    stack: NamedRef | None = None
    region: NamedRef | None = None
    maintenance: bool = False
    released_at: datetime | None = None
    created_at: datetime | None = None
    slug_size: int | None = None  # bytes


class FormationEntry(_Api):
    """One process type of `GET /apps/{app}/formation`."""

    type: str
    quantity: int
    size: str = Field(description="the dyno size name, from `dyno_size.name` or the deprecated `size`")
    command: str | None = None
    updated_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _size_from_dyno_size(cls, data: Any) -> Any:
        if isinstance(data, dict):
            dyno_size = data.get("dyno_size") or {}
            name = dyno_size.get("name") if isinstance(dyno_size, dict) else None
            data = {**data, "size": name or data.get("size") or ""}
        return data


class DynoState(enum.StrEnum):
    """A dyno's state as the API reports it ([S] dyno.state: "crashed, down, idle, starting, or up")."""

    STARTING = "starting"  # booting; not yet bound to $PORT
    UP = "up"  # running and (for web) accepting requests
    CRASHED = "crashed"  # exited or failed to boot (R10); aborts a scale-up
    DOWN = "down"  # stopped (e.g. being scaled away)
    IDLE = "idle"  # an Eco dyno asleep
    RESTARTING = "restarting"  # the dyno manager cycling it
    UNKNOWN = "unknown"  # anything newer than this list

    @classmethod
    def _missing_(cls, value: object) -> DynoState:
        return cls.UNKNOWN


class Dyno(_Api):
    """One dyno of `GET /apps/{app}/dynos`."""

    id: str
    name: str
    type: str
    state: DynoState
    size: str | None = None
    release_version: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = Field(default=None, description="when the dyno last changed state")

    @model_validator(mode="before")
    @classmethod
    def _flatten_release(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("release"), dict):
            data = {**data, "release_version": data["release"].get("version")}
        return data


class Release(_Api):
    """One release: what is deployed, by whom, from which slug."""

    id: str
    version: int
    description: str = ""
    status: str | None = None
    current: bool = False
    created_at: datetime | None = None
    user_email: str | None = None
    slug_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten_refs(cls, data: Any) -> Any:
        if isinstance(data, dict):
            user = _ref(data, "user")
            slug = _ref(data, "slug")
            data = {**data, "user_email": user.get("email"), "slug_id": slug.get("id")}
        return data


class Slug(_Api):
    """`GET /apps/{app}/slugs/{id}`: the deployed code (commit, size in bytes, process types)."""

    id: str
    commit: str | None = None
    commit_description: str | None = None
    size: int | None = None  # bytes
    process_types: dict[str, str] = Field(default_factory=dict)
    stack: NamedRef | None = None


class AddOn(_Api):
    """One add-on attached to the app: service and plan names, the config vars it sets, its owner app."""

    id: str
    name: str
    service: str | None = None
    plan: str | None = None  # `service:plan`, e.g. heroku-postgresql:essential-0
    state: str | None = None
    config_vars: tuple[str, ...] = ()  # names only: the vars provisioning set (DATABASE_URL, ...)
    app_name: str | None = None  # the app that owns (and is billed for) it

    @model_validator(mode="before")
    @classmethod
    def _flatten_refs(cls, data: Any) -> Any:
        if isinstance(data, dict):
            service = _ref(data, "addon_service")
            plan = _ref(data, "plan")
            names = data.get("config_vars")
            data = {
                **data,
                "service": service.get("name"),
                "plan": plan.get("name"),
                "config_vars": tuple(names) if isinstance(names, list) else (),
                "app_name": _ref(data, "app").get("name"),
            }
        return data


class DynoSize(_Api):
    """`GET /dyno-sizes`: a size with its live price (`cost` may be null)."""

    id: str | None = None
    name: str
    memory_gb: float | None = None
    compute: int | None = None
    dedicated: bool | None = None
    cost_cents: int | None = None
    cost_unit: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten_cost(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("cost" in data or "memory" in data):
            cost = _ref(data, "cost")
            data = {
                **data,
                "memory_gb": data.get("memory"),
                "cost_cents": cost.get("cents"),
                "cost_unit": cost.get("unit"),
            }
        return data

    @property
    def hourly_usd(self) -> float | None:
        """Price per dyno-hour in USD (monthly prices are the 720 h cap, as the CLI computes)."""
        if self.cost_cents is None:
            return None
        per_unit = self.cost_cents / 100
        hours = {"month": 720.0, "hour": 1.0, "day": 24.0, "second": 1 / 3600}.get(self.cost_unit or "month")
        return None if hours is None else per_unit / hours


class LogSession(_Api):
    """`POST /apps/{app}/log-sessions`: a URL that streams the app's log."""

    id: str
    logplex_url: str
    created_at: datetime | None = None


class ProcessFormation(_Value):
    """One process type of a formation: how many dynos of which size."""

    type: str = Field(pattern=r"^[-\w]{1,128}$")
    quantity: int = Field(ge=0)
    size: str

    def describe(self) -> str:
        """`web=4:Standard-2X`, the CLI's notation."""
        return f"{self.type}={self.quantity}:{self.size}"


class Formation(_Value):
    """A whole formation: every process type with its quantity and size, in type order."""

    processes: tuple[ProcessFormation, ...] = ()

    @model_validator(mode="after")
    def _unique_types(self) -> Formation:
        types = [p.type for p in self.processes]
        if len(types) != len(set(types)):
            raise ValueError(f"a process type appears twice in {types}")
        return self

    @classmethod
    def of(cls, processes: Iterable[ProcessFormation]) -> Formation:
        """A formation from process entries, sorted by type (web first is not implied)."""
        return cls(processes=tuple(sorted(processes, key=lambda p: p.type)))

    @classmethod
    def from_entries(cls, entries: Iterable[FormationEntry]) -> Formation:
        """The formation the API reported."""
        return cls.of(ProcessFormation(type=e.type, quantity=e.quantity, size=e.size) for e in entries)

    def __iter__(self) -> Iterator[ProcessFormation]:  # type: ignore[override]
        return iter(self.processes)

    def get(self, process_type: str) -> ProcessFormation | None:
        """The entry for one process type, if the app has it."""
        return next((p for p in self.processes if p.type == process_type), None)

    @property
    def types(self) -> tuple[str, ...]:
        """The process types, sorted."""
        return tuple(p.type for p in self.processes)

    def describe(self) -> str:
        """`web=4:Standard-2X worker=1:Standard-1X`."""
        return " ".join(p.describe() for p in self.processes) or "(no process types)"

    def matches(self, other: Formation, types: Iterable[str] | None = None) -> bool:
        """Whether `other` has the same quantity and size (case-insensitive) for `types` (default: ours)."""
        for process_type in self.types if types is None else types:
            mine, theirs = self.get(process_type), other.get(process_type)
            if mine is None or theirs is None:
                return False
            if mine.quantity != theirs.quantity or not same_size(mine.size, theirs.size):
                return False
        return True

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """`{"web": {"quantity": 1, "size": "Standard-1X"}}` for JSON output."""
        return {p.type: {"quantity": p.quantity, "size": p.size} for p in self.processes}


class ProcessChange(_Value):
    """A requested change of one process type; `size=None` keeps the current size."""

    type: str = Field(pattern=r"^[-\w]{1,128}$")
    quantity: int = Field(ge=0)
    size: str | None = None

    def apply_to(self, current: ProcessFormation | None, default_size: str) -> ProcessFormation:
        """The resulting entry, keeping the current (or default) size when none was asked for."""
        size = canonical_size(self.size) if self.size else current.size if current else default_size
        return ProcessFormation(type=self.type, quantity=self.quantity, size=size)


_SCALE_ARG = re.compile(r"^(?P<type>[-\w]{1,128})=(?P<quantity>\d+)(?::(?P<size>[\w-]+))?$")


def parse_scale_args(args: Iterable[str]) -> tuple[ProcessChange, ...]:
    """`["web=4:standard-2x", "worker=1"]` → changes; absolute quantities only (deltas are not idempotent)."""
    changes: list[ProcessChange] = []
    for arg in args:
        match = _SCALE_ARG.match(arg.strip())
        if match is None:
            raise ConfigError(
                f"`{arg}` is not TYPE=QUANTITY[:SIZE], e.g. web=4:standard-2x. harness only takes absolute "
                "quantities (no +1/-1), so a retried request cannot scale twice.",
                field="formation",
            )
        if any(c.type == match["type"] for c in changes):
            raise ConfigError(f"process type `{match['type']}` is given twice", field="formation")
        changes.append(
            ProcessChange(type=match["type"], quantity=int(match["quantity"]), size=match["size"] or None)
        )
    if not changes:
        raise ConfigError(
            "name at least one process type to scale, e.g. web=4:standard-2x", field="formation"
        )
    return tuple(changes)


def merge(
    current: Formation, changes: Iterable[ProcessChange], default_size: str = "Standard-1X"
) -> Formation:
    """The formation after applying `changes` to `current` (types not named keep their entry)."""
    by_type: Mapping[str, ProcessChange] = {c.type: c for c in changes}
    merged = [p for p in current if p.type not in by_type]
    merged += [c.apply_to(current.get(c.type), default_size) for c in by_type.values()]
    return Formation.of(merged)
