"""State objects -> the JSON api.heroku.com answers with (every field of the schema, nothing more).

Values with no local meaning get fixed, documented stand-ins: region `us`,
stack `heroku-24`, generation `cedar`, no team/space/organization. A slug's
`blob.url` is a `file://` URL of the directory its dynos run from.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.emulator.models import Account, AddOn, App, Formation, Release, Slug
from harness.emulator.sizes import DynoSize, find_dyno_size
from harness.emulator.state import Platform
from harness.emulator.supervisor import DynoInfo

__all__ = [
    "account_json",
    "addon_json",
    "app_json",
    "dyno_json",
    "dyno_size_json",
    "formation_json",
    "iso",
    "log_session_json",
    "named_ref",
    "release_json",
    "slug_json",
]

_NAMESPACE = uuid.UUID("0c6f5a3e-7d4b-4a8e-b1c2-5e9d8f7a6b5c")
GENERATION = "cedar"
JSON = dict[str, Any]


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with a `Z`, to the second, as Heroku writes timestamps."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _named(kind: str, name: str) -> JSON:
    """`{id, name}` for fixed things (stack, region, generation): a stable uuid5 of the name."""
    return {"id": str(uuid.uuid5(_NAMESPACE, f"{kind}:{name}")), "name": name}


named_ref = _named  # public for the API modules outside this one (pipelines)


def _app_ref(app: App) -> JSON:
    return {"id": app.id, "name": app.name}


def account_json(account: Account) -> JSON:
    """`GET /account`."""
    return {
        "allow_tracking": False,
        "beta": False,
        "created_at": iso(account.created_at),
        "email": account.email,
        "federated": False,
        "id": account.id,
        "identity_provider": None,
        "last_login": iso(account.created_at),
        "name": account.name,
        "sms_number": None,
        "suspended_at": None,
        "delinquent_at": None,
        "two_factor_authentication": False,
        "updated_at": iso(account.created_at),
        "verified": True,
        "country_of_residence": None,
        "default_organization": None,
        "default_team": None,
    }


def app_json(app: App, platform: Platform) -> JSON:
    """`GET /apps/{app}`; `web_url` is the app's loopback router URL (null before the first deploy)."""
    current = app.current_release
    slug = platform.slug_of(current) if current else None
    return {
        "acm": False,
        "archived_at": None,
        "buildpack_provided_description": None,
        "build_stack": _named("stack", app.stack),
        "created_at": iso(app.created_at),
        "generation": _named("generation", GENERATION),
        "git_url": f"https://git.heroku.com/{app.name}.git",
        "id": app.id,
        "internal_routing": None,
        "maintenance": app.maintenance,
        "name": app.name,
        "owner": {"email": platform.account.email, "id": platform.account.id},
        "organization": None,
        "team": None,
        "region": _named("region", app.region),
        "released_at": iso(app.released_at),
        "repo_size": None,
        "slug_size": slug.size if slug else None,
        "space": None,
        "stack": _named("stack", app.stack),
        "updated_at": iso(app.updated_at),
        "web_url": app.web_url,
    }


def formation_json(app: App, formation: Formation) -> JSON:
    """One process type's formation; `size` (deprecated) repeats `dyno_size.name`."""
    size = find_dyno_size(formation.size)
    return {
        "app": _app_ref(app),
        "command": formation.command,
        "created_at": iso(formation.created_at),
        "dyno_size": {"id": size.id, "name": size.name},
        "id": formation.id,
        "quantity": formation.quantity,
        "size": size.name,
        "type": formation.type,
        "updated_at": iso(formation.updated_at),
    }


def dyno_json(app: App, dyno: DynoInfo) -> JSON:
    """One running (or crashed/stopping) dyno as the runtime reports it."""
    return {
        "attach_url": None,
        "command": dyno.command,
        "created_at": iso(dyno.created_at),
        "id": dyno.id,
        "name": dyno.name,
        "release": {"id": dyno.release.id, "version": dyno.release.version},
        "app": _app_ref(app),
        "size": dyno.size,
        "state": dyno.state.value,
        "type": dyno.type,
        "updated_at": iso(dyno.updated_at),
    }


def release_json(app: App, release: Release, platform: Platform) -> JSON:
    """One release; `current` is the newest, rollback needs a slug and another release to be current."""
    return {
        "addon_plan_names": list(release.addon_plan_names),
        "artifacts": [{"type": "slug", "id": release.slug_id}] if release.slug_id else [],
        "app": _app_ref(app),
        "created_at": iso(release.created_at),
        "description": release.description,
        "id": release.id,
        "updated_at": iso(release.created_at),
        "slug": {"id": release.slug_id} if release.slug_id else None,
        "status": release.status,
        "user": {"id": platform.account.id, "email": platform.account.email},
        "version": release.version,
        "current": release is app.current_release,
        "output_stream_url": None,
        "eligible_for_rollback": platform.eligible_for_rollback(app, release),
    }


def slug_json(slug: Slug, stack: str) -> JSON:
    """A slug: process types from the Procfile, commit = content hash of the app directory."""
    url = Path(slug.source_dir).resolve().as_uri() if slug.source_dir else ""
    return {
        "blob": {"method": "GET", "url": url},
        "buildpack_provided_description": None,
        "checksum": slug.checksum,
        "commit": slug.commit,
        "commit_description": slug.commit_description,
        "created_at": iso(slug.created_at),
        "id": slug.id,
        "process_types": dict(slug.process_types),
        "size": slug.size,
        "stack": _named("stack", stack),
        "updated_at": iso(slug.created_at),
        "deleted_at": None,
    }


def addon_json(app: App, addon: AddOn) -> JSON:
    """An add-on that is only listed (the emulator provisions nothing)."""
    return {
        "actions": [],
        "addon_service": _named("addon-service", addon.service_name),
        "billing_entity": {"id": app.id, "name": app.name, "type": "app"},
        "app": _app_ref(app),
        "billed_price": {"cents": addon.price_cents, "contract": False, "unit": "month"},
        "config_vars": list(addon.config_vars),
        "created_at": iso(addon.created_at),
        "id": addon.id,
        "name": addon.name,
        "plan": _named("plan", addon.plan_name),
        "provider_id": f"emulated-{addon.id[:8]}",
        "provision_message": "Listed by the harness emulator; nothing runs locally.",
        "state": "provisioned",
        "updated_at": iso(addon.created_at),
        "web_url": None,
    }


def dyno_size_json(size: DynoSize) -> JSON:
    """A dyno size with its monthly price in cents."""
    return {
        "architecture": "amd64",
        "compute": size.compute,
        "cost": {"cents": size.cost_cents, "unit": "month"},
        "dedicated": size.dedicated,
        "precise_dyno_units": size.precise_dyno_units,
        "generation": _named("generation", GENERATION),
        "id": size.id,
        "memory": size.memory_gb,
        "name": size.name,
        "private_space_only": size.private_space_only,
    }


def log_session_json(session_id: str, logplex_url: str, created_at: datetime) -> JSON:
    """A log session; `logplex_url` is on the emulator's own API port."""
    return {
        "created_at": iso(created_at),
        "id": session_id,
        "logplex_url": logplex_url,
        "updated_at": iso(created_at),
    }
