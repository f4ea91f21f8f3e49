"""The emulator's in-memory platform: all apps of the one account, with Heroku's rules for changing them.

Pure data plus rules (Heroku's Platform API reference and the published
schema), no I/O: the HTTP layer (`api.py`) parses requests and renders JSON,
the controller (`control.py`) applies the results to running dynos. Every rule
violation is an `ApiError` carrying the status, Heroku error id and message the
API answers with, so the rules can be unit-tested without a socket.

`Platform` holds apps and add-ons here; releases and config vars come from
`ReleaseRules` (`releases.py`), formation from `FormationRules` (`scaling.py`);
the records themselves are in `models.py`, dyno sizes in `sizes.py`.
"""

from __future__ import annotations

import re
import uuid

from harness.emulator.api_error import invalid, not_found
from harness.emulator.models import (
    DEFAULT_REGION,
    DEFAULT_STACK,
    Account,
    AddOn,
    AddOnPlan,
    App,
    Clock,
    Slug,
    new_id,
    utc_now,
)
from harness.emulator.releases import ReleaseRules
from harness.emulator.scaling import FormationRules

__all__ = ["Platform"]

APP_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")


class Platform(ReleaseRules, FormationRules):
    """All apps of the one account, with Heroku's rules for changing them."""

    def __init__(self, *, account: Account | None = None, clock: Clock = utc_now) -> None:
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
        app = App(id=new_id(), name=name, created_at=now, updated_at=now)
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
        raise not_found("app")

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
            raise invalid(
                "Name must start with a letter, end with a letter or digit and can only contain "
                "lowercase letters, digits, and dashes (3 to 30 characters)."
            )
        if any(a.name == name for a in self.apps.values()):
            raise invalid("Name is already taken")

    def _generated_name(self) -> str:
        for _ in range(100):
            name = f"emulated-app-{uuid.uuid4().hex[:6]}"
            if not any(a.name == name for a in self.apps.values()):
                return name
        raise RuntimeError("could not generate a free app name")

    # -- add-ons ------------------------------------------------------------

    def add_addon(
        self,
        app: App,
        plan: AddOnPlan,
        *,
        addon_id: str | None = None,
        attachments: list[str] | None = None,
        provision_message: str | None = None,
        apply_config: bool = True,
    ) -> AddOn:
        """Record an add-on; with `apply_config`, set its config vars without a release (app creation)."""
        addon = AddOn(
            id=addon_id or new_id(),
            name=f"{plan.service.split('-')[-1]}-{uuid.uuid4().hex[:8]}",
            service_name=plan.service,
            plan_name=f"{plan.service}:{plan.plan}",
            price_cents=plan.price_cents,
            config_vars=sorted(plan.config),
            created_at=self.clock(),
            attachments=list(attachments or [v.removesuffix("_URL") for v in sorted(plan.config)]),
        )
        if provision_message is not None:
            addon.provision_message = provision_message
        app.addons.append(addon)
        if apply_config:
            app.config.update(plan.config)
        return addon

    def find_addon(self, app: App, identity: str) -> AddOn:
        """An add-on of `app` by id or name; 404 "Couldn't find that add-on." otherwise."""
        for addon in app.addons:
            if identity in (addon.id, addon.name):
                return addon
        raise not_found("add-on")

    def remove_addon(self, app: App, addon_id: str) -> None:
        """Forget an add-on, if recorded (its config vars are removed by the caller, with a release)."""
        app.addons = [a for a in app.addons if a.id != addon_id]
