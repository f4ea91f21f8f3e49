"""The emulator's records: account, apps, slugs, releases, formation, add-ons (plain data, no rules).

The rules that change them live with their capability: `state.py` (apps,
add-ons), `releases.py` (slugs, releases, config vars), `scaling.py`
(formation). Timestamps are UTC `datetime`s from an injectable `Clock`; ids are uuid4.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = [
    "DEFAULT_REGION",
    "DEFAULT_STACK",
    "RELEASE_TYPE",
    "Account",
    "AddOn",
    "AddOnPlan",
    "App",
    "Clock",
    "Formation",
    "FormationChange",
    "Release",
    "Slug",
    "new_id",
    "utc_now",
]

DEFAULT_STACK = "heroku-24"
# The Procfile type Heroku runs as the release phase (before each release), never as a formation.
RELEASE_TYPE = "release"
DEFAULT_REGION = "us"


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
    """A provisioned add-on."""

    id: str
    name: str
    service_name: str
    plan_name: str
    price_cents: int
    config_vars: list[str]
    created_at: datetime
    # Attachment names (config var = name + "_URL"); listed-only add-ons are described by their vars.
    attachments: list[str] = field(default_factory=list)
    provision_message: str = "Listed by the harness emulator; nothing runs locally."


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
    buildpacks: list[str] = field(default_factory=list)  # names or URLs, in order

    @property
    def current_release(self) -> Release | None:
        """The newest succeeded release (Heroku's `current`): a pending or failed one is not."""
        return next((r for r in reversed(self.releases) if r.status == "succeeded"), None)

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


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())
