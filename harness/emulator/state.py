"""The emulator's in-memory platform: apps, slugs, releases, config vars, formation, add-ons, dyno sizes.

Pure data plus Heroku's rules (Heroku's Platform API reference and the published schema), no I/O: the
HTTP layer (`api.py`) parses requests and renders JSON, the controller
(`control.py`) applies the results to running dynos. Every rule violation is an
`ApiError` carrying the status, Heroku error id and message the API answers
with, so the rules can be unit-tested without a socket.

Timestamps come from an injectable clock (UTC `datetime`); ids are uuid4,
except dyno sizes, whose ids are uuid5 of their name so they stay stable
across emulator runs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DEFAULT_SIZE",
    "DYNO_SIZES",
    "Account",
    "AddOn",
    "AddOnPlan",
    "ApiError",
    "App",
    "DynoSize",
    "Formation",
    "FormationChange",
    "Platform",
    "Release",
    "Slug",
    "find_dyno_size",
    "parse_quantity",
]

APP_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")
CONFIG_KEY_PATTERN = re.compile(r"^\w+$")
QUANTITY_PATTERN = re.compile(r"^\s*([=+-]?)\s*(\d+)\s*$")
PROCESS_TYPE_PATTERN = re.compile(r"^[-\w]{1,128}$")
SIZE_NAMESPACE = uuid.UUID("6b1f2d1e-2f51-4c8e-9d0f-1c2b3a4d5e6f")
DEFAULT_SIZE = "Standard-1X"
DEFAULT_STACK = "heroku-24"
DEFAULT_REGION = "us"


class ApiError(Exception):
    """A Platform API error answer: HTTP `status`, Heroku error `error_id`, human `message`."""

    def __init__(self, status: int, error_id: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.message = message


def _not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"Couldn't find that {what}.")


def _invalid(message: str) -> ApiError:
    return ApiError(422, "invalid_params", message)


@dataclass(frozen=True, kw_only=True)
class DynoSize:
    """One dyno size. `cost_cents` is per month (NOTES §3.6); memory in GB; compute in vCPUs.

    Names and prices are Heroku's (CLI `COST_MONTHLY`, Dev Center dyno-types).
    `compute` and `precise_dyno_units` (monthly cost relative to Standard-1X) are
    emulator approximations: Heroku publishes no table of them.
    """

    name: str
    memory_gb: float
    compute: int
    cost_cents: int
    dedicated: bool = False
    private_space_only: bool = False
    max_per_type: int = 100

    @property
    def id(self) -> str:
        """A uuid5 of the name: stable across runs so clients may cache it."""
        return str(uuid.uuid5(SIZE_NAMESPACE, self.name))

    @property
    def precise_dyno_units(self) -> float:
        """Monthly cost relative to Standard-1X (an emulator approximation)."""
        return round(self.cost_cents / 2500, 2)


def _private(prefix: str, cents: Sequence[int]) -> list[DynoSize]:
    specs = [
        ("S", 1.0, 2),
        ("M", 2.5, 2),
        ("L", 14.0, 8),
        ("L-RAM", 30.0, 4),
        ("XL", 62.0, 8),
        ("2XL", 126.0, 16),
    ]
    return [
        DynoSize(
            name=f"{prefix}-{suffix}",
            memory_gb=mem,
            compute=cpu,
            cost_cents=cost,
            dedicated=True,
            private_space_only=True,
        )
        for (suffix, mem, cpu), cost in zip(specs, cents, strict=True)
    ]


# Eco's $5 buys a 1000 dyno-hour pool shared by every Eco dyno, so one Eco dyno costs 0 (as the CLI shows).
DYNO_SIZES: tuple[DynoSize, ...] = (
    DynoSize(name="Eco", memory_gb=0.5, compute=1, cost_cents=0, max_per_type=1),
    DynoSize(name="Basic", memory_gb=0.5, compute=1, cost_cents=700, max_per_type=1),
    DynoSize(name="Standard-1X", memory_gb=0.5, compute=1, cost_cents=2500),
    DynoSize(name="Standard-2X", memory_gb=1.0, compute=2, cost_cents=5000),
    DynoSize(name="Performance-M", memory_gb=2.5, compute=2, cost_cents=25000, dedicated=True),
    DynoSize(name="Performance-L", memory_gb=14.0, compute=8, cost_cents=50000, dedicated=True),
    DynoSize(name="Performance-L-RAM", memory_gb=30.0, compute=4, cost_cents=50000, dedicated=True),
    DynoSize(name="Performance-XL", memory_gb=62.0, compute=8, cost_cents=75000, dedicated=True),
    DynoSize(name="Performance-2XL", memory_gb=126.0, compute=16, cost_cents=150000, dedicated=True),
    *_private("Private", [22500, 45000, 90000, 50000, 75000, 150000]),
    *_private("Shield", [27000, 54000, 108000, 60000, 90000, 180000]),
)


def find_dyno_size(identity: str) -> DynoSize:
    """A size by id or case-insensitive name; 422 `invalid_params` listing the sizes otherwise."""
    wanted = identity.strip().lower()
    for size in DYNO_SIZES:
        if wanted in (size.name.lower(), size.id):
            return size
    names = [s.name for s in DYNO_SIZES if not s.private_space_only]
    listing = ", ".join(names[:-1]) + " and " + names[-1]
    raise _invalid(f"No such size as {identity}. Available dyno sizes are {listing}.")


def parse_quantity(raw: object, current: int) -> int:
    """Absolute quantity from an int, or a string `N`, `=N`, `+N`, `-N` (the CLI's forms)."""
    if isinstance(raw, bool):
        raise _invalid('Quantity must be an integer or a string such as "2", "+1" or "-1".')
    if isinstance(raw, int):
        quantity = raw
    elif isinstance(raw, str) and (match := QUANTITY_PATTERN.match(raw)):
        sign, digits = match.groups()
        quantity = {"+": current + int(digits), "-": current - int(digits)}.get(sign, int(digits))
    else:
        raise _invalid(f'Invalid quantity {raw!r}: use an integer or a string such as "2", "+1" or "-1".')
    if quantity < 0:
        raise _invalid(f"Quantity must be zero or more (asked for {quantity}).")
    return quantity


@dataclass(frozen=True, kw_only=True)
class Account:
    """The single account the emulator's token belongs to."""

    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    email: str = "developer@example.com"
    name: str = "Emulator Developer"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(kw_only=True)
class Slug:
    """A built slug: its process types come from the app's Procfile. `source_dir` is where dynos run from."""

    id: str
    process_types: dict[str, str]
    commit: str | None
    commit_description: str | None
    size: int | None
    checksum: str | None
    created_at: datetime
    app_id: str
    source_dir: str | None = None


@dataclass(kw_only=True)
class Release:
    """One release: a slug plus a frozen copy of the config vars it runs with."""

    id: str
    version: int
    description: str
    slug_id: str | None
    config: dict[str, str]
    created_at: datetime
    addon_plan_names: list[str]
    status: str = "succeeded"


@dataclass(kw_only=True)
class Formation:
    """The desired dyno count and size of one process type."""

    id: str
    type: str
    quantity: int
    size: str
    command: str
    created_at: datetime
    updated_at: datetime


@dataclass(kw_only=True)
class AddOn:
    """A provisioned add-on (only listed: the emulator runs no database)."""

    id: str
    name: str
    service_name: str
    plan_name: str
    price_cents: int
    config_vars: list[str]
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class AddOnPlan:
    """What to provision: service, plan, monthly price (cents) and the config vars it sets."""

    service: str
    plan: str
    price_cents: int
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class App:
    """An app: config, releases (oldest first), formation by process type, add-ons."""

    id: str
    name: str
    created_at: datetime
    updated_at: datetime
    region: str = DEFAULT_REGION
    stack: str = DEFAULT_STACK
    maintenance: bool = False
    web_url: str | None = None
    config: dict[str, str] = field(default_factory=dict)
    releases: list[Release] = field(default_factory=list)
    formation: dict[str, Formation] = field(default_factory=dict)
    addons: list[AddOn] = field(default_factory=list)

    @property
    def current_release(self) -> Release | None:
        """The newest release (Heroku's `current`)."""
        return self.releases[-1] if self.releases else None

    @property
    def released_at(self) -> datetime | None:
        """When the current release was made."""
        current = self.current_release
        return current.created_at if current else None


@dataclass(frozen=True, kw_only=True)
class FormationChange:
    """What a validated formation update asks of the runtime."""

    formation: Formation
    quantity_changed: bool
    size_changed: bool


Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid.uuid4())


class Platform:
    """All apps of the one account, with Heroku's rules for changing them."""

    def __init__(self, *, account: Account | None = None, clock: Clock = _utc_now) -> None:
        self.account = account or Account()
        self.clock = clock
        self.apps: dict[str, App] = {}
        self.slugs: dict[str, Slug] = {}

    # -- apps ---------------------------------------------------------------

    def create_app(
        self, name: str | None = None, *, region: str | None = None, stack: str | None = None
    ) -> App:
        """A new, blank app (no release yet). 422 for a bad or taken name."""
        name = name if name is not None else self._generated_name()
        self._check_name(name)
        now = self.clock()
        app = App(id=_new_id(), name=name, created_at=now, updated_at=now)
        app.region = region or DEFAULT_REGION
        app.stack = stack or DEFAULT_STACK
        self.apps[app.id] = app
        return app

    def find_app(self, identity: str) -> App:
        """An app by id or name; 404 "Couldn't find that app." otherwise."""
        if identity in self.apps:
            return self.apps[identity]
        for app in self.apps.values():
            if app.name == identity:
                return app
        raise _not_found("app")

    def update_app(self, app: App, *, name: str | None = None, maintenance: bool | None = None) -> App:
        """Rename and/or toggle maintenance mode."""
        if name is not None and name != app.name:
            self._check_name(name)
            app.name = name
        if maintenance is not None:
            app.maintenance = maintenance
        app.updated_at = self.clock()
        return app

    def delete_app(self, app: App) -> App:
        """Forget the app (its slugs stay: other apps may have released them)."""
        del self.apps[app.id]
        return app

    def _check_name(self, name: str) -> None:
        if not APP_NAME_PATTERN.match(name):
            raise _invalid(
                "Name must start with a letter, end with a letter or digit and can only contain "
                "lowercase letters, digits, and dashes (3 to 30 characters)."
            )
        if any(a.name == name for a in self.apps.values()):
            raise _invalid("Name is already taken")

    def _generated_name(self) -> str:
        for _ in range(100):
            name = f"emulated-app-{uuid.uuid4().hex[:6]}"
            if not any(a.name == name for a in self.apps.values()):
                return name
        raise RuntimeError("could not generate a free app name")

    # -- slugs and releases -------------------------------------------------

    def create_slug(
        self,
        app: App,
        process_types: Mapping[str, str],
        *,
        commit: str | None = None,
        commit_description: str | None = None,
        size: int | None = None,
        checksum: str | None = None,
        source_dir: str | None = None,
    ) -> Slug:
        """Record a built slug for `app` (process types as in the Procfile)."""
        bad = [t for t in process_types if not PROCESS_TYPE_PATTERN.match(t)]
        if bad:
            raise _invalid(f"Invalid process type names: {', '.join(bad)}.")
        slug = Slug(
            id=_new_id(),
            process_types=dict(process_types),
            commit=commit,
            commit_description=commit_description,
            size=size,
            checksum=checksum,
            created_at=self.clock(),
            app_id=app.id,
            source_dir=source_dir,
        )
        self.slugs[slug.id] = slug
        return slug

    def find_slug(self, app: App, identity: str) -> Slug:
        """A slug of `app` by id; 404 otherwise."""
        slug = self.slugs.get(identity)
        if slug is None or slug.app_id != app.id:
            raise _not_found("slug")
        return slug

    def find_release(self, app: App, identity: str) -> Release:
        """A release by id or version number; 404 otherwise."""
        for release in app.releases:
            if identity in (release.id, str(release.version)):
                return release
        raise _not_found("release")

    def slug_of(self, release: Release) -> Slug | None:
        """The slug a release runs, if any (config-only releases of blank apps have none)."""
        return self.slugs.get(release.slug_id) if release.slug_id else None

    def deploy(self, app: App, slug_id: str, description: str | None = None) -> Release:
        """Release a slug with the app's current config (any app's slug, as `heroku fork` relies on)."""
        slug = self.slugs.get(slug_id)
        if slug is None:
            raise _not_found("slug")
        release = self._new_release(app, slug.id, dict(app.config), description or self._deploy_text(slug))
        self._sync_formation(app, slug)
        return release

    def rollback(self, app: App, release_id: str) -> Release:
        """A new version that copies the target's slug and config (the app's config follows)."""
        target = next((r for r in app.releases if r.id == release_id), None)
        if target is None:
            raise _not_found("release")
        if not self.eligible_for_rollback(app, target):
            raise _invalid(f"Release v{target.version} cannot be rolled back to: it has no slug.")
        app.config = dict(target.config)
        release = self._new_release(
            app, target.slug_id, dict(target.config), f"Rollback to v{target.version}"
        )
        slug = self.slug_of(release)
        if slug is not None:
            self._sync_formation(app, slug)
        return release

    def eligible_for_rollback(self, app: App, release: Release) -> bool:
        """A succeeded release with a slug that is not the current one."""
        return (
            release.slug_id is not None
            and release.status == "succeeded"
            and release is not app.current_release
        )

    def update_config(self, app: App, changes: Mapping[str, Any]) -> Release | None:
        """Apply a config-vars PATCH (`null` removes); a real change makes a release, else None."""
        self._check_config(changes)
        new_config = dict(app.config)
        for key, value in changes.items():
            if value is None:
                new_config.pop(key, None)
            else:
                new_config[key] = value
        if new_config == app.config:
            return None
        description = self._config_text(app.config, new_config)
        app.config = new_config
        current = app.current_release
        slug_id = current.slug_id if current else None
        return self._new_release(app, slug_id, dict(new_config), description)

    def _check_config(self, changes: Mapping[str, Any]) -> None:
        for key, value in changes.items():
            if not CONFIG_KEY_PATTERN.match(key):
                raise _invalid(f"Invalid config var name {key!r}: use letters, digits and underscores.")
            if value is not None and not isinstance(value, str):
                raise _invalid(f"Config var {key} must be a string or null.")

    @staticmethod
    def _config_text(old: Mapping[str, str], new: Mapping[str, str]) -> str:
        changed = sorted(k for k in new if old.get(k) != new[k])
        removed = sorted(k for k in old if k not in new)
        parts = []
        if changed:
            parts.append(f"Set {', '.join(changed)} config vars")
        if removed:
            parts.append(f"Remove {', '.join(removed)} config vars")
        return " and ".join(parts)

    @staticmethod
    def _deploy_text(slug: Slug) -> str:
        return f"Deploy {slug.commit[:8]}" if slug.commit else "Deploy"

    def _new_release(
        self, app: App, slug_id: str | None, config: dict[str, str], description: str
    ) -> Release:
        now = self.clock()
        current = app.current_release
        release = Release(
            id=_new_id(),
            version=(current.version + 1) if current else 1,
            description=description,
            slug_id=slug_id,
            config=config,
            created_at=now,
            addon_plan_names=[a.plan_name for a in app.addons],
        )
        app.releases.append(release)
        app.updated_at = now
        return release

    def _sync_formation(self, app: App, slug: Slug) -> None:
        """Formation follows the slug's process types: new types at 0 (web at 1 on first deploy)."""
        now = self.clock()
        first_deploy = not app.formation
        for ptype, command in slug.process_types.items():
            existing = app.formation.get(ptype)
            if existing is not None:
                existing.command = command
                continue
            quantity = 1 if first_deploy and ptype == "web" else 0
            app.formation[ptype] = Formation(
                id=_new_id(),
                type=ptype,
                quantity=quantity,
                size=DEFAULT_SIZE,
                command=command,
                created_at=now,
                updated_at=now,
            )
        for ptype in [t for t in app.formation if t not in slug.process_types]:
            del app.formation[ptype]

    # -- formation ----------------------------------------------------------

    def find_formation(self, app: App, identity: str) -> Formation:
        """A formation by id or process type; 404 otherwise."""
        for formation in app.formation.values():
            if identity in (formation.id, formation.type):
                return formation
        raise _not_found("formation")

    def update_formation(self, app: App, updates: Sequence[Mapping[str, Any]]) -> list[FormationChange]:
        """Validate every update first, then apply them all (a batch is all or nothing)."""
        if app.current_release is None or app.current_release.slug_id is None:
            raise _invalid("App must be deployed before dynos can be scaled.")
        planned = [self._plan_update(app, update) for update in updates]
        now = self.clock()
        changes = []
        for formation, quantity, size in planned:
            change = FormationChange(
                formation=formation,
                quantity_changed=quantity != formation.quantity,
                size_changed=size != formation.size,
            )
            formation.quantity, formation.size = quantity, size
            if change.quantity_changed or change.size_changed:
                formation.updated_at = now
            changes.append(change)
        return changes

    def _plan_update(self, app: App, update: Mapping[str, Any]) -> tuple[Formation, int, str]:
        ptype = update.get("type")
        if not isinstance(ptype, str) or not ptype:
            raise _invalid('Each formation update needs a process type ("type").')
        formation = self._formation_for_update(app, ptype)
        size = self._size_for_update(update, formation.size)
        quantity = formation.quantity
        if update.get("quantity") is not None:
            quantity = parse_quantity(update["quantity"], formation.quantity)
        size_info = find_dyno_size(size)
        if size_info.private_space_only:
            raise _invalid(f"{size_info.name} dynos can only run in Private or Shield Spaces.")
        if quantity > size_info.max_per_type:
            raise _invalid(
                f"Cannot update to more than {size_info.max_per_type} {size_info.name} size dynos "
                "per process type."
            )
        return formation, quantity, size_info.name

    def _formation_for_update(self, app: App, identity: str) -> Formation:
        try:
            return self.find_formation(app, identity)
        except ApiError:
            raise _invalid(f"Couldn't find that process type ({identity}) in the app's Procfile.") from None

    @staticmethod
    def _size_for_update(update: Mapping[str, Any], current: str) -> str:
        dyno_size = update.get("dyno_size")
        if isinstance(dyno_size, Mapping):
            ident = dyno_size.get("name") or dyno_size.get("id")
            if not isinstance(ident, str):
                raise _invalid('dyno_size needs a "name" or an "id".')
            return find_dyno_size(ident).name
        if dyno_size is not None:
            raise _invalid('dyno_size must be an object with a "name" or an "id".')
        size = update.get("size")
        if size is None:
            return current
        if not isinstance(size, str):
            raise _invalid('size must be a string such as "Standard-2X".')
        return find_dyno_size(size).name

    # -- add-ons ------------------------------------------------------------

    def add_addon(self, app: App, plan: AddOnPlan) -> AddOn:
        """Attach a listed-only add-on and set its config vars (as provisioning does on Heroku)."""
        addon = AddOn(
            id=_new_id(),
            name=f"{plan.service.split('-')[-1]}-{uuid.uuid4().hex[:8]}",
            service_name=plan.service,
            plan_name=f"{plan.service}:{plan.plan}",
            price_cents=plan.price_cents,
            config_vars=sorted(plan.config),
            created_at=self.clock(),
        )
        app.addons.append(addon)
        app.config.update(plan.config)
        return addon
