"""What parity compares about one app, read from the Platform API without keeping a secret.

`read_profile` makes only GET calls: the app (stack, region, maintenance),
its current release and slug (commit, process types and their commands), the
formation (dyno size per process type), add-ons (service, plan, the config
vars each sets), buildpacks (`GET /apps/{app}/buildpack-installations`, when
the API gives them) and the config vars. Config var *values* never leave
`_config_facts`: what survives is the names, whether a value looks like a live
payment key (`side_effects.LIVE_VALUE_PREFIXES`, a prefix test), and, only
when asked, a keyed hash per value (HMAC-SHA256 with a key made for this one
comparison and never shown), so two apps can be told to differ without
anything that could be looked up.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import NotFoundError, PlatformError
from harness.platform.heroku import HerokuClient
from harness.platform.models import AddOn, Formation
from harness.platform.side_effects import LIVE_VALUE_PREFIXES

__all__ = ["FORK_MARKER", "AppProfile", "ProfileAddOn", "buildpacks", "config_vars", "read_profile"]

# The config var harness sets on an app it forked (value: the source app's name): the marker
# `destroy-fork` checks, and a name parity and fork never copy or compare.
FORK_MARKER = "HARNESS_FORK_OF"


class ProfileAddOn(BaseModel):
    """One add-on as parity sees it: `service:plan` and the config var names it owns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    service: str
    plan: str  # `service:plan`
    config_vars: tuple[str, ...] = ()
    attached_from: str | None = None  # owner app when the add-on is another app's, shared here

    @classmethod
    def of(cls, addon: AddOn, app: str) -> ProfileAddOn:
        """From the API's add-on; a plan name without `service:` gets it prefixed."""
        service = addon.service or (addon.plan or "unknown").split(":")[0]
        plan = addon.plan or f"{service}:unknown"
        plan = plan if ":" in plan else f"{service}:{plan}"
        owner = addon.app_name if addon.app_name and addon.app_name != app else None
        return cls(
            name=addon.name, service=service, plan=plan, config_vars=addon.config_vars, attached_from=owner
        )


class AppProfile(BaseModel):
    """The facts of one app that decide whether a capacity test of it transfers to another."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    stack: str | None = None
    region: str | None = None
    maintenance: bool = False
    release_version: int | None = None
    slug_id: str | None = None
    commit: str | None = None
    process_types: dict[str, str] = Field(default_factory=dict)  # type -> command (the Procfile's)
    formation: Formation = Field(default_factory=Formation)
    addons: tuple[ProfileAddOn, ...] = ()
    buildpacks: tuple[str, ...] | None = None  # None: the API did not say
    config_var_names: tuple[str, ...] = ()
    live_key_names: tuple[str, ...] = ()  # names whose value starts like a live payment key
    value_digests: dict[str, str] | None = Field(
        default=None, repr=False, exclude=True
    )  # opt-in; never shown

    def addon_config_vars(self) -> set[str]:
        """Config var names that an add-on set (compared as add-ons, never copied by a fork)."""
        return {name for addon in self.addons for name in addon.config_vars}


def config_vars(client: HerokuClient, app: str) -> dict[str, str]:
    """The app's config vars *with values*: for the fork's copy and `_config_facts` only."""
    response = client.request("GET", f"/apps/{app}/config-vars", idempotent=True, app=app)
    data: Any = response.json()
    if not isinstance(data, dict):
        raise PlatformError(f"GET /apps/{app}/config-vars answered with a {type(data).__name__}.", app=app)
    return {str(k): str(v) for k, v in data.items() if v is not None}


def _config_facts(
    values: Mapping[str, str], digest_key: bytes | None
) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, str] | None]:
    """Names, names holding live payment keys, and (with a key) keyed digests; the values stop here."""
    names = tuple(sorted(values))
    live = tuple(n for n in names if values[n].strip().startswith(LIVE_VALUE_PREFIXES))
    digests = None
    if digest_key is not None:
        digests = {n: hmac.new(digest_key, values[n].encode(), hashlib.sha256).hexdigest() for n in names}
    return names, live, digests


def buildpacks(client: HerokuClient, app: str) -> tuple[str, ...] | None:
    """The app's buildpacks in order, or None when the API does not give them (404)."""
    try:
        response = client.request("GET", f"/apps/{app}/buildpack-installations", idempotent=True, app=app)
    except NotFoundError:
        return None
    items: Any = response.json()
    if not isinstance(items, list):
        return None
    ordered = sorted((i for i in items if isinstance(i, dict)), key=lambda i: i.get("ordinal") or 0)
    found = [(i.get("buildpack") or {}).get("name") or (i.get("buildpack") or {}).get("url") for i in ordered]
    return tuple(str(name) for name in found if name)


def read_profile(client: HerokuClient, app: str, *, digest_key: bytes | None = None) -> AppProfile:
    """Everything parity compares about `app` (GET calls only); `digest_key` opts into value digests."""
    info = client.app(app)
    release = client.current_release(app)
    slug = client.slug(app, release.slug_id) if release is not None and release.slug_id else None
    names, live, digests = _config_facts(config_vars(client, app), digest_key)
    return AppProfile(
        name=info.name,
        stack=info.stack.name if info.stack else None,
        region=info.region.name if info.region else None,
        maintenance=info.maintenance,
        release_version=release.version if release else None,
        slug_id=slug.id if slug else None,
        commit=slug.commit if slug else None,
        process_types=dict(slug.process_types) if slug else {},
        formation=Formation.from_entries(client.formation(app)),
        addons=tuple(sorted((ProfileAddOn.of(a, info.name) for a in client.addons(app)), key=_addon_key)),
        buildpacks=buildpacks(client, app),
        config_var_names=names,
        live_key_names=live,
        value_digests=digests,
    )


def _addon_key(addon: ProfileAddOn) -> tuple[str, str]:
    return addon.service, addon.name
