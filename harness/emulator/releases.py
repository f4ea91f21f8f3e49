"""Slugs, releases and config vars: deploys, rollbacks and config changes each make a new version.

`ReleaseRules` is a mixin of `Platform` (`state.py`). A release is a slug plus
a frozen copy of the config vars; `current` is the newest; rollback copies
the target's slug and config into a new version (Heroku's rules, NOTES §2.5).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from harness.emulator.api_error import invalid, not_found
from harness.emulator.models import App, Clock, Release, Slug, new_id
from harness.emulator.scaling import sync_formation

__all__ = ["ReleaseRules"]

CONFIG_KEY_PATTERN = re.compile(r"^\w+$")
PROCESS_TYPE_PATTERN = re.compile(r"^[-\w]{1,128}$")


class ReleaseRules:
    """Slugs of every app and the releases of each (mixed into `Platform`)."""

    clock: Clock
    slugs: dict[str, Slug]

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
            raise invalid(f"Invalid process type names: {', '.join(bad)}.")
        slug = Slug(
            id=new_id(),
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
        """A slug built for `app`, or one released to it from another app (slug copy); 404 otherwise."""
        slug = self.slugs.get(identity)
        released_here = any(r.slug_id == identity for r in app.releases)
        if slug is None or (slug.app_id != app.id and not released_here):
            raise not_found("slug")
        return slug

    def find_release(self, app: App, identity: str) -> Release:
        """A release by id or version number; 404 otherwise."""
        for release in app.releases:
            if identity in (release.id, str(release.version)):
                return release
        raise not_found("release")

    def slug_of(self, release: Release) -> Slug | None:
        """The slug a release runs, if any (config-only releases of blank apps have none)."""
        return self.slugs.get(release.slug_id) if release.slug_id else None

    def deploy(self, app: App, slug_id: str, description: str | None = None) -> Release:
        """Release a slug with the app's current config (any app's slug, as `heroku fork` relies on)."""
        slug = self.slugs.get(slug_id)
        if slug is None:
            raise not_found("slug")
        release = self._new_release(app, slug.id, dict(app.config), description or self._deploy_text(slug))
        sync_formation(app, slug, self.clock())
        return release

    def rollback(self, app: App, release_id: str) -> Release:
        """A new version that copies the target's slug and config (the app's config follows)."""
        target = next((r for r in app.releases if r.id == release_id), None)
        if target is None:
            raise not_found("release")
        if not self.eligible_for_rollback(app, target):
            raise invalid(f"Release v{target.version} cannot be rolled back to: it has no slug.")
        app.config = dict(target.config)
        release = self._new_release(
            app, target.slug_id, dict(target.config), f"Rollback to v{target.version}"
        )
        slug = self.slug_of(release)
        if slug is not None:
            sync_formation(app, slug, self.clock())
        return release

    def eligible_for_rollback(self, app: App, release: Release) -> bool:
        """A succeeded release with a slug that is not the current one."""
        return (
            release.slug_id is not None
            and release.status == "succeeded"
            and release is not app.current_release
        )

    def update_config(
        self, app: App, changes: Mapping[str, Any], description: str | None = None
    ) -> Release | None:
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
        description = description or self._config_text(app.config, new_config)
        app.config = new_config
        current = app.current_release
        slug_id = current.slug_id if current else None
        return self._new_release(app, slug_id, dict(new_config), description)

    def _check_config(self, changes: Mapping[str, Any]) -> None:
        for key, value in changes.items():
            if not CONFIG_KEY_PATTERN.match(key):
                raise invalid(f"Invalid config var name {key!r}: use letters, digits and underscores.")
            if value is not None and not isinstance(value, str):
                raise invalid(f"Config var {key} must be a string or null.")

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
        newest = app.releases[-1] if app.releases else None  # failed ones count: versions never repeat
        release = Release(
            id=new_id(),
            version=(newest.version + 1) if newest else 1,
            description=description,
            slug_id=slug_id,
            config=config,
            created_at=now,
            addon_plan_names=[a.plan_name for a in app.addons],
        )
        app.releases.append(release)
        app.updated_at = now
        return release
